"""Veo long-running operations: the resource, its name, and the store the emulator keeps them in.

An operation is named ``{publisher model}/operations/{uuid}``, the publisher model spelled as the
``:predictLongRunning`` URL spelled it: ``projects/{p}/locations/{l}/publishers/google/models/
{model}/operations/{uuid}`` (express mode: ``publishers/google/models/{model}/operations/
{uuid}``). It moves on with polls, not time: the first ``veo_pending_fetches`` (runtime config,
read at each poll) ``:fetchPredictOperation`` calls answer ``{"name"}`` alone — a running
``google.longrunning.Operation`` in proto3 JSON, where ``done: false`` is left out — and the next
one makes the videos and answers ``done: true`` with ``response`` or ``error``; later polls
repeat that answer.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from emulator.batch_jobs import project_number
from emulator.catalog import ModelInfo

OPERATION_NAME = re.compile(
    r"^(?:projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/)?"
    r"publishers/(?P<publisher>[^/]+)/models/(?P<model>[^/]+)/operations/(?P<id>[^/]+)$"
)


@dataclass(frozen=True)
class OperationName:
    """The parts of a Veo operation name."""

    project: str | None
    location: str | None
    publisher: str
    model: str
    operation_id: str

    @classmethod
    def parse(cls, name: str) -> OperationName | None:
        """The parts of ``name``, or None when it is not a publisher-model operation name."""
        match = OPERATION_NAME.match(name)
        if match is None:
            return None
        return cls(
            match["project"], match["location"], match["publisher"], match["model"], match["id"]
        )

    def same_model(self, other: OperationName) -> bool:
        """True when both name the same publisher model (a project id and its number match)."""
        projects = (None if p is None else project_number(p) for p in (self.project, other.project))
        return (
            len(set(projects)) == 1
            and self.location == other.location
            and (self.publisher, self.model) == (other.publisher, other.model)
        )


@dataclass
class VideoOperation:
    """One ``:predictLongRunning`` call and, once done, its answer."""

    name: str
    model: ModelInfo
    # The request body, camelCase, as validated.
    body: dict[str, Any]
    # Decoded input images (first and last frame), read when the operation started.
    first: Image.Image | None = None
    last: Image.Image | None = None
    fetches: int = 0
    # The done Operation ({"name", "done": true, "response" | "error"}); None while running.
    outcome: dict[str, Any] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def operation_id(self) -> str:
        """The last segment of the name (a UUID)."""
        return self.name.rsplit("/", 1)[1]


class VideoOperationStore:
    """Every Veo operation of this emulator process, by operation id."""

    def __init__(self) -> None:
        self._operations: dict[str, VideoOperation] = {}

    @staticmethod
    def new_name(model_resource: str) -> str:
        """A fresh operation name under ``model_resource`` (``…/publishers/google/models/m``)."""
        return f"{model_resource}/operations/{uuid.uuid4()}"

    def add(self, operation: VideoOperation) -> None:
        """Keep ``operation``."""
        self._operations[operation.operation_id] = operation

    def get(self, name: OperationName) -> VideoOperation | None:
        """The operation ``name`` names, or None (an unknown id, or another model's)."""
        operation = self._operations.get(name.operation_id)
        if operation is None:
            return None
        own = OperationName.parse(operation.name)
        return operation if own is not None and own.same_model(name) else None

    def clear(self) -> None:
        """Forget every operation."""
        self._operations.clear()
