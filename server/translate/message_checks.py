"""Checks every request message needs whatever its service: enum values the contract defines,
and JSON values that JSON can carry.

Proto3 lets a caller send any number for an enum and any double in a Struct; an enum value
the gateway does not know, or a NaN/Infinity that JSON cannot encode, is INVALID_ARGUMENT
naming the field instead of a default silently applied or a failure deep in a translator.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator

from google.protobuf import struct_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from server.errors import FieldViolation

_STRUCT = struct_pb2.Struct.DESCRIPTOR.full_name
_VALUE = struct_pb2.Value.DESCRIPTOR.full_name
_LIST = struct_pb2.ListValue.DESCRIPTOR.full_name


def _json_problems(value: Message, path: str) -> Iterator[FieldViolation]:
    name = value.DESCRIPTOR.full_name
    if name == _STRUCT:
        assert isinstance(value, struct_pb2.Struct)
        for key, item in value.fields.items():
            yield from _json_problems(item, f"{path}.{key}")
    elif name == _LIST:
        assert isinstance(value, struct_pb2.ListValue)
        for i, item in enumerate(value.values):
            yield from _json_problems(item, f"{path}[{i}]")
    elif name == _VALUE:
        assert isinstance(value, struct_pb2.Value)
        kind = value.WhichOneof("kind")
        if kind == "number_value" and not math.isfinite(value.number_value):
            yield FieldViolation(path, "is not a finite number (JSON has no NaN or Infinity)")
        elif kind == "struct_value":
            yield from _json_problems(value.struct_value, path)
        elif kind == "list_value":
            yield from _json_problems(value.list_value, path)


_SKIP, _ENUM, _JSON, _MESSAGE = range(4)
_JSON_TYPES = (_STRUCT, _VALUE, _LIST)


@functools.cache
def _may_hold_problems(descriptor: Descriptor) -> bool:
    """Whether a message of this type can hold an enum or a JSON value at any depth."""
    todo, seen = [descriptor], set()
    while todo:
        d = todo.pop()
        if d.full_name in seen:
            continue
        seen.add(d.full_name)
        if d.full_name in _JSON_TYPES:
            return True
        for f in d.fields:
            if f.type == FieldDescriptor.TYPE_ENUM:
                return True
            if f.message_type is not None and not f.message_type.GetOptions().map_entry:
                todo.append(f.message_type)
    return False


@functools.cache
def _field_plan(field: FieldDescriptor) -> tuple[int, frozenset[int]]:
    """What checking a field takes, worked out once per field (the walk is on every call)."""
    if field.type == FieldDescriptor.TYPE_ENUM and field.enum_type is not None:
        return _ENUM, frozenset(field.enum_type.values_by_number)
    m = field.message_type
    if field.type != FieldDescriptor.TYPE_MESSAGE or m is None or m.GetOptions().map_entry:
        return _SKIP, frozenset()  # string maps (labels) hold no enums or JSON values
    if m.full_name in _JSON_TYPES:
        return _JSON, frozenset()
    return (_MESSAGE if _may_hold_problems(m) else _SKIP), frozenset()


def message_problems(message: Message, path: str = "") -> Iterator[FieldViolation]:
    """Unknown enum numbers and non-finite JSON numbers anywhere in `message`."""
    for field, value in message.ListFields():
        kind, numbers = _field_plan(field)
        if kind == _SKIP:
            continue
        where = f"{path}.{field.name}" if path else field.name
        repeated = field.is_repeated
        items = value if repeated else (value,)
        if kind == _ENUM:
            for i, number in enumerate(items):
                if number not in numbers:
                    at = f"{where}[{i}]" if repeated else where
                    yield FieldViolation(at, f"unknown value {number}")
            continue
        for i, item in enumerate(items):
            at = f"{where}[{i}]" if repeated else where
            if kind == _JSON:
                yield from _json_problems(item, at)
            else:
                yield from message_problems(item, at)
