"""Checks of free-form JSON (``google.protobuf.Value``) members that a Vertex model parses into
its own messages: ``:predict`` / ``:predictLongRunning`` instances and parameters (Imagen, Veo).

The discovery document types those members as ``any``, so the transcoder lets everything
through; the model service then refuses unknown names, wrong types and values out of range with
a 400 ``INVALID_ARGUMENT``. Every check raises :class:`StructProblem` with the whole message;
callers stop at the first one, as Vertex's semantic checks do. Struct numbers are doubles, so
``2`` and ``2.0`` are the same integer and ``"2"`` is not a number.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

GCS_URI = re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](/.*)?$")


class StructProblem(ValueError):
    """A body Vertex answers with 400 INVALID_ARGUMENT; the message names the problem."""


def shown(value: Any) -> str:
    """A value as the messages quote it: strings in quotes, JSON words, "an object"."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return str(value)


def check_object(value: Any, where: str, allowed: tuple[str, ...], model_id: str) -> dict[str, Any]:
    """``value`` as a JSON object whose names are all in ``allowed``."""
    if not isinstance(value, dict):
        raise StructProblem(f"{where} must be a JSON object, got {shown(value)}.")
    for key in value:
        if key not in allowed:
            raise StructProblem(
                f'Unknown field "{key}" in {where}: {model_id} does not take it. '
                f"Supported fields: {', '.join(allowed)}."
            )
    return value


def integer(value: Any, where: str, low: int, high: int) -> int:
    """An integral number (``2.0`` counts; ``2.5``, ``"2"`` and ``true`` do not) in ``low..high``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StructProblem(f"{where} must be an integer, got {shown(value)}.")
    if isinstance(value, float) and not value.is_integer():
        raise StructProblem(f"{where} must be an integer, got {shown(value)}.")
    number = int(value)
    if not low <= number <= high:
        raise StructProblem(
            f"{where} is {number}, but the supported range is from {low} to {high} (inclusive)."
        )
    return number


def number(value: Any, where: str, low: float, high: float) -> float:
    """A finite number in ``low..high``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise StructProblem(f"{where} must be a number, got {shown(value)}.")
    if not low <= value <= high:
        raise StructProblem(
            f"{where} is {value:g}, but the supported range is from {low:g} to {high:g} "
            "(inclusive)."
        )
    return float(value)


def boolean(value: Any, where: str) -> bool:
    """A JSON boolean."""
    if not isinstance(value, bool):
        raise StructProblem(f"{where} must be a boolean, got {shown(value)}.")
    return value


def string(value: Any, where: str) -> str:
    """A JSON string."""
    if not isinstance(value, str):
        raise StructProblem(f"{where} must be a string, got {shown(value)}.")
    return value


def choice(value: Any, where: str, choices: tuple[str, ...], *, fold_case: bool = False) -> str:
    """One of ``choices`` (compared without case when ``fold_case``), as the choice spells it."""
    text = string(value, where)
    pool = {c.lower(): c for c in choices} if fold_case else {c: c for c in choices}
    found = pool.get(text.lower() if fold_case else text)
    if found is None:
        raise StructProblem(
            f"{where} {shown(value)} is not supported. Supported values: {', '.join(choices)}."
        )
    return found


def base64_bytes(value: Any, where: str) -> bytes:
    """The bytes of a standard base64 string."""
    text = string(value, where)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise StructProblem(f"{where} is not valid base64.") from None


def gcs_uri(value: Any, where: str) -> str:
    """A ``gs://bucket[/object]`` URI."""
    uri = string(value, where)
    if not GCS_URI.match(uri):
        raise StructProblem(f"{where} {shown(uri)} is not a Cloud Storage URI (gs://bucket/...).")
    return uri
