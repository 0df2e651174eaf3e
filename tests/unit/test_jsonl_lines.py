"""JSONL lines across arbitrary chunk boundaries, and the bound on one line."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from server.backends.jsonl import LineTooLong, numbered_lines


async def _chunks(data: bytes, rng: random.Random) -> AsyncIterator[bytes]:
    at = 0
    while at < len(data):
        step = rng.randint(1, 7)
        yield data[at : at + step]
        at += step


async def _collect(data: bytes, seed: int, limit: int = 1 << 20) -> list[tuple[int, bytes]]:
    return [x async for x in numbered_lines(_chunks(data, random.Random(seed)), limit)]


async def test_lines_are_the_same_however_the_body_is_cut() -> None:
    data = b'{"a": 1}\n\n  \n{"b": 2}\r\n{"c": "x\\ny"}\n{"d": 4}'
    expected = [(1, b'{"a": 1}'), (4, b'{"b": 2}\r'), (5, b'{"c": "x\\ny"}'), (6, b'{"d": 4}')]
    for seed in range(50):
        assert await _collect(data, seed) == expected


async def test_a_line_past_the_limit_is_refused_with_its_number() -> None:
    data = b'{"ok": 1}\n' + b"x" * 100
    with pytest.raises(LineTooLong) as caught:
        await _collect(data, 1, limit=64)
    assert caught.value.number == 2
    assert await _collect(b'{"ok": 1}\n' + b"x" * 64, 1, limit=64)  # at the limit: fine
