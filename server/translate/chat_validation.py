"""Validation of a ChatRequest against the gateway's contract, independent of the model family."""

from __future__ import annotations

import re
from typing import Any

from google.protobuf import json_format
from vertex_gateway.v1 import chat_pb2, common_pb2

from server.errors import FieldViolation, invalid_request

from .json_schema import schema_problem
from .labels import label_problems
from .message_checks import message_problems
from .tool_pairing import pair_tool_results

_ROLES = {chat_pb2.ROLE_USER, chat_pb2.ROLE_ASSISTANT, chat_pb2.ROLE_TOOL}
_PLAIN_ROLES = (chat_pb2.ROLE_USER, chat_pb2.ROLE_ASSISTANT)


def _plain_parts(parts: Any) -> bool:
    for part in parts:
        if part.WhichOneof("kind") != "text" or part.thought_signature or part.cache_breakpoint:
            return False
    return True


def plain_text(request: chat_pb2.ChatRequest) -> bool:
    """Whether the request is only text turns: model, user and assistant messages of text
    parts, and an optional text system instruction. Such a request is valid as it stands
    (`validate_chat_request` finds nothing and changes nothing) and needs no capability beyond
    chat (`required_capabilities` is empty), so the hot path checks this instead; any other
    request, valid or not, answers False and takes the full checks."""
    messages: Any = ()
    for field, value in request.ListFields():  # the set fields, each read once
        name = field.name
        if name == "messages":
            messages = value
        elif name == "system_instruction":
            if not _plain_parts(value):
                return False
        elif name != "model":
            return False
    if not messages:
        return False
    for message in messages:
        if message.role not in _PLAIN_ROLES:
            return False
        parts = message.parts
        if not parts or not _plain_parts(parts):
            return False
    return True


def _check_messages(
    messages: list[chat_pb2.Message], out: list[FieldViolation], *, required: bool
) -> None:
    if not messages:
        if required:
            out.append(FieldViolation("messages", "must contain at least one message"))
        return
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if message.role == chat_pb2.ROLE_UNSPECIFIED:
            out.append(
                FieldViolation(
                    f"{where}.role", "is required: ROLE_USER, ROLE_ASSISTANT or ROLE_TOOL"
                )
            )
        elif message.role not in _ROLES:
            out.append(FieldViolation(f"{where}.role", f"unknown role {message.role}"))
        if not message.parts:
            out.append(FieldViolation(f"{where}.parts", "must contain at least one part"))
        for j, part in enumerate(message.parts):
            kind = part.WhichOneof("kind")
            pwhere = f"{where}.parts[{j}]"
            if kind is None:
                if not part.thought_signature:
                    out.append(
                        FieldViolation(
                            pwhere, "is empty: set text, media, tool_call, tool_result or thought"
                        )
                    )
            elif kind == "tool_result" and message.role == chat_pb2.ROLE_ASSISTANT:
                out.append(FieldViolation(pwhere, "tool results belong in a ROLE_TOOL message"))
            elif kind == "tool_call" and message.role != chat_pb2.ROLE_ASSISTANT:
                out.append(FieldViolation(pwhere, "tool calls belong in a ROLE_ASSISTANT message"))
            elif kind == "thought" and message.role != chat_pb2.ROLE_ASSISTANT:
                out.append(FieldViolation(pwhere, "thoughts belong in a ROLE_ASSISTANT message"))
            elif kind == "media":
                _check_media(part.media, f"{pwhere}.media", out)
            elif kind == "tool_result" and not (part.tool_result.id or part.tool_result.name):
                out.append(
                    FieldViolation(
                        f"{pwhere}.tool_result.id", "is required: the id (or name) of the call"
                    )
                )
            elif kind == "tool_call" and not part.tool_call.name:
                out.append(FieldViolation(f"{pwhere}.tool_call.name", "is required"))
            if message.role == chat_pb2.ROLE_TOOL and kind not in ("tool_result", "text"):
                out.append(FieldViolation(pwhere, "a ROLE_TOOL message carries tool_result parts"))


def _check_media(media: common_pb2.Media, where: str, out: list[FieldViolation]) -> None:
    if not media.mime_type:
        out.append(FieldViolation(f"{where}.mime_type", "is required"))
    source = media.WhichOneof("source")
    if source is None:
        out.append(FieldViolation(where, "needs data or uri"))
    elif source == "uri" and not media.uri.startswith(("gs://", "https://", "http://")):
        out.append(FieldViolation(f"{where}.uri", "must be a gs:// or https:// URI"))


def _check_generation(cfg: chat_pb2.GenerationConfig, out: list[FieldViolation]) -> None:
    where = "generation_config"
    if cfg.HasField("temperature") and not 0 <= cfg.temperature <= 2:
        out.append(FieldViolation(f"{where}.temperature", "must be between 0 and 2"))
    if cfg.HasField("top_p") and not 0 <= cfg.top_p <= 1:
        out.append(FieldViolation(f"{where}.top_p", "must be between 0 and 1"))
    if cfg.HasField("top_k") and cfg.top_k < 1:
        out.append(FieldViolation(f"{where}.top_k", "must be at least 1"))
    if cfg.HasField("max_output_tokens") and cfg.max_output_tokens < 1:
        out.append(FieldViolation(f"{where}.max_output_tokens", "must be at least 1"))
    if cfg.HasField("candidate_count") and cfg.candidate_count < 1:
        out.append(FieldViolation(f"{where}.candidate_count", "must be at least 1"))
    if cfg.HasField("logprobs") and cfg.logprobs < 0:
        out.append(FieldViolation(f"{where}.logprobs", "must not be negative"))
    for k, seq in enumerate(cfg.stop_sequences):
        if not seq:
            out.append(FieldViolation(f"{where}.stop_sequences[{k}]", "must not be empty"))


def validate_chat_request(request: chat_pb2.ChatRequest) -> None:
    """Raise INVALID_ARGUMENT listing every problem of the request, each naming its field."""
    out: list[FieldViolation] = list(message_problems(request))
    if out:  # enums and JSON values first: later checks read them
        _raise(out)
    _check_messages(list(request.messages), out, required=True)
    for j, part in enumerate(request.system_instruction):
        if part.WhichOneof("kind") != "text":
            out.append(FieldViolation(f"system_instruction[{j}]", "must be a text part"))
    if request.HasField("generation_config"):
        _check_generation(request.generation_config, out)
    out.extend(label_problems(request.labels))
    for k, setting in enumerate(request.safety_settings):
        if setting.category == chat_pb2.HARM_CATEGORY_UNSPECIFIED:
            out.append(FieldViolation(f"safety_settings[{k}].category", "is required"))
        if setting.threshold == chat_pb2.HARM_BLOCK_THRESHOLD_UNSPECIFIED:
            out.append(FieldViolation(f"safety_settings[{k}].threshold", "is required"))
    names: set[str] = set()
    for k, tool in enumerate(request.tools):
        kind = tool.WhichOneof("kind")
        if kind is None:
            out.append(FieldViolation(f"tools[{k}]", "is empty: set function or a built-in tool"))
        elif kind == "function":
            name = tool.function.name
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$", name):
                out.append(
                    FieldViolation(
                        f"tools[{k}].function.name",
                        "must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or '_'",
                    )
                )
            elif name in names:
                out.append(FieldViolation(f"tools[{k}].function.name", f"duplicate name {name!r}"))
            names.add(name)
            fn = tool.function
            for member in ("parameters", "response"):
                if fn.HasField(member):
                    problem = schema_problem(
                        json_format.MessageToDict(getattr(fn, member)),
                        object_root=member == "parameters",
                    )
                    if problem:
                        out.append(FieldViolation(f"tools[{k}].function.{member}", problem))
    for name in request.tool_choice.allowed_function_names:
        if name not in names:
            out.append(
                FieldViolation(
                    "tool_choice.allowed_function_names", f"{name!r} is not a declared function"
                )
            )
    rf = request.response_format
    if rf.type == chat_pb2.ResponseFormat.TYPE_JSON_SCHEMA and not rf.HasField("json_schema"):
        out.append(
            FieldViolation("response_format.json_schema", "is required with TYPE_JSON_SCHEMA")
        )
    elif rf.HasField("json_schema"):
        if rf.type != chat_pb2.ResponseFormat.TYPE_JSON_SCHEMA:
            out.append(
                FieldViolation("response_format.json_schema", "is only used with TYPE_JSON_SCHEMA")
            )
        problem = schema_problem(json_format.MessageToDict(rf.json_schema))
        if problem:
            out.append(FieldViolation("response_format.json_schema", problem))
    if not out:
        # Pairing completes ids and names in place, so it runs on an otherwise valid request.
        pair_tool_results(list(request.messages), out)
    if out:
        _raise(out)


def _raise(out: list[FieldViolation]) -> None:
    if out:
        raise invalid_request(out)
