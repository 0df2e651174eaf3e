"""Reply parsers read JSON Vertex sent; a member of the wrong type must become a malformed-upstream
error (UNAVAILABLE), never an internal one. Every public reply parser is wrapped in `tolerant`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from server.errors import upstream_malformed

_T = TypeVar("_T")


def tolerant(convert: Callable[..., _T]) -> Callable[..., _T]:
    """Report a reply whose members have the wrong JSON types as a malformed upstream reply."""

    @functools.wraps(convert)
    def wrapper(*args: Any, **kwargs: Any) -> _T:
        try:
            return convert(*args, **kwargs)
        except (TypeError, AttributeError, ValueError, KeyError, OverflowError, IndexError) as exc:
            raise upstream_malformed(f"response ({type(exc).__name__} reading it)") from None

    return wrapper
