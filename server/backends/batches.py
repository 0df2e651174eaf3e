"""Batches: stage typed requests as Vertex JSONL in Cloud Storage, run a batchPredictionJob,
and read its output back as typed results matched to the caller's ids.

A batch is its Vertex job; its name carries the job's location ("batches/us-east5-123..."), so
the gateway keeps no state of its own. What reading results needs (the caller's ids in row
order, the JSON-output tool of Claude rows) is written next to the input as `manifest.json`;
the job's labels point to it.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc
import orjson
from google.protobuf import json_format
from vertex_gateway.v1 import batch_pb2

from server.config import StorageConfig
from server.errors import (
    FieldViolation,
    GatewayError,
    invalid_argument,
    invalid_request,
    upstream_malformed,
)
from server.routing.registry import Family
from server.routing.router import Route, Router, vertex_resource
from server.translate import batch_jobs, batch_lines
from server.translate.labels import label_problems
from server.vertex.client import Deadline, VertexClient
from server.vertex.gcs import GcsClient, parse_uri
from server.vertex.urls import VertexTarget, collection_url

from . import vertex_jobs
from .files import FileStore, storage_unconfigured
from .jsonl import LineTooLong, numbered_lines

_NAME = re.compile(r"^batches/([a-z][a-z0-9-]*)-([0-9]+)$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{1,63}$")
RESULTS_PER_MESSAGE = 100
# The longest line of Vertex's batch output read back (a reply with its request echoed).
MAX_RESULT_LINE_BYTES = 256 * 1024 * 1024
MAX_LISTED_PROBLEMS = 100
STAGING_PIECE = 1024 * 1024
FAMILIES = (Family.GEMINI, Family.CLAUDE, Family.TEXT_EMBEDDING)
JOBS = vertex_jobs.JobKind("batch", "batch", batch_jobs.TERMINAL, batch_jobs.MARK)


def parse_name(name: str) -> tuple[str, str]:
    """(location, Vertex job id) of "batches/{location}-{id}"."""
    match = _NAME.match(name)
    if match is None:
        raise invalid_argument("name", 'must be "batches/{id}" as CreateBatch returned it')
    return match.group(1), match.group(2)


class BatchStore:
    """CreateBatch, GetBatch, ListBatches, CancelBatch, ListBatchResults."""

    def __init__(
        self,
        client: VertexClient,
        target_for: Callable[[str], VertexTarget],
        gcs: GcsClient,
        files: FileStore,
        storage: StorageConfig,
        router: Router,
    ) -> None:
        self._client = client
        self._target_for = target_for
        self._gcs = gcs
        self._files = files
        self._storage = storage
        self._router = router
        self._jobs = vertex_jobs.GatewayJobs(client, JOBS, self._jobs_url, parse_name)

    # -- helpers --------------------------------------------------------------------------
    def _jobs_url(self, location: str) -> str:
        return collection_url(self._target_for(location), "batchPredictionJobs")

    def _locations(self) -> list[str]:
        places = {self._router.default_location}
        for spec in self._router.registry.all():
            if spec.location and spec.family in FAMILIES:
                places.add(spec.location)
        return sorted(places)

    @property
    def _bucket(self) -> str:
        if self._storage.bucket is None:
            raise storage_unconfigured()
        return self._storage.bucket

    def _same_model(self, route: Route) -> Callable[[str], bool]:
        def same(model: str) -> bool:
            spec = self._router.lookup(model)
            return spec is not None and spec.key == route.spec.key

        return same

    # -- create ---------------------------------------------------------------------------
    async def _items(
        self, request: batch_pb2.CreateBatchRequest, deadline: Deadline
    ) -> tuple[list[batch_pb2.BatchItem], str]:
        if bool(request.requests) == bool(request.input_file):
            raise invalid_argument(
                "requests", "give the requests inline or as input_file, one of the two"
            )
        if request.requests:
            return list(request.requests), "requests"
        _, obj = await self._files.stat(request.input_file, deadline.remaining(), "input_file")
        limit = self._storage.max_batch_input_bytes
        if obj.size > limit:
            raise invalid_argument(
                "input_file",
                f"is {obj.size} bytes; a batch input file may be at most {limit} bytes"
                " (storage.max_batch_input_bytes): split it into several batches",
            )
        data = await self._gcs.read_all(self._bucket, obj.name, deadline)
        items: list[batch_pb2.BatchItem] = []
        problems: list[FieldViolation] = []
        for number, raw in enumerate(data.splitlines(), start=1):
            if not raw.strip():
                continue
            item = batch_pb2.BatchItem()
            try:
                json_format.Parse(raw, item)
            except (json_format.ParseError, UnicodeDecodeError) as exc:
                problems.append(
                    FieldViolation(f"input_file line {number}", f"is not a BatchItem: {exc}")
                )
                continue
            items.append(item)
        if problems:
            raise invalid_request(problems[:MAX_LISTED_PROBLEMS])
        return items, "input_file lines"

    def _check_request(self, request: batch_pb2.CreateBatchRequest) -> None:
        problems = label_problems(request.labels)
        for key in request.labels:
            if key.startswith(batch_jobs.RESERVED_PREFIX):
                problems.append(
                    FieldViolation(
                        f"labels[{key!r}]", "keys starting with vertex-gateway are reserved"
                    )
                )
        if len(request.display_name) > 128:
            problems.append(FieldViolation("display_name", "is longer than 128 characters"))
        if request.request_id and not _LABEL_VALUE.match(request.request_id):
            problems.append(
                FieldViolation(
                    "request_id", "must be a lowercase UUID (up to 63 of a-z, 0-9, - and _)"
                )
            )
        if problems:
            raise invalid_request(problems)

    async def create(
        self, request: batch_pb2.CreateBatchRequest, route: Route, remaining: float | None
    ) -> batch_pb2.Batch:
        """Validate every request, stage the lines, create the job."""
        bucket = self._bucket
        if route.spec.family not in FAMILIES:
            raise invalid_argument(
                "model",
                f"{route.name} cannot run in a batch (Gemini, Claude and text embedding models can)",
            )
        self._check_request(request)
        deadline = self._client.deadline(remaining)
        items, where = await self._items(request, deadline)
        if not items:
            raise invalid_argument("requests", "the batch has no requests")
        staged, problems = batch_lines.stage(
            items,
            route.spec,
            self._same_model(route),
            where="requests" if where == "requests" else "input_file",
        )
        if problems:
            shown = problems[:MAX_LISTED_PROBLEMS]
            if len(problems) > len(shown):
                shown.append(
                    FieldViolation(
                        "requests", f"... and {len(problems) - len(shown)} more problems"
                    )
                )
            raise invalid_request(shown)
        jobs_url = self._jobs_url(route.location)
        if request.request_id:
            earlier = await self._find_request(jobs_url, request.request_id, deadline)
            if earlier is not None:
                return batch_jobs.to_batch(earlier, route.location)
        staging = uuid.uuid4().hex
        base = f"{self._storage.prefix}batches/{staging}"
        await self._gcs.write(
            bucket,
            f"{base}/input.jsonl",
            "application/octet-stream",
            _jsonl(staged.lines),
            deadline,
        )
        manifest = {"ids": staged.ids, "kind": staged.kind, "family": route.spec.family.value,
                    "json_tools": {str(k): v for k, v in staged.json_tools.items()}}  # fmt: skip
        await self._gcs.write(
            bucket,
            f"{base}/manifest.json",
            "application/json",
            _once(orjson.dumps(manifest)),
            deadline,
        )
        labels = dict(request.labels)
        labels.update(
            {
                batch_jobs.MARK: "batch",
                batch_jobs.INPUT: staging,
                batch_jobs.TOTAL: str(len(staged.ids)),
            }
        )
        encoded = batch_jobs.encode_model(request.model)
        if encoded is not None:
            labels[batch_jobs.MODEL] = encoded
        if request.input_file:
            labels[batch_jobs.FILE] = request.input_file.removeprefix("files/")
        if request.request_id:
            labels[batch_jobs.REQUEST_ID] = request.request_id
        labels.update(vertex_jobs.owner_labels())
        body: dict[str, Any] = {
            "displayName": request.display_name or f"vertex-gateway-{staging[:12]}",
            "model": vertex_resource(route.spec),
            "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": [f"gs://{bucket}/{base}/input.jsonl"]}},
            "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": f"gs://{bucket}/{base}/output"}},
            "labels": labels,
        }  # fmt: skip
        if staged.model_parameters:
            body["modelParameters"] = staged.model_parameters
        # Not retried: a job Vertex created before failing to answer would run twice.
        job = await self._client.call_json(jobs_url, body, deadline, resource=True, retry=False)
        return batch_jobs.to_batch(job, route.location)

    async def _find_request(
        self, jobs_url: str, request_id: str, deadline: Deadline
    ) -> dict[str, Any] | None:
        # Another caller's request id is another request: only the caller's own jobs match.
        filter_ = f'labels.{batch_jobs.REQUEST_ID}="{request_id}"' + vertex_jobs.owner_filter()
        page = await self._client.get_json(
            vertex_jobs.filtered_list_url(jobs_url, 10, "", filter_), deadline
        )
        jobs = vertex_jobs.ours(
            JOBS, page.get("batchPredictionJobs") if isinstance(page, dict) else None
        )
        return jobs[0] if jobs else None

    # -- read -----------------------------------------------------------------------------
    async def get(self, name: str, remaining: float | None) -> batch_pb2.Batch:
        """The batch as its job stands now."""
        location, job = await self._jobs.get(name, self._client.deadline(remaining))
        return batch_jobs.to_batch(job, location)

    async def cancel(self, name: str, remaining: float | None) -> batch_pb2.Batch:
        """Ask Vertex to stop the job; FAILED_PRECONDITION once it has ended."""
        location, job = await self._jobs.cancel(name, self._client.deadline(remaining))
        return batch_jobs.to_batch(job, location)

    async def list(
        self, request: batch_pb2.ListBatchesRequest, remaining: float | None
    ) -> batch_pb2.ListBatchesResponse:
        """A page of the gateway's batches, location by location."""
        listing = vertex_jobs.listing(JOBS, request.page_size, request.states, request.page_token)
        where = vertex_jobs.token_count(listing.resume, "l")
        vertex_token = str(listing.resume.get("t", ""))
        locations = self._locations()
        deadline = self._client.deadline(remaining)
        reply = batch_pb2.ListBatchesResponse()
        while where < len(locations) and len(reply.batches) < listing.size:
            location = locations[where]
            url = listing.url(
                self._jobs_url(location), listing.size - len(reply.batches), vertex_token
            )
            page = await self._client.get_json(url, deadline, resource=True)
            for job in vertex_jobs.ours(JOBS, page.get("batchPredictionJobs")):
                reply.batches.append(batch_jobs.to_batch(job, location))
            vertex_token = str(page.get("nextPageToken") or "")
            if not vertex_token:
                where += 1
        if where < len(locations):
            reply.next_page_token = listing.next_token(l=where, t=vertex_token)
        return reply

    # -- results --------------------------------------------------------------------------
    async def results(
        self, request: batch_pb2.ListBatchResultsRequest, remaining: float | None
    ) -> AsyncIterator[batch_pb2.ListBatchResultsResponse]:
        """Every request's outcome exactly once: the output lines, then the rows Vertex never
        answered, in messages of up to 100 results."""
        if request.page_size < 0:
            raise invalid_argument("page_size", "must not be negative")
        skip_lines, skip_missing = 0, 0
        if request.page_token:
            data = vertex_jobs.decode_token(request.page_token)
            if data.get("b") != request.name:
                raise invalid_argument("page_token", "belongs to another batch")
            skip_lines = vertex_jobs.token_count(data, "n")
            skip_missing = vertex_jobs.token_count(data, "m")
        deadline = self._client.deadline(remaining)
        location, job = await self._jobs.get(request.name, deadline)
        state = str(job.get("state") or "")
        if state not in batch_jobs.TERMINAL:
            raise GatewayError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"batch {request.name!r} is {state}; results can be read once it has ended",
                "BATCH_NOT_ENDED",
                metadata={"batch": request.name, "state": state},
            )
        bucket = self._bucket
        staging = str(job["labels"].get(batch_jobs.INPUT, ""))
        base = f"{self._storage.prefix}batches/{staging}"
        manifest = orjson.loads(await self._gcs.read_all(bucket, f"{base}/manifest.json", deadline))
        ids: list[str] = manifest["ids"]
        family = Family(manifest["family"])
        json_tools: dict[str, str] = manifest.get("json_tools") or {}
        batch = batch_jobs.to_batch(job, location)
        served_by, model = batch.served_by, batch.model
        pending_by_instance: dict[str, deque[int]] = defaultdict(deque)
        if family is Family.TEXT_EMBEDDING:
            raw_input = await self._gcs.read_all(bucket, f"{base}/input.jsonl", deadline)
            for index, raw_line in enumerate(raw_input.splitlines()):
                pending_by_instance[batch_lines.canonical(orjson.loads(raw_line))].append(index)
        limit = request.page_size or None
        sent = 0
        seen: set[int] = set()
        consumed = 0
        out = batch_pb2.ListBatchResultsResponse()

        def token(lines: int, missing: int) -> str:
            return vertex_jobs.encode_token({"b": request.name, "n": lines, "m": missing})

        async for line in self._output_lines(job, deadline):
            consumed += 1
            row: int | None
            if family is Family.TEXT_EMBEDDING:
                queue = pending_by_instance.get(batch_lines.canonical(line.get("instance")))
                row = queue.popleft() if queue else None
            else:
                row = batch_lines.row_of(line, family)
            if row is None or not 0 <= row < len(ids) or row in seen:
                continue
            seen.add(row)
            if consumed <= skip_lines:
                continue
            result = batch_lines.result_of(line, family, model, json_tools.get(str(row)), served_by)
            result.id = ids[row]
            out.results.append(result)
            sent += 1
            if limit is not None and sent >= limit:
                out.next_page_token = token(consumed, 0)
                yield out
                return
            if len(out.results) >= RESULTS_PER_MESSAGE:
                yield out
                out = batch_pb2.ListBatchResultsResponse()
        missing = [row for row in range(len(ids)) if row not in seen]
        for index, row in enumerate(missing):
            if index < skip_missing:
                continue
            out.results.add(id=ids[row], error=batch_lines.not_answered(state))
            sent += 1
            if limit is not None and sent >= limit and index + 1 < len(missing):
                out.next_page_token = token(consumed, index + 1)
                yield out
                return
            if len(out.results) >= RESULTS_PER_MESSAGE:
                yield out
                out = batch_pb2.ListBatchResultsResponse()
        if out.results or sent == 0:
            yield out

    async def _output_lines(
        self, job: dict[str, Any], deadline: Deadline
    ) -> AsyncIterator[dict[str, Any]]:
        info = job.get("outputInfo") or {}
        directory = info.get("gcsOutputDirectory") if isinstance(info, dict) else None
        if not directory:
            return
        bucket, prefix = parse_uri(str(directory).rstrip("/") + "/")
        for obj in await self._gcs.list(bucket, prefix, deadline):
            if not obj.name.endswith(".jsonl"):
                continue
            chunks = self._gcs.read(bucket, obj.name, deadline)
            try:
                async for _, raw in numbered_lines(chunks, MAX_RESULT_LINE_BYTES):
                    parsed = _parse(raw)
                    if parsed is not None:
                        yield parsed
            except LineTooLong as exc:
                raise upstream_malformed(f"batch output {obj.name}: {exc}") from None


def _parse(raw: bytes) -> dict[str, Any] | None:
    if not raw.strip():
        return None
    try:
        value = orjson.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


async def _jsonl(lines: Sequence[dict[str, Any]]) -> AsyncIterator[bytes]:
    piece = bytearray()
    for line in lines:
        piece += orjson.dumps(line) + b"\n"
        if len(piece) >= STAGING_PIECE:
            yield bytes(piece)
            piece.clear()
    if piece:
        yield bytes(piece)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
