"""Helpers for the batch prediction tests (a uniquely named module, so it never clashes)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from emu_helpers import Emulator

from emulator.gcs import GcsClient, GcsUri
from emulator.storage_process import DEFAULT_BUCKET

TEST_STEP_SECONDS = 0.02
PARENT = "projects/test-project/locations/us-central1"
GEMINI = "publishers/google/models/gemini-2.5-flash"
CLAUDE = "publishers/anthropic/models/claude-sonnet-4-5@20250929"
EMBEDDING = "publishers/google/models/text-embedding-005"
TERMINAL = (
    "JOB_STATE_SUCCEEDED",
    "JOB_STATE_FAILED",
    "JOB_STATE_CANCELLED",
    "JOB_STATE_PARTIALLY_SUCCEEDED",
)


@dataclass
class BatchEmulator(Emulator):
    """The batch-enabled test emulator and its Cloud Storage."""

    storage_url: str = ""

    def jobs_url(self, suffix: str = "", *, version: str = "v1", parent: str = PARENT) -> str:
        """The batchPredictionJobs collection URL (plus ``suffix``)."""
        return f"{self.base_url}/{version}/{parent}/batchPredictionJobs{suffix}"

    def gcs(self) -> GcsClient:
        """A Cloud Storage client (use with ``async with``)."""
        return GcsClient(self.storage_url)

    async def upload(self, lines: list[Any], *, raw: list[str] | None = None) -> str:
        """Write JSONL (each item dumped, then ``raw`` lines as they are) to a fresh object;
        returns its gs:// URI."""
        text = [json.dumps(line) for line in lines] + (raw or [])
        uri = GcsUri(DEFAULT_BUCKET, f"batch-tests/{uuid.uuid4().hex}/input.jsonl")
        async with self.gcs() as gcs:
            await gcs.write_object(uri, ("\n".join(text) + "\n").encode())
        return str(uri)

    async def create(self, body: dict[str, Any], **kwargs: Any) -> tuple[int, Any]:
        """POST a create body; returns (status, JSON)."""
        status, payload, _ = await self.post(self.jobs_url(**kwargs), body)
        return status, payload

    async def get(self, url: str, **query: str) -> tuple[int, Any]:
        """GET with the bearer token; returns (status, JSON or text)."""
        async with self.http.get(url, params=query, headers=self.auth()) as resp:
            text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text

    async def job(self, name: str) -> dict[str, Any]:
        """GET a job by its resource name."""
        status, job = await self.get(f"{self.base_url}/v1/{name}")
        assert status == 200, job
        result: dict[str, Any] = job
        return result

    async def wait(self, name: str, *states: str, timeout: float = 10.0) -> dict[str, Any]:
        """Poll until the job is in one of ``states`` (default: any terminal state)."""
        wanted = states or TERMINAL
        deadline = time.monotonic() + timeout
        while True:
            job = await self.job(name)
            if job["state"] in wanted:
                return job
            assert time.monotonic() < deadline, f"still {job['state']}: {job}"
            await asyncio.sleep(0.01)

    async def run(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a job and wait for it to finish."""
        status, job = await self.create(body)
        assert status == 200, job
        return await self.wait(job["name"])

    async def output_files(self, job: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """Every output object of a job: name → parsed lines."""
        directory = GcsUri.parse(job["outputInfo"]["gcsOutputDirectory"])
        out: dict[str, list[dict[str, Any]]] = {}
        async with self.gcs() as gcs:
            for item in await gcs.list_objects(directory.bucket, directory.name + "/"):
                data = await gcs.read_object(GcsUri(directory.bucket, item["name"]))
                out[item["name"]] = [json.loads(line) for line in data.decode().splitlines()]
        return out

    async def output_lines(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        """Every output line of a job, files in name order."""
        files = await self.output_files(job)
        return [line for name in sorted(files) for line in files[name]]


def job_body(
    uri: str | list[str], model: str = GEMINI, prefix: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A valid create body reading ``uri`` (one or more)."""
    uris = [uri] if isinstance(uri, str) else uri
    return {
        "displayName": "emulator-test",
        "model": model,
        "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": uris}},
        "outputConfig": {
            "predictionsFormat": "jsonl",
            "gcsDestination": {
                "outputUriPrefix": prefix or f"gs://{DEFAULT_BUCKET}/batch-out/{uuid.uuid4().hex}/"
            },
        },
        **extra,
    }


def gemini_line(row: int, text: str | None = None) -> dict[str, Any]:
    """A Gemini input line tagged with its row, as the gateway writes them."""
    return {
        "request": {
            "contents": [{"role": "user", "parts": [{"text": text or f"Summarize item {row}"}]}],
            "labels": {"vertex-gateway-row": str(row)},
        }
    }


def claude_line(row: int, text: str | None = None) -> dict[str, Any]:
    """A Claude input line whose custom_id is the row."""
    return {
        "custom_id": str(row),
        "request": {
            "anthropic_version": "vertex-2023-10-16",
            "max_tokens": 256,
            "messages": [{"role": "user", "content": text or f"Describe item {row}"}],
        },
    }


def row_of(line: dict[str, Any]) -> int:
    """The row a Gemini output line answers."""
    return int(line["request"]["labels"]["vertex-gateway-row"])
