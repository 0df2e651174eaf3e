"""What the emulator's long-running jobs (batch prediction, tuning) share: the in-memory store,
the step pacer of their lifecycle tasks, and the paging of their list methods.

Paging follows Google's list conventions (AIP-158): ``pageSize`` 0 or absent → 100, above 1,000
→ 1,000, negative or not a number → 400; ``nextPageToken`` is a cursor (the creation sequence of
the last job shown, so it stays stable while jobs are created) valid only for the same parent and
filter, else 400 ``Invalid page token.``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import web

from emulator import errors

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class StoredJob(Protocol):
    """What the store needs of a job."""

    job_id: str
    seq: int
    task: asyncio.Task[None] | None

    def belongs_to(self, project: str, location: str) -> bool:
        """True when a path's project (id or number) and location name the job's parent."""
        ...


J = TypeVar("J", bound=StoredJob)


class JobStore(Generic[J]):
    """Every job of one kind, in creation order; ``clear`` stops running ones."""

    def __init__(self) -> None:
        self._jobs: dict[str, J] = {}
        self._seq = 0

    def new_id(self) -> str:
        """A fresh 19-digit numeric id, like Vertex's."""
        while True:
            job_id = str(secrets.randbits(62) | (1 << 62))
            if job_id not in self._jobs:
                return job_id

    def next_seq(self) -> int:
        """Creation order (newest has the highest)."""
        self._seq += 1
        return self._seq

    def add(self, job: J) -> None:
        """Keep ``job``."""
        self._jobs[job.job_id] = job

    def start(self, job: J, lifecycle: Coroutine[Any, Any, None], task_name: str) -> None:
        """Keep ``job`` and run ``lifecycle``, the task that takes it through its states."""
        self.add(job)
        job.task = asyncio.create_task(lifecycle, name=task_name)

    def get(self, project: str, location: str, job_id: str) -> J | None:
        """The job with that id under that parent, or None."""
        job = self._jobs.get(job_id)
        return job if job is not None and job.belongs_to(project, location) else None

    def newest_first(self, project: str, location: str) -> list[J]:
        """The parent's jobs, newest first."""
        jobs = [j for j in self._jobs.values() if j.belongs_to(project, location)]
        return sorted(jobs, key=lambda j: j.seq, reverse=True)

    def delete(self, job_id: str) -> None:
        """Forget a job."""
        self._jobs.pop(job_id, None)

    def stop_all(self) -> None:
        """Cancel every running lifecycle task (jobs stay as they are)."""
        for job in self._jobs.values():
            if job.task is not None and not job.task.done():
                job.task.cancel()

    def clear(self) -> None:
        """Stop every task and forget every job."""
        self.stop_all()
        self._jobs.clear()


class Pacer:
    """Waits out the rest of the current step (work done during a step counts towards it)."""

    def __init__(self, seconds: Callable[[], float]) -> None:
        self._seconds = seconds
        self._last = time.monotonic()

    async def step(self) -> None:
        """Sleep until one step (``seconds()``, read now) has passed since the previous one."""
        remaining = self._last + self._seconds() - time.monotonic()
        await asyncio.sleep(max(0.0, remaining))
        self._last = time.monotonic()


def page_token(parent: str, filter_text: str, last_seq: int) -> str:
    """The token of the page after the job with creation sequence ``last_seq``."""
    data = json.dumps({"p": parent, "f": filter_text, "s": last_seq}).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def after_seq(token: str, parent: str, filter_text: str) -> int | None:
    """The creation sequence a page token continues below; None for a foreign or bad token."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data["p"] == parent and data["f"] == filter_text and isinstance(data["s"], int):
            return int(data["s"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        pass
    return None


def page_size(raw: str) -> int | web.Response:
    """The page size a ``pageSize`` query value asks for, or the 400 for a bad one."""
    try:
        size = int(raw or "0")
    except ValueError:
        violation = errors.FieldViolation(
            "page_size", f"Invalid value at 'page_size' (TYPE_INT32), \"{raw}\""
        )
        return errors.error_response(errors.bad_request([violation]))
    if size < 0:
        return errors.error_response(errors.invalid_argument("page_size must not be negative."))
    return min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
