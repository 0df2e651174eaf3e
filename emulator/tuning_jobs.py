"""Supervised tuning jobs: the resource and the store the emulator keeps them in.

A job's JSON follows the discovery document's ``TuningJob``: the create body less output-only
fields (``baseModel``, ``supervisedTuningSpec`` with ``hyperParameters.epochCount`` as an int64
string, ``tunedModelDisplayName``, ``description``, ``labels``), then ``name``, ``state``,
``error?``, ``tuningDataStats?``, ``tunedModel?``, ``createTime``, ``startTime?``, ``endTime?``,
``updateTime`` (RFC 3339, microseconds, ``Z``). Names carry the project *number*
(``batch_jobs.project_number``), as Google's do; paths may use the id or the number.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emulator.batch_jobs import TERMINAL_STATES, JobState, project_number, timestamp
from emulator.catalog import ModelInfo
from emulator.job_store import JobStore


@dataclass
class TuningJob:
    """One supervised tuning job and its progress."""

    job_id: str
    seq: int
    project: str
    location: str
    version: str
    base_model: ModelInfo
    # The create body less output-only fields, camelCase.
    spec: dict[str, Any]
    create_time: datetime
    state: JobState = JobState.PENDING
    update_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    error: dict[str, Any] | None = None
    data_stats: dict[str, Any] | None = None
    # {"model": ".../models/{id}@1", "endpoint": ".../endpoints/{id}"} once SUCCEEDED.
    tuned_model: dict[str, str] | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def project_number(self) -> str:
        """The number used in the job's name."""
        return project_number(self.project)

    @property
    def parent(self) -> str:
        """``projects/{number}/locations/{l}``."""
        return f"projects/{self.project_number}/locations/{self.location}"

    @property
    def name(self) -> str:
        """``projects/{number}/locations/{l}/tuningJobs/{id}``."""
        return f"{self.parent}/tuningJobs/{self.job_id}"

    @property
    def labels(self) -> dict[str, str]:
        """The job's labels ({} when none)."""
        labels = self.spec.get("labels")
        return labels if isinstance(labels, dict) else {}

    @property
    def display_name(self) -> str:
        """The tuned model's display name (what list filters call ``display_name``)."""
        return str(self.spec.get("tunedModelDisplayName", ""))

    @property
    def supervised(self) -> dict[str, Any]:
        """``supervisedTuningSpec``."""
        spec: dict[str, Any] = self.spec["supervisedTuningSpec"]
        return spec

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

    def finish(self, state: JobState, error: dict[str, Any] | None = None) -> None:
        """Enter a terminal state now."""
        self.error = error
        self.end_time = datetime.now(UTC)
        self.update_time = self.end_time
        self.state = state

    def to_json(self) -> dict[str, Any]:
        """The ``TuningJob`` resource."""
        out: dict[str, Any] = {"name": self.name, **self.spec, "state": self.state.value}
        if self.error is not None:
            out["error"] = self.error
        if self.data_stats is not None:
            out["tuningDataStats"] = {"supervisedTuningDataStats": self.data_stats}
        if self.tuned_model is not None:
            out["tunedModel"] = self.tuned_model
        out["createTime"] = timestamp(self.create_time)
        if self.start_time is not None:
            out["startTime"] = timestamp(self.start_time)
        if self.end_time is not None:
            out["endTime"] = timestamp(self.end_time)
        out["updateTime"] = timestamp(self.update_time or self.create_time)
        return out


class TuningJobStore(JobStore[TuningJob]):
    """Every tuning job of this emulator process."""
