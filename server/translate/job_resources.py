"""What Vertex's job resources (batchPredictionJob, tuningJob) map to alike: the job's state and
its four lifecycle times. Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from google.protobuf import timestamp_pb2
from vertex_gateway.v1 import common_pb2

from .timestamps import timestamp


class TimedJob(Protocol):
    """A job message with the lifecycle times Vertex reports (Batch, TuningJob)."""

    @property
    def create_time(self) -> timestamp_pb2.Timestamp:
        """When the job was created."""
        ...

    @property
    def start_time(self) -> timestamp_pb2.Timestamp:
        """When it started running."""
        ...

    @property
    def end_time(self) -> timestamp_pb2.Timestamp:
        """When it ended."""
        ...

    @property
    def update_time(self) -> timestamp_pb2.Timestamp:
        """When it last changed."""
        ...


def job_state(native: str) -> common_pb2.JobState.ValueType:
    """The JobState Vertex's state name stands for; UNSPECIFIED for a name the gateway does not
    know (the caller still sees it as `native_state`)."""
    if native in common_pb2.JobState.keys():  # noqa: SIM118 (an enum wrapper)
        return common_pb2.JobState.Value(native)
    return common_pb2.JOB_STATE_UNSPECIFIED


def copy_times(job: Mapping[str, Any], message: TimedJob) -> None:
    """Set the message's times from the job's RFC 3339 ones; missing or unreadable ones stay
    unset."""
    for key, target in (
        ("createTime", message.create_time),
        ("startTime", message.start_time),
        ("endTime", message.end_time),
        ("updateTime", message.update_time),
    ):
        ts = timestamp(job.get(key))
        if ts is not None:
            target.CopyFrom(ts)
