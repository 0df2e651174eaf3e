"""RFC 3339 timestamps from Vertex replies as protobuf Timestamps, quickly.

protobuf's `Timestamp.FromJsonString` goes through `time.strptime`, which costs more than the
rest of a chat reply's translation together; every reply carries a `createTime`. The common
shape is parsed here with one regular expression and integer arithmetic; anything else falls
back to protobuf's parser so the accepted forms (and the errors) stay exactly protobuf's.
"""

from __future__ import annotations

import datetime
import functools
import re
from typing import Any

from google.protobuf import timestamp_pb2

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})\Z"
)
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


@functools.lru_cache(maxsize=256)
def _fast(text: str) -> tuple[int, int] | None:
    """(seconds, nanos); cached because a stream's chunks all carry the same createTime."""
    m = _RFC3339.match(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if hour > 23 or minute > 59 or second > 59 or year < 1:
        return None
    try:
        days = datetime.date(year, month, day).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None
    seconds = days * 86400 + hour * 3600 + minute * 60 + second
    zone = m.group(8)
    if zone != "Z":
        offset = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
        seconds += -offset if zone[0] == "+" else offset
    fraction = m.group(7) or ""
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    return seconds, nanos


def timestamp(text: Any) -> timestamp_pb2.Timestamp | None:
    """The Timestamp an RFC 3339 string names, or None for a missing or unreadable one."""
    if not isinstance(text, str) or not text:
        return None
    fast = _fast(text)
    if fast is not None:
        return timestamp_pb2.Timestamp(seconds=fast[0], nanos=fast[1])
    ts = timestamp_pb2.Timestamp()
    try:
        ts.FromJsonString(text)
    except ValueError:
        return None
    return ts


def set_timestamp(into: timestamp_pb2.Timestamp, text: Any) -> None:
    """`into` set to the time an RFC 3339 string names (left unset for a missing or unreadable
    one), in place: a reply's own field, with no Timestamp made and copied."""
    fast = _fast(text) if isinstance(text, str) and text else None
    if fast is not None:
        into.seconds, into.nanos = fast
        return
    parsed = timestamp(text)
    if parsed is not None:
        into.CopyFrom(parsed)
