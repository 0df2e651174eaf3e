"""JSON from a model, read strictly: tool-call arguments are data the caller's code will run on.

Python's json module accepts NaN and Infinity, and a 400-digit integer overflows a Struct's
double; none of these is JSON a caller can rely on, so each is reported as a problem instead
of surfacing as a crash or a value that cannot be serialised.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format, struct_pb2


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads_strict(text: str) -> Any:
    """`json.loads` that refuses NaN, Infinity and numbers too large for a double."""
    value = json.loads(text, parse_constant=_no_constants)
    _finite(value)
    return value


def _finite(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("a number is not finite")
    if isinstance(value, Mapping):
        for item in value.values():
            _finite(item)
    elif isinstance(value, list):
        for item in value:
            _finite(item)


def struct_from(value: Mapping[str, Any]) -> tuple[struct_pb2.Struct, str | None]:
    """A Struct holding `value`, or an empty one and why it cannot hold it."""
    out = struct_pb2.Struct()
    try:
        _finite(value)
        out.update(value)
    except (ValueError, OverflowError, TypeError) as exc:
        return struct_pb2.Struct(), f"arguments hold a value JSON cannot carry ({exc})"
    return out, None


def b64(data: bytes) -> str:
    """Standard base64 text of bytes (JSON's encoding for bytes)."""
    return base64.b64encode(data).decode("ascii")


def plain(value: Any) -> Any:
    """JSON from a Struct/Value: integral numbers as ints (a Struct keeps every number a double)
    and object keys sorted (a Struct keeps no order; stable bodies keep prompt caches warm and
    goldens deterministic)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: plain(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def struct_json(value: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as a plain JSON object (see `plain`)."""
    result: dict[str, Any] = plain(json_format.MessageToDict(value))
    return result


def compact_json(value: Any) -> str:
    """JSON text without spaces, non-ASCII kept as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def as_int(value: Any) -> int:
    """An upstream count as an int; anything else (missing, text, a boolean) counts 0."""
    if isinstance(value, bool):
        return 0
    try:
        return int(value or 0)
    except (TypeError, ValueError, OverflowError):
        return 0
