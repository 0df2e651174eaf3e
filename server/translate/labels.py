"""Billing labels every request may carry, checked against Vertex's label rules."""

from __future__ import annotations

import re
from collections.abc import Mapping

from server.errors import FieldViolation

_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


def label_problems(labels: Mapping[str, str]) -> list[FieldViolation]:
    """One violation per key or value Vertex would refuse."""
    out: list[FieldViolation] = []
    for key, value in labels.items():
        if not _LABEL_KEY.match(key):
            out.append(
                FieldViolation(
                    f"labels[{key!r}]",
                    "keys are 1-63 lowercase letters, digits, '_' or '-', starting with a letter",
                )
            )
        if not _LABEL_VALUE.match(value):
            out.append(
                FieldViolation(
                    f"labels[{key!r}]", "values are up to 63 lowercase letters, digits, '_' or '-'"
                )
            )
    return out
