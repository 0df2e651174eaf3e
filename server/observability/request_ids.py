"""Request ids: every RPC gets one (the caller's `x-request-id` when it sends a sane one), it
is returned in the reply's trailing metadata and stamped on every log line of the request."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from contextvars import ContextVar
from itertools import count
from typing import Any

HEADER = "x-request-id"
REQUEST_ID: ContextVar[str] = ContextVar("vg_request_id", default="")
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# A random per-process prefix and a counter: unique, ordered within a process, and far cheaper
# than a UUID per request.
_PREFIX = os.urandom(6).hex()
_NEXT = count(1)


def begin(metadata: Iterable[Any] | None) -> str:
    """The request's id (the caller's, or a new one), made current."""
    rid = ""
    for key, value in metadata or ():
        if key == HEADER and isinstance(value, str) and _SANE.match(value):
            rid = value
            break
    if not rid:
        rid = f"{_PREFIX}-{next(_NEXT):x}"
    REQUEST_ID.set(rid)
    return rid


def reseed() -> None:
    """A new prefix (after a fork, so workers never share ids)."""
    global _PREFIX
    _PREFIX = os.urandom(6).hex()


class RequestIdFilter(logging.Filter):
    """Adds the current request id to every record logged while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp the record; never drop it."""
        rid = REQUEST_ID.get()
        if rid and not hasattr(record, "request_id"):
            record.request_id = rid
        return True
