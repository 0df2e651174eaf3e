"""Supervised tuning jobs: check and convert typed examples, stage them in Cloud Storage as
Vertex's tuning JSONL, run a `tuningJobs` job, and map it back.

A tuning job is its Vertex job; its name carries the job's location ("tuningJobs/us-central1-
123..."), so the gateway keeps no state. Jobs run in the gateway's default location, where
model discovery lists the endpoints they create and where Chat calls `endpoints/{id}`.
Examples from an uploaded file are read twice, once to check them all and once to convert and
stage them, so a file of any size passes in bounded memory and nothing is uploaded for a
request with a bad example.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from vertex_gateway.v1 import common_pb2, file_pb2, tuning_pb2

from server.config import StorageConfig
from server.errors import FieldViolation, GatewayError, invalid_argument, invalid_request
from server.routing.registry import ModelSpec
from server.routing.router import Route
from server.translate import tuning
from server.vertex.client import Deadline, VertexClient
from server.vertex.gcs import GcsClient
from server.vertex.urls import VertexTarget, collection_url

from . import vertex_jobs
from .files import FileStore, storage_unconfigured
from .jsonl import LineTooLong, numbered_lines
from .model_discovery import ModelDiscovery

_NAME = re.compile(r"^tuningJobs/([a-z][a-z0-9-]{0,62})-([0-9]{1,19})$")
MAX_LISTED_PROBLEMS = 100
STAGING_PIECE = 1024 * 1024
# The longest example line of an uploaded dataset (an example with inline media stays far below).
MAX_LINE_BYTES = 32 * 1024 * 1024
JOBS = vertex_jobs.JobKind(
    "tuning job", "tuning_job", tuning.TERMINAL, tuning.MARK, mark_value=tuning.MARK_VALUE
)


def parse_name(name: str) -> tuple[str, str]:
    """(location, Vertex job id) of "tuningJobs/{location}-{id}"."""
    match = _NAME.match(name)
    if match is None:
        raise invalid_argument("name", 'must be "tuningJobs/{id}" as CreateTuningJob returned it')
    return match.group(1), match.group(2)


@dataclass
class _Source:
    """Where one dataset's examples come from."""

    field: str  # "training" or "validation"
    inline: list[tuning_pb2.TuningExample]
    file: str
    bucket: str = ""
    obj: str = ""

    @property
    def given(self) -> bool:
        return bool(self.inline or self.file)


class TuningStore:
    """CreateTuningJob, GetTuningJob, ListTuningJobs, CancelTuningJob."""

    def __init__(
        self,
        client: VertexClient,
        target_for: Callable[[str], VertexTarget],
        gcs: GcsClient,
        files: FileStore,
        storage: StorageConfig,
        location: str,
        discovery: ModelDiscovery | None = None,
    ) -> None:
        self._client = client
        self._target_for = target_for
        self._gcs = gcs
        self._files = files
        self._storage = storage
        self._location = location
        self._discovery = discovery
        self._jobs = vertex_jobs.GatewayJobs(client, JOBS, self._jobs_url, parse_name)

    @property
    def _bucket(self) -> str:
        if self._storage.bucket is None:
            raise storage_unconfigured()
        return self._storage.bucket

    def _jobs_url(self, location: str) -> str:
        return collection_url(self._target_for(location), "tuningJobs")

    # -- create ---------------------------------------------------------------------------
    async def create(
        self, request: tuning_pb2.CreateTuningJobRequest, route: Route, remaining: float | None
    ) -> tuning_pb2.TuningJob:
        """Check everything, stage the data, create the job."""
        bucket = self._bucket
        spec = route.spec
        deadline = self._client.deadline(remaining)
        problems = tuning.setting_problems(request, spec)
        sources = [
            _Source("training", list(request.training_examples), request.training_file),
            _Source("validation", list(request.validation_examples), request.validation_file),
        ]
        for source in sources:
            if source.given:
                problems += await self._check(source, spec, deadline)
        if problems:
            shown = problems[:MAX_LISTED_PROBLEMS]
            if len(problems) > len(shown):
                more = len(problems) - len(shown)
                shown.append(FieldViolation("training_examples", f"... and {more} more problems"))
            raise invalid_request(shown)
        staging = uuid.uuid4().hex
        base = f"{self._storage.prefix}tuning/{staging}"
        uris = {"training": "", "validation": ""}
        for source, object_name in zip(sources, ("train.jsonl", "validation.jsonl"), strict=True):
            if not source.given:
                continue
            await self._gcs.write(
                bucket,
                f"{base}/{object_name}",
                "application/jsonl",
                self._lines(source, spec, deadline),
                deadline,
            )
            uris[source.field] = f"gs://{bucket}/{base}/{object_name}"
        body = tuning.to_tuning_job_body(
            request, spec, uris["training"], uris["validation"], staging
        )
        body["labels"].update(vertex_jobs.owner_labels())
        # Not retried: a job Vertex created before failing to answer would run twice.
        job = await self._client.call_json(
            self._jobs_url(self._location), body, deadline, resource=True, retry=False
        )
        return tuning.to_tuning_job(job, self._location)

    async def _check(
        self, source: _Source, spec: ModelSpec, deadline: Deadline
    ) -> list[FieldViolation]:
        """Every problem of one dataset; an uploaded file is read through once."""
        if source.inline:
            return tuning.stage(source.inline, spec, f"{source.field}_examples")[1]
        field = f"{source.field}_file"
        ident, obj = await self._files.stat(source.file, deadline.remaining(), field)
        purpose = self._files.to_file(ident, obj).purpose
        if purpose != file_pb2.FILE_PURPOSE_TUNING_DATA:
            return [FieldViolation(field, "must be a file uploaded for FILE_PURPOSE_TUNING_DATA")]
        source.bucket, source.obj = obj.bucket or self._bucket, obj.name
        problems: list[FieldViolation] = []
        count = 0
        async for number, raw in self._file_lines(source, deadline):
            at = f"{field}[{count}]"
            count += 1
            try:
                tuning.example_line(tuning.parse_example(raw), spec)
            except ValueError as exc:
                problems.append(FieldViolation(at, f"(line {number}) {exc}"))
            except GatewayError as err:
                problems += tuning.prefixed(err, at, f"(line {number}) ")
            if len(problems) > MAX_LISTED_PROBLEMS:
                break
        if count == 0:
            problems.append(FieldViolation(field, "holds no examples"))
        elif source.field == "validation" and count > tuning.MAX_VALIDATION_EXAMPLES:
            problems.append(
                FieldViolation(field, f"holds more than {tuning.MAX_VALIDATION_EXAMPLES} examples")
            )
        return problems

    async def _file_lines(
        self, source: _Source, deadline: Deadline
    ) -> AsyncIterator[tuple[int, bytes]]:
        """(1-based line number, line) of every non-blank line of an uploaded file."""
        chunks = self._gcs.read(source.bucket, source.obj, deadline)
        try:
            async for number, line in numbered_lines(chunks, MAX_LINE_BYTES):
                yield number, line
        except LineTooLong as exc:
            raise invalid_argument(
                f"{source.field}_file", f"{exc} (one JSON example per line)"
            ) from None

    async def _lines(
        self, source: _Source, spec: ModelSpec, deadline: Deadline
    ) -> AsyncIterator[bytes]:
        """The dataset as Vertex's JSONL, in pieces of about 1 MiB (the examples were checked)."""
        piece = bytearray()
        async for example in self._examples(source, deadline):
            piece += orjson.dumps(tuning.example_line(example, spec)) + b"\n"
            if len(piece) >= STAGING_PIECE:
                yield bytes(piece)
                piece.clear()
        if piece:
            yield bytes(piece)

    async def _examples(
        self, source: _Source, deadline: Deadline
    ) -> AsyncIterator[tuning_pb2.TuningExample]:
        if source.inline:
            for example in source.inline:
                yield example
            return
        async for _, raw in self._file_lines(source, deadline):
            yield tuning.parse_example(raw)

    # -- read -----------------------------------------------------------------------------
    def _typed(self, job: Any, location: str) -> tuning_pb2.TuningJob:
        out = tuning.to_tuning_job(job, location)
        self._notice(out)
        return out

    def _notice(self, job: tuning_pb2.TuningJob) -> None:
        """Have ListModels read Vertex's endpoints again when a job made one it has not seen."""
        if self._discovery is None or job.state != common_pb2.JOB_STATE_SUCCEEDED:
            return
        if not job.tuned_model:
            return
        known = {
            str(e.get("name", "")).rsplit("/", 1)[-1]
            for e in self._discovery.known.endpoints
            if isinstance(e, dict)
        }
        if job.tuned_model.removeprefix("endpoints/") not in known:
            self._discovery.invalidate()

    async def get(self, name: str, remaining: float | None) -> tuning_pb2.TuningJob:
        """The job as it stands now."""
        location, job = await self._jobs.get(name, self._client.deadline(remaining))
        return self._typed(job, location)

    async def cancel(self, name: str, remaining: float | None) -> tuning_pb2.TuningJob:
        """Ask Vertex to stop the job; FAILED_PRECONDITION once it has ended."""
        location, job = await self._jobs.cancel(name, self._client.deadline(remaining))
        return self._typed(job, location)

    async def list(
        self, request: tuning_pb2.ListTuningJobsRequest, remaining: float | None
    ) -> tuning_pb2.ListTuningJobsResponse:
        """A page of the gateway's tuning jobs, newest first."""
        listing = vertex_jobs.listing(JOBS, request.page_size, request.states, request.page_token)
        url = listing.url(
            self._jobs_url(self._location), listing.size, str(listing.resume.get("t", ""))
        )
        page = await self._client.get_json(url, self._client.deadline(remaining))
        reply = tuning_pb2.ListTuningJobsResponse()
        jobs = page.get("tuningJobs") if isinstance(page, dict) else None
        for job in vertex_jobs.ours(JOBS, jobs):
            reply.tuning_jobs.append(self._typed(job, self._location))
        token = page.get("nextPageToken") if isinstance(page, dict) else None
        if isinstance(token, str) and token:
            reply.next_page_token = listing.next_token(t=token)
        return reply
