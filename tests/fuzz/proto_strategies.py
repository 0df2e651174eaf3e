"""Hypothesis strategies for arbitrary protobuf messages, built from their descriptors, with the
values that break code: huge and odd strings, extreme numbers, NaN, unknown enum numbers,
invalid UTF-8 in bytes, deep Struct nesting, wrong oneof choices and empty or duplicate ids."""

from __future__ import annotations

import contextlib
from typing import Any

from google.protobuf import struct_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

MODELS = [
    "gemini-2.5-flash", "google/gemini-2.5-pro", "gemini-3-pro-preview", "fast",
    "anthropic/claude-sonnet-4-5@20250929", "meta/llama-3.3-70b-instruct-maas",
    "text-embedding-005", "gemini-embedding-001", "gemini-embedding-2", "multimodalembedding@001",
    "imagen-4.0-generate-001", "imagen-3.0-capability-001", "gemini-2.5-flash-image",
    "gemini-2.5-flash-tts", "", "../etc/passwd", "gemini-2.5-flash?x=1", "a" * 300, "models/x",
]  # fmt: skip
ODD_TEXT = [
    "",
    " ",
    "a" * 70_000,
    "\x00",
    "../../x",
    "gs://b/../o",
    "é\u2028\ud7ff",
    "{}",
    "%2F",
    "@host",
]
INT32 = [0, 1, -1, 2**31 - 1, -(2**31)]
INT64 = [0, 1, -1, 2**63 - 1, -(2**63)]
FLOATS = [0.0, -0.0, 1.5, -1.0, 1e308, float("nan"), float("inf"), float("-inf")]

_T = FieldDescriptor


def _json_value(depth: int) -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.none(), st.booleans(), st.sampled_from(FLOATS), st.integers(-(2**60), 2**60).map(float),
        st.text(max_size=20), st.sampled_from(ODD_TEXT[:3]),
    )  # fmt: skip
    if depth <= 0:
        return leaves
    inner = _json_value(depth - 1)
    return st.one_of(
        leaves,
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=8), inner, max_size=3),
    )


def _struct(depth: int) -> st.SearchStrategy[struct_pb2.Struct]:
    def build(value: dict[str, Any]) -> struct_pb2.Struct:
        out = struct_pb2.Struct()
        with contextlib.suppress(ValueError, TypeError):
            out.update(value)
        return out

    deep = st.integers(0, 60).map(_nested)
    return st.one_of(
        st.dictionaries(st.text(max_size=8), _json_value(depth), max_size=4).map(build), deep
    )


def _nested(levels: int) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    node = out
    for _ in range(levels):
        node = node.fields["a"].struct_value
    node.fields["n"].number_value = float("nan")
    return out


def _scalar(field: FieldDescriptor, name: str) -> st.SearchStrategy[Any]:
    t = field.type
    if t == _T.TYPE_STRING:
        if name == "model":
            return st.sampled_from(MODELS)
        if name in ("mime_type",):
            return st.sampled_from(
                ["image/png", "audio/wav", "video/mp4", "text/plain", "application/jsonl", "", "x"]
            )
        return st.one_of(st.text(max_size=30), st.sampled_from(ODD_TEXT))
    if t == _T.TYPE_BYTES:
        return st.one_of(
            st.binary(max_size=40), st.just(b"\xff\xfe\x00"), st.just(b"\x89PNG\r\n\x1a\n")
        )
    if t == _T.TYPE_BOOL:
        return st.booleans()
    if t in (_T.TYPE_FLOAT, _T.TYPE_DOUBLE):
        return st.one_of(
            st.sampled_from(FLOATS),
            st.floats(allow_nan=True, width=32 if t == _T.TYPE_FLOAT else 64),
        )
    if t == _T.TYPE_ENUM:
        known = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(known), st.integers(-5, 99))
    if t in (_T.TYPE_INT64, _T.TYPE_SINT64, _T.TYPE_SFIXED64):
        return st.one_of(st.sampled_from(INT64), st.integers(-1000, 100_000))
    if t in (_T.TYPE_UINT64, _T.TYPE_FIXED64):
        return st.integers(0, 2**64 - 1)
    if t in (_T.TYPE_UINT32, _T.TYPE_FIXED32):
        return st.integers(0, 2**32 - 1)
    return st.one_of(st.sampled_from(INT32), st.integers(-10, 5000))


def messages(
    descriptor: Descriptor, cls: type[Message], depth: int = 4
) -> st.SearchStrategy[Message]:
    """Messages of `cls` with any subset of fields set to troublesome values."""

    @st.composite
    def build(draw: st.DrawFn) -> Message:
        message = cls()
        fields = list(descriptor.fields)
        chosen = (
            draw(st.lists(st.sampled_from(fields), max_size=min(8, len(fields)), unique=True))
            if fields
            else []
        )
        if "model" in descriptor.fields_by_name and draw(st.booleans()):
            chosen.append(descriptor.fields_by_name["model"])
        for field in chosen:
            _set(draw, message, field, depth)
        return message

    return build()


def _value(draw: st.DrawFn, field: FieldDescriptor, depth: int) -> Any:
    if field.type == _T.TYPE_MESSAGE:
        sub = field.message_type
        if sub.full_name == "google.protobuf.Struct":
            return draw(_struct(2))
        if sub.full_name == "google.protobuf.Value":
            value = struct_pb2.Value()
            value.number_value = draw(st.sampled_from(FLOATS))
            return value
        if sub.full_name == "google.protobuf.Timestamp" or depth <= 0:
            return None
        from google.protobuf import symbol_database

        cls = symbol_database.Default().GetSymbol(sub.full_name)
        return draw(messages(sub, cls, depth - 1))
    return draw(_scalar(field, field.name))


def _set(draw: st.DrawFn, message: Message, field: FieldDescriptor, depth: int) -> None:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        target = getattr(message, field.name)
        for _ in range(draw(st.integers(0, 3))):
            key = draw(st.one_of(st.text(max_size=10), st.sampled_from(["", "Team", "a" * 70])))
            value_field = field.message_type.fields_by_name["value"]
            try:
                if value_field.type == _T.TYPE_MESSAGE:
                    continue
                target[key] = draw(_scalar(value_field, "value"))
            except (ValueError, TypeError):
                pass
        return
    try:
        if field.is_repeated:
            container = getattr(message, field.name)
            for _ in range(draw(st.integers(0, 3))):
                value = _value(draw, field, depth)
                if value is None:
                    continue
                if field.type == _T.TYPE_MESSAGE:
                    container.add().CopyFrom(value)
                else:
                    container.append(value)
        else:
            value = _value(draw, field, depth)
            if value is None:
                return
            if field.type == _T.TYPE_MESSAGE:
                getattr(message, field.name).CopyFrom(value)
            else:
                setattr(message, field.name, value)
    except (ValueError, TypeError):
        pass  # a value protobuf itself refuses (e.g. a surrogate in a string) is not a request
