"""Type validation of Claude-on-Vertex request bodies with the ``anthropic`` package's own types.

The request body of ``:rawPredict`` / ``:streamRawPredict`` is the Messages API body
(``anthropic.types.MessageCreateParamsNonStreaming`` / ``…Streaming``) less ``model`` (it is in
the URL) plus Vertex's body fields (``anthropic_version``, ``anthropic_beta``) and the sampling
settings the installed SDK no longer lists (``temperature``, ``top_p``, ``top_k``). The
``count-tokens`` body is ``anthropic.types.MessageCountTokensParams`` (it keeps ``model``) plus
the Vertex fields.

pydantic builds the validator from those TypedDicts with ``extra="forbid"`` (nested TypedDicts
without a config of their own inherit it), and then the core schema is adjusted in two ways so the
check is complete and the messages read like Anthropic's:

* ``Iterable[...]`` fields become lists: pydantic validates iterables lazily, which would let a
  bad content block through;
* unions of TypedDicts told apart by a literal ``type`` (or ``role``) become tagged unions, so a
  bad block is reported once, with the tag in the path, as Anthropic does
  (``messages.0.content.1.tool_use.text: Extra inputs are not permitted``). Custom tools may omit
  ``type``, so the tools union defaults to ``custom``. The response-side models (``TextBlock`` …)
  that the SDK also accepts as input are dropped from those unions: as JSON they are the params.
"""

from __future__ import annotations

import enum
import functools
import typing
from collections.abc import Callable
from typing import Any, Literal, Required

from pydantic import ConfigDict, TypeAdapter, ValidationError
from pydantic_core import SchemaValidator
from typing_extensions import TypedDict

ANTHROPIC_VERSIONS = ("vertex-2023-10-16", "2026-10-21")
_DISCRIMINATORS = ("type", "role")
# Anthropic reports this single-member type with its tag too ("cache_control.ephemeral.ttl").
_TAGGED_SINGLES = ("CacheControlEphemeralParam",)


class BodyKind(enum.Enum):
    """Which request body a method takes."""

    MESSAGE = "rawPredict"
    STREAM = "streamRawPredict"
    COUNT_TOKENS = "count-tokens"


# Fields Vertex adds to every Claude body, and sampling settings the Messages API accepts.
_VERTEX_FIELDS: dict[str, Any] = {
    "anthropic_version": Required[Literal["vertex-2023-10-16", "2026-10-21"]],
    "anthropic_beta": list[str],
}
_SAMPLING_FIELDS: dict[str, Any] = {"temperature": float, "top_p": float, "top_k": int}


def _body_type(kind: BodyKind) -> Any:
    # Imported on first use: importing anthropic.types takes over a second.
    from anthropic.types.message_count_tokens_params import MessageCountTokensParams
    from anthropic.types.message_create_params import (
        MessageCreateParamsNonStreaming,
        MessageCreateParamsStreaming,
    )

    base: Any = {
        BodyKind.MESSAGE: MessageCreateParamsNonStreaming,
        BodyKind.STREAM: MessageCreateParamsStreaming,
        BodyKind.COUNT_TOKENS: MessageCountTokensParams,
    }[kind]
    hints = typing.get_type_hints(base, include_extras=True)
    if kind is not BodyKind.COUNT_TOKENS:
        del hints["model"]  # Vertex takes the model from the URL
        hints.update(_SAMPLING_FIELDS)
    hints.update(_VERTEX_FIELDS)
    # pydantic wants typing_extensions' TypedDict on Python < 3.12; built from the SDK's hints.
    make: Any = TypedDict
    body = make(f"Vertex{base.__name__}", hints, total=False)
    setattr(body, "__pydantic_config__", ConfigDict(extra="forbid", strict=True))  # noqa: B010
    return body


# --- core-schema rewriting ------------------------------------------------------------------


def _resolve(schema: dict[str, Any], defs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    while schema.get("type") == "definition-ref":
        schema = defs[schema["schema_ref"]]
    return schema


def _unwrap(schema: dict[str, Any]) -> dict[str, Any]:
    while schema.get("type") in ("nullable", "default"):
        schema = schema["schema"]
    return schema


def _tags(
    schema: dict[str, Any], key: str, defs: dict[str, dict[str, Any]]
) -> tuple[list[str], bool] | None:
    """The literal values of ``key`` in a TypedDict schema, and whether ``key`` may be left out."""
    target = _resolve(schema, defs)
    if target.get("type") != "typed-dict":
        return None
    field = target["fields"].get(key)
    if field is None:
        return None
    inner = field["schema"]
    optional = not field.get("required", True) or inner.get("type") in ("nullable", "default")
    literal = _unwrap(inner)
    if literal.get("type") != "literal":
        return None
    return [str(v) for v in literal["expected"]], optional


def _flatten(choices: list[Any], defs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for choice in choices:
        schema = choice[0] if isinstance(choice, tuple | list) else choice
        resolved = _resolve(schema, defs)
        if resolved.get("type") == "union":
            out.extend(_flatten(resolved["choices"], defs))
        elif resolved.get("type") != "model":  # response-side models: JSON-identical to params
            out.append(schema)
    return out


def _defaulting(key: str, default: str) -> Callable[[Any], str | None]:
    def discriminator(value: Any) -> str | None:
        if not isinstance(value, dict):
            return None
        tag = value.get(key)
        if tag is None:
            return default
        return tag if isinstance(tag, str) else None

    return discriminator


def _tagged(
    union: dict[str, Any], defs: dict[str, dict[str, Any]], walk: Callable[[Any], Any]
) -> dict[str, Any] | None:
    choices = _flatten(union["choices"], defs)
    if len(choices) < 2:
        return None
    for key in _DISCRIMINATORS:
        mapping: dict[str, Any] = {}
        default: str | None = None
        for choice in choices:
            found = _tags(choice, key, defs)
            if found is None:
                break
            tags, optional = found
            if optional:
                if default is not None:
                    break
                default = tags[0]
            for tag in tags:
                mapping.setdefault(tag, walk(choice))
        else:
            discriminator: Any = key if default is None else _defaulting(key, default)
            out: dict[str, Any] = {
                "type": "tagged-union",
                "choices": mapping,
                "discriminator": discriminator,
            }
            if "ref" in union:
                out["ref"] = union["ref"]
            return out
    return None


def _rewrite(schema: Any, defs: dict[str, dict[str, Any]]) -> Any:
    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, tuple):
            return tuple(walk(v) for v in node)
        if not isinstance(node, dict):
            return node
        kind = node.get("type")
        if kind == "generator":
            out = {"type": "list", "items_schema": walk(node.get("items_schema", {"type": "any"}))}
            for bound in ("min_length", "max_length"):
                if node.get(bound) is not None:
                    out[bound] = node[bound]
            return out
        if kind == "union":
            tagged = _tagged(node, defs, walk)
            if tagged is not None:
                return tagged
        rewritten = {k: walk(v) for k, v in node.items()}
        if kind == "typed-dict" and any(n in str(node.get("ref", "")) for n in _TAGGED_SINGLES):
            found = _tags(node, "type", defs)
            if found is not None:
                ref = rewritten.pop("ref")
                tag = found[0][0]
                return {
                    "type": "tagged-union",
                    "choices": {tag: rewritten},
                    "discriminator": "type",
                    "ref": ref,
                }
        return rewritten

    return walk(schema)


@functools.cache
def validator(kind: BodyKind) -> SchemaValidator:
    """The validator of one body kind (built on first use: pydantic takes about a second)."""
    core = TypeAdapter(_body_type(kind)).core_schema
    defs: dict[str, dict[str, Any]] = {}
    if core.get("type") == "definitions":
        defs = {d["ref"]: d for d in core["definitions"]}
    return SchemaValidator(_rewrite(core, defs))


# --- error wording ----------------------------------------------------------------------------

_TYPE_LABELS = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "none": type(None),
}


def _label_fits(label: str, value: Any) -> bool:
    """Whether a union-member label (``str``, ``list[...]``, ``TextBlockParam``) fits ``value``."""
    if label in _TYPE_LABELS:
        return isinstance(value, _TYPE_LABELS[label])
    if label.startswith("list["):
        return isinstance(value, list)
    if label.startswith(("dict[", "typed-dict", "tagged-union")) or label.endswith("Param"):
        return isinstance(value, dict)
    return True


def _render(error: Any, body: Any) -> tuple[str, bool]:
    """The ``path: message`` line for one pydantic error, and whether it is about ``body``'s
    actual shape (False for errors of a union member that does not fit the input's type)."""
    parts: list[str] = []
    current: Any = body
    relevant = True
    loc = list(error["loc"])
    tagged: Any = None  # the dict whose tag was already taken from ``loc``
    for i, element in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(current, list) and isinstance(element, int):
            parts.append(str(element))
            current = current[element] if 0 <= element < len(current) else None
        elif (
            isinstance(current, dict)
            and current is not tagged
            and element == current.get("type")
            and not last
        ):
            parts.append(str(element))  # a tag, as Anthropic shows it
            tagged = current
        elif isinstance(current, dict) and element in current:
            parts.append(str(element))
            current = current[element]
        elif isinstance(current, dict) and error["type"] == "missing" and last:
            parts.append(str(element))
        elif isinstance(current, dict) and element == "custom" and "type" not in current:
            parts.append(str(element))  # the default tag of the tools union
        elif isinstance(element, str):
            relevant = relevant and _label_fits(element, current)  # a union member's label
        else:
            parts.append(str(element))
    message = _message(error)
    path = ".".join(parts)
    return (f"{path}: {message}" if path else message), relevant


def _message(error: Any) -> str:
    ctx = error.get("ctx") or {}
    if error["type"] == "union_tag_invalid":
        return (
            f"Input tag '{ctx.get('tag')}' found using '{_discriminator_name(ctx)}' does not "
            f"match any of the expected tags: {ctx.get('expected_tags')}"
        )
    if error["type"] == "union_tag_not_found":
        return f"Unable to extract tag using discriminator '{_discriminator_name(ctx)}'"
    return str(error["msg"])


def _discriminator_name(ctx: dict[str, Any]) -> str:
    name = str(ctx.get("discriminator", "'type'"))
    for key in _DISCRIMINATORS:
        if f"'{key}'" in name:
            return key
    return "type"


def type_problems(kind: BodyKind, body: Any) -> list[str]:
    """Every type problem of ``body``, worded as Anthropic's API words them; [] when it fits."""
    try:
        validator(kind).validate_python(body)
    except ValidationError as exc:
        rendered = [_render(e, body) for e in exc.errors()]
        chosen = [text for text, relevant in rendered if relevant] or [t for t, _ in rendered]
        return list(dict.fromkeys(chosen))
    return []
