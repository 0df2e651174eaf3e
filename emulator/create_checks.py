"""Checking a job's create body (batch prediction, tuning) and the order Vertex answers what it
finds in: every transcoder problem (BadRequest details), then every unset required field
(Vertex's ``List of found errors:`` form), then a model that does not exist (404), then the
first of the rest (400). The first two, the body's shape, are checked here alike for both.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from emulator import errors
from emulator.discovery import SchemaError, document
from emulator.errors import FieldViolation, GoogleError
from emulator.payload import parse_body

# (keys of a member inside the body, its path in messages), e.g. (("model",), "model").
RequiredFields = Sequence[tuple[tuple[str, ...], str]]


def schema_id(version: str, name: str) -> str:
    """The discovery schema id of ``name`` in ``version`` (``GoogleCloudAiplatformV1TuningJob``)."""
    prefix = "GoogleCloudAiplatformV1" if version == "v1" else "GoogleCloudAiplatformV1beta1"
    return f"{prefix}{name}"


@functools.cache
def output_only(version: str, schema: str) -> frozenset[str]:
    """The members of ``schema`` a create body may carry but Vertex ignores (output only)."""
    props = document(version).schemas[schema_id(version, schema)]["properties"]
    return frozenset(name for name, spec in props.items() if spec.get("readOnly"))


def required_fields_error(paths: list[str], root: str) -> GoogleError:
    """Vertex's 400 for unset required fields, e.g. ``List of found errors:\\t1.Field:
    batch_prediction_job.display_name; Message: Required field is not set.\\t`` (``root`` is
    the request field the body fills: ``batch_prediction_job``, ``tuning_job``)."""
    listed = "".join(
        f"{i}.Field: {root}.{path}; Message: Required field is not set.\t"
        for i, path in enumerate(paths, 1)
    )
    details = {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [
            {"field": f"{root}.{path}", "description": "Required field is not set."}
            for path in paths
        ],
    }
    return GoogleError(400, f"List of found errors:\t{listed}", "INVALID_ARGUMENT", (details,))


def dig(body: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """The value at ``keys`` inside nested objects, or None where one is missing."""
    value: Any = body
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


@dataclass
class JobBodyCheck:
    """What checking a create body found."""

    # The request field the body fills: ``batch_prediction_job``, ``tuning_job``.
    root: ClassVar[str]
    # The discovery schema of the body: ``BatchPredictionJob``, ``TuningJob``.
    schema: ClassVar[str]
    required_fields: ClassVar[RequiredFields]

    body: dict[str, Any]
    transcoder: list[SchemaError] = field(default_factory=list)
    required: list[str] = field(default_factory=list)
    # A model that does not exist; batch prediction answers it with the publisher-model 404.
    model_error: GoogleError | None = None
    semantic: list[str] = field(default_factory=list)

    @classmethod
    def of_shape(
        cls, version: str, content_type: str | None, raw: bytes, *, lenient_names: bool
    ) -> tuple[Any, Self]:
        """Parse a create body and check its shape: the transcoder's problems, then (when there
        are none) the unset required fields. Returns the parsed body (for the record) and the
        check, holding the normalized body; the rest is checked when ``shaped``."""
        parsed, parse_error = parse_body(content_type, raw)
        if parse_error is not None:
            return parsed, cls({}, transcoder=[parse_error])
        result = document(version).validate(
            schema_id(version, cls.schema), parsed, lenient_names=lenient_names, root=cls.root
        )
        body = result.normalized if isinstance(result.normalized, dict) else {}
        check = cls(body, transcoder=list(result.errors))
        if not check.transcoder:
            check.required = [
                path for keys, path in cls.required_fields if dig(body, keys) in (None, "", {})
            ]
        return parsed, check

    @property
    def shaped(self) -> bool:
        """True when the body has the shape the rest of the checks read."""
        return not self.transcoder and not self.required

    @property
    def audited(self) -> list[str]:
        """The problems that say how the body was built (recorded, and in the audit)."""
        required = [f"{self.root}.{path}: Required field is not set." for path in self.required]
        return [e.description for e in self.transcoder] + required + self.semantic

    def error(self) -> GoogleError | None:
        """The answer to the first problem, in Vertex's order; None when the body is good."""
        if self.transcoder:
            return errors.bad_request(
                [FieldViolation(e.field, e.description) for e in self.transcoder]
            )
        if self.required:
            return required_fields_error(self.required, self.root)
        if self.model_error is not None:
            return self.model_error
        if self.semantic:
            return errors.invalid_argument(self.semantic[0])
        return None
