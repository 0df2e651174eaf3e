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

from emulator.batch_jobs import JobLifecycle, JobState
from emulator.catalog import ModelInfo
from emulator.job_store import JobStore


@dataclass
class TuningJob(JobLifecycle):
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
    def name(self) -> str:
        """``projects/{number}/locations/{l}/tuningJobs/{id}``."""
        return f"{self.parent}/tuningJobs/{self.job_id}"

    @property
    def display_name(self) -> str:
        """The tuned model's display name (what list filters call ``display_name``)."""
        return str(self.spec.get("tunedModelDisplayName", ""))

    @property
    def supervised(self) -> dict[str, Any]:
        """``supervisedTuningSpec``."""
        spec: dict[str, Any] = self.spec["supervisedTuningSpec"]
        return spec

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
        out.update(self.times_json())
        return out


class TuningJobStore(JobStore[TuningJob]):
    """Every tuning job of this emulator process."""
