"""Validate request bodies against Google's discovery documents for Vertex AI.

The documents ship inside ``google-api-python-client``
(``googleapiclient/discovery_cache/documents/aiplatform.{v1,v1beta1}.json``). They are loaded
once, lazily, and walked property by property: unknown names, wrong JSON types, enum values,
int64/bytes/duration formats and maps are checked; ``type: any`` (Struct/Value) is not.

Messages and field paths follow Google's JSON transcoder: snake_case proto paths with indexes
(``contents[1].parts[0].function_call``), map entries as ``[i].value``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib.resources
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

API_VERSIONS = ("v1", "v1beta1")

_PREFIX = {"v1": "GoogleCloudAiplatformV1", "v1beta1": "GoogleCloudAiplatformV1beta1"}

_INT_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}

_SCALAR_TYPE_NAMES = {
    ("string", None): "TYPE_STRING",
    ("boolean", None): "TYPE_BOOL",
    ("integer", "int32"): "TYPE_INT32",
    ("integer", "uint32"): "TYPE_UINT32",
    ("number", "float"): "TYPE_FLOAT",
    ("number", "double"): "TYPE_DOUBLE",
    ("string", "int64"): "TYPE_INT64",
    ("string", "uint64"): "TYPE_UINT64",
    ("string", "byte"): "TYPE_BYTES",
    ("string", "google-duration"): "type.googleapis.com/google.protobuf.Duration",
    ("string", "google-datetime"): "type.googleapis.com/google.protobuf.Timestamp",
    ("string", "google-fieldmask"): "type.googleapis.com/google.protobuf.FieldMask",
}

# Proto enum names differ from what the discovery document can tell; these are the common ones.
_ENUM_TYPE_NAMES = {
    ("SafetySetting", "category"): "HarmCategory",
    ("SafetySetting", "threshold"): "SafetySetting.HarmBlockThreshold",
    ("SafetySetting", "method"): "SafetySetting.HarmBlockMethod",
    ("Schema", "type"): "Type",
    ("GenerationConfig", "responseModalities"): "GenerationConfig.Modality",
    ("GenerationConfig", "mediaResolution"): "GenerationConfig.MediaResolution",
    (
        "GenerationConfigThinkingConfig",
        "thinkingLevel",
    ): "GenerationConfig.ThinkingConfig.ThinkingLevel",
    ("FunctionCallingConfig", "mode"): "FunctionCallingConfig.Mode",
    ("ExecutableCode", "language"): "ExecutableCode.Language",
    ("CodeExecutionResult", "outcome"): "CodeExecutionResult.Outcome",
}

_DURATION = re.compile(r"^-?\d+(\.\d{1,9})?s$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
_INTEGER_TEXT = re.compile(r"^-?\d+$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]*={0,2}$")


@dataclass(frozen=True)
class SchemaError:
    """One problem with a request body; ``field`` is the violation's path (None at the root)."""

    field: str | None
    description: str


@dataclass
class ValidationResult:
    """Errors found, and the body with snake_case names turned into camelCase (lenient mode)."""

    errors: list[SchemaError] = field(default_factory=list)
    normalized: Any = None


def camel_to_snake(name: str) -> str:
    """``generationConfig`` -> ``generation_config`` (Google's proto field names)."""
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def snake_to_camel(name: str) -> str:
    """``inline_data`` -> ``inlineData`` (the JSON names the discovery document uses)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _child(path: str, snake: str) -> str:
    return f"{path}.{snake}" if path else snake


def _render(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= 120 else text[:117] + "..."


def _unknown(key: str, path: str, reason: str = "Cannot find field.") -> SchemaError:
    where = f" at '{path}'" if path else ""
    return SchemaError(
        path or None, f'Invalid JSON payload received. Unknown name "{key}"{where}: {reason}'
    )


def _invalid(path: str, type_name: str, shown: str) -> SchemaError:
    return SchemaError(path or None, f"Invalid value at '{path}' ({type_name}), {shown}")


class DiscoveryDocument:
    """One parsed discovery document (``v1`` or ``v1beta1``)."""

    def __init__(self, version: str, document: dict[str, Any]) -> None:
        self.version = version
        self.revision = str(document.get("revision", ""))
        self.schemas: dict[str, dict[str, Any]] = document["schemas"]
        self._prefix = _PREFIX[version]
        self._package = f"google.cloud.aiplatform.{version}"
        models = document["resources"]["projects"]["resources"]["locations"]["resources"]
        methods = models["publishers"]["resources"]["models"]["methods"]
        self._requests: dict[str, str] = {
            name: spec["request"]["$ref"] for name, spec in methods.items() if "request" in spec
        }

    def request_schema(self, method: str) -> str | None:
        """The request schema id of a publisher-model method such as ``generateContent``."""
        return self._requests.get(method)

    def validate(
        self, schema_id: str, body: Any, *, lenient_names: bool, root: str = ""
    ) -> ValidationResult:
        """Walk ``body`` against ``schema_id`` and collect every problem, not just the first.

        ``root`` is the proto path of the body inside the request message, for methods whose
        HTTP body is one field of it (``batch_prediction_job`` for CreateBatchPredictionJob).
        """
        result = ValidationResult()
        result.normalized = self._message(body, schema_id, root, result.errors, lenient_names)
        return result

    def _short(self, schema_id: str) -> str:
        return schema_id.removeprefix(self._prefix)

    def _message_type(self, schema_id: str) -> str:
        return f"type.googleapis.com/{self._package}.{self._short(schema_id)}"

    def _enum_type(self, owner: str | None, prop: str) -> str:
        short = self._short(owner) if owner else "Unknown"
        name = _ENUM_TYPE_NAMES.get((short, prop), f"{short}.{prop[:1].upper()}{prop[1:]}")
        return f"type.googleapis.com/{self._package}.{name}"

    def _message(
        self, value: Any, schema_id: str, path: str, errors: list[SchemaError], lenient: bool
    ) -> Any:
        if not isinstance(value, dict):
            errors.append(_invalid(path, self._message_type(schema_id), _render(value)))
            return value
        properties: dict[str, Any] = self.schemas[schema_id].get("properties", {})
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = key
            if name not in properties:
                camel = snake_to_camel(key)
                if lenient and camel != key and camel in properties:
                    name = camel
                else:
                    errors.append(_unknown(key, path))
                    continue
            prop_path = _child(path, camel_to_snake(name))
            spec = properties[name]
            if isinstance(item, list) and spec.get("type") != "array" and not _is_any(spec):
                errors.append(
                    _unknown(key, path, "Proto field is not repeating, cannot start list.")
                )
                continue
            out[name] = self._value(item, spec, prop_path, errors, lenient, (schema_id, name))
        return out

    def _value(
        self,
        value: Any,
        spec: dict[str, Any],
        path: str,
        errors: list[SchemaError],
        lenient: bool,
        owner: tuple[str | None, str],
    ) -> Any:
        if value is None or _is_any(spec):
            # proto3 JSON reads null as "unset"; Struct/Value fields take any JSON at all.
            return value
        if "$ref" in spec:
            return self._message(value, spec["$ref"], path, errors, lenient)
        kind = spec.get("type")
        if kind == "array":
            if not isinstance(value, list):
                errors.append(
                    _invalid(path, self._type_name(spec.get("items", {}), owner), _render(value))
                )
                return value
            items = spec.get("items", {})
            return [
                self._value(v, items, f"{path}[{i}]", errors, lenient, owner)
                for i, v in enumerate(value)
            ]
        if kind == "object":
            return self._object(value, spec, path, errors, lenient, owner)
        problem = _scalar_problem(value, spec, self._enum_type(*owner))
        if problem is not None:
            type_name, shown = problem
            errors.append(_invalid(path, type_name, shown))
        return value

    def _object(
        self,
        value: Any,
        spec: dict[str, Any],
        path: str,
        errors: list[SchemaError],
        lenient: bool,
        owner: tuple[str | None, str],
    ) -> Any:
        if not isinstance(value, dict):
            errors.append(
                _invalid(path, "type.googleapis.com/google.protobuf.Struct", _render(value))
            )
            return value
        extra = spec.get("additionalProperties")
        if isinstance(extra, dict):
            if _is_any(extra):
                return value
            return {
                k: self._value(v, extra, f"{path}[{i}].value", errors, lenient, owner)
                for i, (k, v) in enumerate(value.items())
            }
        return value

    def _type_name(self, spec: dict[str, Any], owner: tuple[str | None, str]) -> str:
        if "$ref" in spec:
            return self._message_type(spec["$ref"])
        if "enum" in spec:
            return self._enum_type(*owner)
        return _SCALAR_TYPE_NAMES.get((spec.get("type", ""), spec.get("format")), "TYPE_STRING")


def _is_any(spec: dict[str, Any]) -> bool:
    return spec.get("type") == "any"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scalar_problem(value: Any, spec: dict[str, Any], enum_type: str) -> tuple[str, str] | None:
    """Return ``(type name, shown value)`` when ``value`` does not fit the scalar ``spec``."""
    kind, fmt = spec.get("type"), spec.get("format")
    type_name = _SCALAR_TYPE_NAMES.get((str(kind), fmt), "TYPE_STRING")
    shown = _render(value)
    if "enum" in spec:
        # Vertex would also take enum numbers; the emulator insists on names (see README).
        ok = isinstance(value, str) and value in spec["enum"]
        return None if ok else (enum_type, shown)
    if kind == "boolean":
        return None if isinstance(value, bool) else (type_name, shown)
    if kind == "integer" or fmt in ("int64", "uint64"):
        return None if _integer_fits(value, str(fmt)) else (type_name, shown)
    if kind == "number":
        return None if _number_ok(value) else (type_name, shown)
    if not isinstance(value, str):
        return type_name, shown
    if fmt == "byte" and not _base64_ok(value):
        sample = value if len(value) <= 64 else value[:61] + "..."
        return type_name, f'Base64 decoding failed for "{sample}"'
    if fmt == "google-duration" and not _DURATION.match(value):
        return type_name, shown
    if fmt == "google-datetime" and not _TIMESTAMP.match(value):
        return type_name, shown
    return None


def _integer_fits(value: Any, fmt: str) -> bool:
    number: int
    if (isinstance(value, str) and _INTEGER_TEXT.match(value)) or (
        _is_number(value) and float(value).is_integer()
    ):
        number = int(value)
    else:
        return False
    low, high = _INT_RANGES.get(fmt, _INT_RANGES["int32"])
    return low <= number <= high


def _number_ok(value: Any) -> bool:
    if _is_number(value):
        return True
    if not isinstance(value, str):
        return False
    if value in ("NaN", "Infinity", "-Infinity"):
        return True
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _base64_ok(value: str) -> bool:
    if not _BASE64.match(value):
        return False
    standard = value.replace("-", "+").replace("_", "/")
    try:
        base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


@functools.cache
def document(version: str) -> DiscoveryDocument:
    """Load (once) and return the discovery document for ``v1`` or ``v1beta1``."""
    if version not in API_VERSIONS:
        raise ValueError(f"no discovery document for {version!r}")
    resource = (
        importlib.resources.files("googleapiclient")
        / "discovery_cache"
        / "documents"
        / f"aiplatform.{version}.json"
    )
    return DiscoveryDocument(version, json.loads(resource.read_text(encoding="utf-8")))
