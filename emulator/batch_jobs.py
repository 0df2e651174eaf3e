"""Batch prediction jobs: the resource, its states, and the store the emulator keeps them in.

A job's JSON follows the discovery document's ``BatchPredictionJob`` (vertex-wire.md §8.2):
int64 counts are strings, zero counts and unset fields are left out (proto3 JSON), timestamps are
RFC 3339 UTC with microseconds. Names carry the project *number*, as Google's do; the number is
derived from the project id (``project_number``), and paths may use either. Tuning jobs share
the states and what ``JobLifecycle`` does with them.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from emulator.catalog import ModelInfo
from emulator.job_store import JobStore


class JobState(StrEnum):
    """``JobState`` values the emulator's jobs pass through."""

    QUEUED = "JOB_STATE_QUEUED"
    PENDING = "JOB_STATE_PENDING"
    RUNNING = "JOB_STATE_RUNNING"
    SUCCEEDED = "JOB_STATE_SUCCEEDED"
    FAILED = "JOB_STATE_FAILED"
    CANCELLING = "JOB_STATE_CANCELLING"
    CANCELLED = "JOB_STATE_CANCELLED"
    PARTIALLY_SUCCEEDED = "JOB_STATE_PARTIALLY_SUCCEEDED"


TERMINAL_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.PARTIALLY_SUCCEEDED}
)


class LineKind(StrEnum):
    """Which line format a job's model reads and writes (``batch_lines.py``)."""

    GEMINI = "gemini"
    CLAUDE = "claude"
    EMBEDDING = "embedding"


def timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, as Google writes ``createTime``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def project_number(project: str) -> str:
    """The project number Vertex puts in resource names: the id itself when it is numeric, else a
    stable 12-digit number derived from it."""
    if project.isdigit():
        return project
    digest = int.from_bytes(hashlib.sha256(project.encode()).digest()[:8], "big")
    return str(100_000_000_000 + digest % 900_000_000_000)


class JobLifecycle:
    """What batch prediction and tuning jobs do alike with their parent, labels, state and
    times. Mixed into their dataclasses, which declare these fields."""

    project: str
    location: str
    spec: dict[str, Any]
    state: JobState
    create_time: datetime
    update_time: datetime | None
    start_time: datetime | None
    end_time: datetime | None

    @property
    def project_number(self) -> str:
        """The number used in the job's name."""
        return project_number(self.project)

    @property
    def parent(self) -> str:
        """``projects/{number}/locations/{l}``."""
        return f"projects/{self.project_number}/locations/{self.location}"

    @property
    def labels(self) -> dict[str, str]:
        """The job's labels ({} when none)."""
        labels = self.spec.get("labels")
        return labels if isinstance(labels, dict) else {}

    @property
    def done(self) -> bool:
        """True in a terminal state."""
        return self.state in TERMINAL_STATES

    @property
    def cancel_requested(self) -> bool:
        """True once a cancel was accepted and the job has not stopped yet."""
        return self.state is JobState.CANCELLING

    def belongs_to(self, project: str, location: str) -> bool:
        """True when a path's project (id or number) and location name this job's parent."""
        return location == self.location and project in (self.project, self.project_number)

    def touch(self, state: JobState | None = None) -> None:
        """Record a change (and optionally a new state) now."""
        if state is not None:
            self.state = state
        self.update_time = datetime.now(UTC)

    def times_json(self) -> dict[str, str]:
        """``createTime``, ``startTime?``, ``endTime?``, ``updateTime``, as the resource has
        them."""
        out = {"createTime": timestamp(self.create_time)}
        if self.start_time is not None:
            out["startTime"] = timestamp(self.start_time)
        if self.end_time is not None:
            out["endTime"] = timestamp(self.end_time)
        out["updateTime"] = timestamp(self.update_time or self.create_time)
        return out


@dataclass
class BatchJob(JobLifecycle):
    """One batch prediction job and its progress."""

    job_id: str
    seq: int
    project: str
    location: str
    version: str
    kind: LineKind
    model: ModelInfo
    # The create body less output-only fields, camelCase (displayName, model, inputConfig, ...).
    spec: dict[str, Any]
    create_time: datetime
    state: JobState = JobState.PENDING
    update_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    total: int | None = None
    successful: int = 0
    failed: int = 0
    output_directory: str | None = None
    error: dict[str, Any] | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """``projects/{number}/locations/{l}/batchPredictionJobs/{id}``."""
        return f"{self.parent}/batchPredictionJobs/{self.job_id}"

    @property
    def display_name(self) -> str:
        """The caller's display name."""
        return str(self.spec.get("displayName", ""))

    @property
    def incomplete(self) -> int:
        """Lines not yet processed (0 while the input is unread)."""
        return 0 if self.total is None else self.total - self.successful - self.failed

    def completion_stats(self) -> dict[str, str] | None:
        """``completionStats`` with int64 strings; zero counts left out, None before RUNNING."""
        if self.total is None:
            return None
        counts = {
            "successfulCount": self.successful,
            "failedCount": self.failed,
            "incompleteCount": self.incomplete,
        }
        return {k: str(v) for k, v in counts.items() if v}

    def to_json(self) -> dict[str, Any]:
        """The ``BatchPredictionJob`` resource."""
        out: dict[str, Any] = {"name": self.name, **self.spec, "state": self.state.value}
        if self.error is not None:
            out["error"] = self.error
        if self.output_directory is not None:
            out["outputInfo"] = {"gcsOutputDirectory": self.output_directory}
        stats = self.completion_stats()
        if stats is not None:
            out["completionStats"] = stats
        out.update(self.times_json())
        return out


class BatchJobStore(JobStore[BatchJob]):
    """Every batch prediction job of this emulator process."""
