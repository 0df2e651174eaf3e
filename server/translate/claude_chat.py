"""Claude on Vertex chat: ChatRequest -> Anthropic Messages JSON, and Messages JSON -> replies.

Pure functions, no I/O. The body is the Anthropic Messages API body as Vertex takes it on
`publishers/anthropic/models/{id}:rawPredict` / `:streamRawPredict`: no `model` key (the model is
in the URL) and `anthropic_version` in the body (vertex-wire.md §4.1, §4.4). Count tokens goes to
the `count-tokens` pseudo-model, whose body does carry `model`.

Choices made here, beyond the one-to-one mapping:

- `labels` are not sent: Claude's body has nowhere to put them. They are billing metadata a
  caller may set on every request regardless of the model, so they are dropped, not rejected.
- Reasoning: `include_thoughts` has no effect. Claude always returns its thinking blocks
  (`thinking` with a signature, `redacted_thinking`) and they must be sent back to continue a
  tool-use turn, so they are always returned as Thought parts. Claude's `output_tokens` include
  the thinking tokens and Claude does not report them apart, so `Usage.reasoning_tokens` stays 0.
- Signatures: the gateway stores a Claude thinking signature (a string) as its UTF-8 bytes in
  `Part.thought_signature`, and redacted thinking data the same way in `Thought.redacted_data`,
  so both round-trip exactly. Thought parts sent back the way StreamChat produced them (text
  pieces, then an empty thought carrying the signature) are joined into one thinking block.
- JSON output: Claude on Vertex has no JSON mode. A JSON response_format adds one tool (named
  `schema_name`, or "json_response") whose input schema is the requested schema, and forces it;
  the reply's call of that tool comes back as a text part holding the JSON (streamed as text
  deltas), with finish reason STOP (the native reason stays "tool_use").
- In a user turn Claude wants tool_result blocks before any other content, so the blocks of a
  merged user message are reordered to put tool results first (their relative order is kept).
- Struct values (tool arguments, schemas, tool outputs) are sent with sorted keys and integral
  numbers as integers: a Struct keeps neither order nor int/float, and a byte-stable body keeps
  Claude's prompt cache hitting. A non-string tool output is sent as compact JSON text.
- `Media.display_name` becomes a document's `title`; Claude's image blocks have no name field.
- Checked here because Claude would reject them with a less precise 400: at most 4 cache
  breakpoints, no breakpoint on a thinking block, thinking blocks must carry their signature,
  Claude's tool-name pattern, max_output_tokens within the model's limit, top_p >= 0.95 while
  thinking, a JSON schema whose type is "object".
- AUTO or NONE tool choice without any tool is not sent (it changes nothing, and Claude rejects a
  tool_choice without tools); NONE ignores disable_parallel_calls (no call can be made at all).
- A stream that ends before `message_delta`/`message_stop` fails with UNAVAILABLE
  (UPSTREAM_CONNECTION_LOST) instead of looking like a complete reply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2
from vertex_gateway.v1 import chat_pb2, common_pb2

from server.errors import GatewayError, invalid_argument, upstream_malformed
from server.routing.registry import ModelSpec
from server.vertex.errors import from_error_object

from .json_values import as_int, b64, compact_json, loads_strict, plain, struct_from, struct_json
from .tolerant import tolerant

ANTHROPIC_VERSION = "vertex-2023-10-16"
PUBLISHER = "anthropic"
COUNT_TOKENS_MODEL = "count-tokens"
JSON_TOOL_NAME = "json_response"
DEFAULT_MAX_TOKENS = 4096
MIN_THINKING_BUDGET = 1024
MAX_CACHE_BREAKPOINTS = 4

_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_EPHEMERAL = {"type": "ephemeral"}
_Effort = chat_pb2.ReasoningConfig
_EFFORT_BUDGET = {
    _Effort.EFFORT_MINIMAL: 1024,
    _Effort.EFFORT_LOW: 2048,
    _Effort.EFFORT_MEDIUM: 8192,
    _Effort.EFFORT_HIGH: 16384,
}
_Mode = chat_pb2.ToolChoice
_STOP = {
    "end_turn": common_pb2.FINISH_REASON_STOP,
    "stop_sequence": common_pb2.FINISH_REASON_STOP,
    "max_tokens": common_pb2.FINISH_REASON_MAX_TOKENS,
    "tool_use": common_pb2.FINISH_REASON_TOOL_CALLS,
    "refusal": common_pb2.FINISH_REASON_REFUSAL,
    "pause_turn": common_pb2.FINISH_REASON_PAUSED,
    "model_context_window_exceeded": common_pb2.FINISH_REASON_CONTEXT_WINDOW_EXCEEDED,
}


def _utf8(data: bytes, where: str, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid_argument(
            where, f"is not {what} (Claude's are text); send back the value Claude returned"
        ) from None


# ---------------------------------------------------------------------------------------------
# Request


def _media_block(media: common_pb2.Media, where: str) -> dict[str, Any]:
    mime = media.mime_type.split(";", 1)[0].strip().lower()
    if media.resolution != common_pb2.MEDIA_RESOLUTION_UNSPECIFIED:
        raise invalid_argument(
            f"{where}.resolution", "Claude has no per-media resolution setting; leave it unset"
        )
    if media.HasField("video_metadata"):
        raise invalid_argument(f"{where}.video_metadata", "Claude does not read video")
    if mime in _IMAGE_TYPES:
        kind = "image"
    elif mime == "application/pdf":
        kind = "document"
    elif mime == "text/plain":
        kind = "text"
    else:
        raise invalid_argument(
            f"{where}.mime_type",
            f"Claude reads images (image/jpeg, image/png, image/gif, image/webp), PDF documents"
            f" (application/pdf) and plain text (text/plain), not {media.mime_type!r}",
        )
    source: dict[str, Any]
    if media.WhichOneof("source") == "uri":
        if not media.uri.startswith("https://"):
            raise invalid_argument(
                f"{where}.uri",
                "Claude on Vertex reads media inline or from an https:// URL, not from gs:// or"
                " http:// URIs; send the bytes inline",
            )
        if kind == "text":
            raise invalid_argument(
                f"{where}.uri",
                "Claude reads text/plain documents only inline; send the text as data",
            )
        source = {"type": "url", "url": media.uri}
    elif kind == "text":
        try:
            text = media.data.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid_argument(f"{where}.data", "text/plain media must be UTF-8") from None
        source = {"type": "text", "media_type": "text/plain", "data": text}
    else:
        source = {"type": "base64", "media_type": mime, "data": b64(media.data)}
    block: dict[str, Any] = {"type": "image" if kind == "image" else "document", "source": source}
    if kind != "image" and media.display_name:
        block["title"] = media.display_name
    return block


def _tool_result_block(result: chat_pb2.ToolResult) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": result.id}
    if result.HasField("output"):
        value = plain(json_format.MessageToDict(result.output))
        block["content"] = value if isinstance(value, str) else compact_json(value)
    if result.is_error:
        block["is_error"] = True
    return block


def _blocks(message: chat_pb2.Message, i: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    thinking: list[tuple[dict[str, Any], int]] = []  # thinking blocks and where they start
    for j, part in enumerate(message.parts):
        where = f"messages[{i}].parts[{j}]"
        kind = part.WhichOneof("kind")
        block: dict[str, Any]
        if kind is None:
            continue  # a bare signature carrier (Gemini's); Claude has no use for it
        if kind == "thought":
            if part.cache_breakpoint:
                raise invalid_argument(
                    f"{where}.cache_breakpoint",
                    "Claude cannot end a cache segment on a thinking block; set it on a later part",
                )
            thought = part.thought
            if thought.redacted_data:
                data = _utf8(
                    thought.redacted_data, f"{where}.thought.redacted_data", "redacted data"
                )
                blocks.append({"type": "redacted_thinking", "data": data})
                continue
            signature = _utf8(part.thought_signature, f"{where}.thought_signature", "a signature")
            last = blocks[-1] if blocks else None
            if last is not None and last["type"] == "thinking" and not last["signature"]:
                # The pieces of one thinking block, as StreamChat delivered them.
                last["thinking"] += thought.text
                last["signature"] = signature
                continue
            block = {"type": "thinking", "thinking": thought.text, "signature": signature}
            thinking.append((block, j))
            blocks.append(block)
            continue
        if kind == "text":
            block = {"type": "text", "text": part.text}
        elif kind == "media":
            block = _media_block(part.media, f"{where}.media")
        elif kind == "tool_call":
            call = part.tool_call
            block = {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": struct_json(call.arguments),
            }
        else:
            block = _tool_result_block(part.tool_result)
        if part.cache_breakpoint:
            block["cache_control"] = dict(_EPHEMERAL)
        blocks.append(block)
    for block, j in thinking:
        if not block["signature"]:
            raise invalid_argument(
                f"messages[{i}].parts[{j}].thought_signature",
                "Claude needs the signature of every thinking block sent back; send the thought"
                " parts Claude returned unchanged, with their thought_signature",
            )
    return blocks


def _messages(messages: Iterable[chat_pb2.Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        role = "assistant" if message.role == chat_pb2.ROLE_ASSISTANT else "user"
        blocks = _blocks(message, i)
        if not blocks:
            continue
        # Claude wants strictly alternating roles: parallel tool results, and a tool result
        # followed by user text, become one user message.
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for turn in out:
        if turn["role"] == "user":
            content = turn["content"]
            results = [b for b in content if b["type"] == "tool_result"]
            if results and len(results) < len(content):
                turn["content"] = results + [b for b in content if b["type"] != "tool_result"]
    return out


def _system(parts: Sequence[chat_pb2.Part]) -> list[dict[str, Any]]:
    out = []
    for part in parts:
        block: dict[str, Any] = {"type": "text", "text": part.text}
        if part.cache_breakpoint:
            block["cache_control"] = dict(_EPHEMERAL)
        out.append(block)
    return out


def _check_cache_breakpoints(
    system: Sequence[chat_pb2.Part], messages: Sequence[chat_pb2.Message]
) -> None:
    places = [f"system_instruction[{j}]" for j, p in enumerate(system) if p.cache_breakpoint]
    places += [
        f"messages[{i}].parts[{j}]"
        for i, m in enumerate(messages)
        for j, p in enumerate(m.parts)
        if p.cache_breakpoint
    ]
    if len(places) > MAX_CACHE_BREAKPOINTS:
        raise invalid_argument(
            f"{places[MAX_CACHE_BREAKPOINTS]}.cache_breakpoint",
            f"Claude takes at most {MAX_CACHE_BREAKPOINTS} cache breakpoints per request",
        )


def _tools(tools: Iterable[chat_pb2.Tool]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for k, tool in enumerate(tools):
        kind = tool.WhichOneof("kind")
        if kind != "function":
            raise invalid_argument(
                f"tools[{k}]",
                f"{kind} is not available for Claude through this gateway; declare functions only",
            )
        fn = tool.function
        if not _TOOL_NAME.match(fn.name):
            raise invalid_argument(
                f"tools[{k}].function.name",
                "Claude tool names are 1-64 letters, digits, '_' or '-'",
            )
        if fn.HasField("response"):
            raise invalid_argument(
                f"tools[{k}].function.response",
                "Claude takes no result schema for functions; leave it unset",
            )
        decl: dict[str, Any] = {"name": fn.name}
        if fn.description:
            decl["description"] = fn.description
        decl["input_schema"] = (
            struct_json(fn.parameters)
            if fn.HasField("parameters")
            else {"type": "object", "properties": {}}
        )
        out.append(decl)
    return out


def _tool_choice_set(choice: chat_pb2.ToolChoice) -> bool:
    return bool(
        choice.mode != _Mode.MODE_UNSPECIFIED
        or choice.allowed_function_names
        or choice.disable_parallel_calls
    )


def _tool_choice(
    choice: chat_pb2.ToolChoice, *, has_tools: bool, thinking: bool
) -> dict[str, Any] | None:
    names = list(choice.allowed_function_names)
    mode = choice.mode
    if mode == _Mode.MODE_UNSPECIFIED and names:
        mode = _Mode.MODE_REQUIRED
    if names and mode != _Mode.MODE_REQUIRED:
        raise invalid_argument(
            "tool_choice.allowed_function_names", "only applies with MODE_REQUIRED"
        )
    out: dict[str, Any]
    if mode == _Mode.MODE_REQUIRED:
        where = "tool_choice.mode" if choice.mode else "tool_choice.allowed_function_names"
        if thinking:
            raise invalid_argument(
                where,
                "Claude cannot be forced to call a tool while thinking; use MODE_AUTO or turn"
                " reasoning off",
            )
        if not has_tools:
            raise invalid_argument(where, "MODE_REQUIRED needs at least one declared function")
        if len(names) > 1:
            raise invalid_argument(
                "tool_choice.allowed_function_names",
                "Claude forces either any tool or one named tool: give one name, or none",
            )
        out = {"type": "tool", "name": names[0]} if names else {"type": "any"}
    elif not has_tools:
        return None  # AUTO or NONE without tools changes nothing (and Claude would reject it)
    elif mode == _Mode.MODE_NONE:
        return {"type": "none"}  # parallel calls are moot when no tool may be called
    elif mode == _Mode.MODE_AUTO or choice.disable_parallel_calls:
        out = {"type": "auto"}
    else:
        return None
    if choice.disable_parallel_calls:
        out["disable_parallel_tool_use"] = True
    return out


def _reject_unsupported(request: chat_pb2.ChatRequest) -> None:
    cfg = request.generation_config
    where = "generation_config"
    unsupported = [
        (cfg.HasField("seed"), "seed", "Claude has no sampling seed"),
        (cfg.HasField("presence_penalty"), "presence_penalty", "Claude has no presence penalty"),
        (cfg.HasField("frequency_penalty"), "frequency_penalty", "Claude has no frequency penalty"),
        (cfg.candidate_count > 1, "candidate_count", "Claude returns one candidate"),
        (cfg.response_logprobs, "response_logprobs", "Claude returns no log probabilities"),
        (cfg.HasField("logprobs"), "logprobs", "Claude returns no log probabilities"),
        (
            cfg.media_resolution != common_pb2.MEDIA_RESOLUTION_UNSPECIFIED,
            "media_resolution",
            "Claude has no media resolution setting",
        ),
    ]
    for present, name, why in unsupported:
        if present:
            raise invalid_argument(f"{where}.{name}", f"{why}; leave it unset")
    if request.safety_settings:
        raise invalid_argument(
            "safety_settings", "Claude on Vertex takes no per-request safety settings"
        )
    if request.cached_content:
        raise invalid_argument(
            "cached_content",
            "Claude does not read Vertex context caches; mark prompt-cache segments with"
            " Part.cache_breakpoint instead",
        )


def _max_tokens(cfg: chat_pb2.GenerationConfig, spec: ModelSpec) -> int:
    limit = spec.output_token_limit
    if cfg.HasField("max_output_tokens"):
        if limit is not None and cfg.max_output_tokens > limit:
            raise invalid_argument(
                "generation_config.max_output_tokens", f"{spec.id} generates at most {limit} tokens"
            )
        return cfg.max_output_tokens
    return limit or DEFAULT_MAX_TOKENS


def _thinking_budget(request: chat_pb2.ChatRequest, spec: ModelSpec, max_tokens: int) -> int | None:
    """The thinking budget to send, or None to leave thinking off."""
    if not request.HasField("reasoning"):
        return None
    reasoning = request.reasoning
    explicit = reasoning.HasField("budget_tokens")
    if explicit and reasoning.budget_tokens == 0:
        return None
    if not explicit and reasoning.effort in (_Effort.EFFORT_UNSPECIFIED, _Effort.EFFORT_NONE):
        return None  # Claude's default is not to think
    if spec.reasoning is None or spec.thinking_budget is None:
        raise invalid_argument(
            "reasoning",
            f"model {spec.id} does not reason; remove the reasoning settings",
            "CAPABILITY_NOT_SUPPORTED",
        )
    low, high = spec.thinking_budget
    low = max(low, MIN_THINKING_BUDGET)
    high = min(high, max_tokens - 1)
    if explicit:
        budget = reasoning.budget_tokens
        if not low <= budget <= high:
            if high < low:
                why = (
                    f"Claude thinks with a budget of at least {low} tokens below max_tokens"
                    f" ({max_tokens}); raise generation_config.max_output_tokens, or set 0 to"
                    " turn thinking off"
                )
            else:
                why = (
                    f"Claude ({spec.id}) takes {low} to {high} (below max_tokens {max_tokens}),"
                    " or 0 to turn thinking off"
                )
            raise invalid_argument("reasoning.budget_tokens", why)
        return budget
    budget = min(_EFFORT_BUDGET[reasoning.effort], high)
    if budget < low:
        raise invalid_argument(
            "generation_config.max_output_tokens",
            f"Claude needs more than {low} output tokens to think (max_tokens is {max_tokens});"
            " raise it, or set reasoning.effort to EFFORT_NONE",
        )
    return budget


def _check_thinking_sampling(cfg: chat_pb2.GenerationConfig) -> None:
    if cfg.HasField("temperature") and cfg.temperature != 1:
        raise invalid_argument(
            "generation_config.temperature",
            "Claude allows only temperature 1 while thinking; leave it unset or turn reasoning off",
        )
    if cfg.HasField("top_k"):
        raise invalid_argument(
            "generation_config.top_k",
            "Claude does not allow top_k while thinking; leave it unset or turn reasoning off",
        )
    if cfg.HasField("top_p") and cfg.top_p < 0.95:
        raise invalid_argument(
            "generation_config.top_p", "Claude allows top_p only from 0.95 to 1 while thinking"
        )


def json_tool_name(request: chat_pb2.ChatRequest) -> str | None:
    """The name of the tool that carries a JSON reply, or None when the reply is text."""
    rf = request.response_format
    if rf.type in (
        chat_pb2.ResponseFormat.TYPE_JSON_OBJECT,
        chat_pb2.ResponseFormat.TYPE_JSON_SCHEMA,
    ):
        return rf.schema_name or JSON_TOOL_NAME
    return None


def _json_tool(
    request: chat_pb2.ChatRequest, tools: list[dict[str, Any]], *, thinking: bool
) -> dict[str, Any] | None:
    name = json_tool_name(request)
    if name is None:
        return None
    rf = request.response_format
    if thinking:
        raise invalid_argument(
            "response_format",
            "Claude returns JSON through a forced tool call, which it cannot make while thinking;"
            " turn reasoning off or ask for text",
        )
    if _tool_choice_set(request.tool_choice):
        raise invalid_argument(
            "tool_choice",
            "Claude returns JSON through a forced tool call, so tool_choice cannot be set with a"
            " JSON response_format",
        )
    if not _TOOL_NAME.match(name):
        raise invalid_argument(
            "response_format.schema_name",
            "names the tool that carries Claude's JSON: 1-64 letters, digits, '_' or '-'",
        )
    if tools:
        # The forced JSON tool would leave the caller's functions uncallable: refuse rather
        # than silently disable them.
        raise invalid_argument(
            "tools",
            "Claude returns JSON through a forced tool call, so no other tool could be called;"
            " declare tools or ask for a JSON response_format, not both",
        )
    if rf.type == chat_pb2.ResponseFormat.TYPE_JSON_SCHEMA:
        schema = struct_json(rf.json_schema)
        if schema.get("type") != "object":
            raise invalid_argument(
                "response_format.json_schema",
                'Claude returns JSON as a tool input, which is an object: the schema\'s "type"'
                ' must be "object"',
            )
    else:
        schema = {"type": "object"}
    return {
        "name": name,
        "description": "Give your response by calling this tool, with the response as its input.",
        "input_schema": schema,
    }


def to_messages(
    request: chat_pb2.ChatRequest, spec: ModelSpec, *, stream: bool = False
) -> dict[str, Any]:
    """The rawPredict (or streamRawPredict, with `stream`) body for a validated ChatRequest."""
    _reject_unsupported(request)
    cfg = request.generation_config
    max_tokens = _max_tokens(cfg, spec)
    budget = _thinking_budget(request, spec, max_tokens)
    thinking = budget is not None
    if thinking:
        _check_thinking_sampling(cfg)
    _check_cache_breakpoints(request.system_instruction, request.messages)
    body: dict[str, Any] = {
        "anthropic_version": ANTHROPIC_VERSION,
        "max_tokens": max_tokens,
        "messages": _messages(request.messages),
    }
    if request.system_instruction:
        body["system"] = _system(request.system_instruction)
    tools = _tools(request.tools)
    json_tool = _json_tool(request, tools, thinking=thinking)
    choice: dict[str, Any] | None
    if json_tool is not None:
        tools.append(json_tool)
        choice = {"type": "tool", "name": json_tool["name"]}
    else:
        choice = _tool_choice(request.tool_choice, has_tools=bool(tools), thinking=thinking)
    if tools:
        body["tools"] = tools
    if choice is not None:
        body["tool_choice"] = choice
    if budget is not None:
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if cfg.HasField("temperature"):
        body["temperature"] = cfg.temperature
    if cfg.HasField("top_p"):
        body["top_p"] = cfg.top_p
    if cfg.HasField("top_k"):
        body["top_k"] = cfg.top_k
    if cfg.stop_sequences:
        body["stop_sequences"] = list(cfg.stop_sequences)
    if stream:
        body["stream"] = True
    return body


def to_count_tokens(request: chat_pb2.CountTokensRequest, spec: ModelSpec) -> dict[str, Any]:
    """The count-tokens:rawPredict body (this one names the model in the body)."""
    _check_cache_breakpoints(request.system_instruction, request.messages)
    body: dict[str, Any] = {
        "model": spec.id,
        "anthropic_version": ANTHROPIC_VERSION,
        "messages": _messages(request.messages),
    }
    if request.system_instruction:
        body["system"] = _system(request.system_instruction)
    tools = _tools(request.tools)
    if tools:
        body["tools"] = tools
    return body


# ---------------------------------------------------------------------------------------------
# Response


def _malformed(what: str) -> GatewayError:
    return upstream_malformed(f"Claude response: {what}")


def usage_from(raw: Mapping[str, Any]) -> common_pb2.Usage:
    """Every counter of Claude's `usage` (input_tokens there excludes cache reads and writes)."""
    base = as_int(raw.get("input_tokens"))
    read = as_int(raw.get("cache_read_input_tokens"))
    if raw.get("cache_creation_input_tokens") is not None:
        write = as_int(raw.get("cache_creation_input_tokens"))
    else:
        split = raw.get("cache_creation")
        write = (
            as_int(split.get("ephemeral_5m_input_tokens"))
            + as_int(split.get("ephemeral_1h_input_tokens"))
            if isinstance(split, Mapping)
            else 0
        )
    output = as_int(raw.get("output_tokens"))
    total_input = base + read + write
    return common_pb2.Usage(
        input_tokens=total_input,
        output_tokens=output,
        cached_input_tokens=read,
        cache_write_input_tokens=write,
        total_tokens=total_input + output,
    )


def _finish(
    candidate: chat_pb2.Candidate,
    native: Any,
    stop_sequence: Any,
    *,
    json_used: bool,
    bad_call: str | None,
) -> None:
    if isinstance(native, str) and native:
        candidate.native_finish_reason = native
        reason = _STOP.get(native, common_pb2.FINISH_REASON_OTHER)
        if json_used and reason == common_pb2.FINISH_REASON_TOOL_CALLS:
            reason = common_pb2.FINISH_REASON_STOP  # the forced JSON tool is the answer
        candidate.finish_reason = reason
    if isinstance(stop_sequence, str) and stop_sequence:
        candidate.stop_sequence = stop_sequence
    if bad_call is not None:
        candidate.finish_reason = common_pb2.FINISH_REASON_MALFORMED_TOOL_CALL
        candidate.finish_message = bad_call


def _bad_call(name: str, call_id: str, why: str, text: str) -> str:
    return f"tool call {name} ({call_id}): arguments are {why}: {text[:200]}"


def _thought(text: str = "", signature: str = "") -> chat_pb2.Part:
    part = chat_pb2.Part(thought=chat_pb2.Thought(text=text))
    if signature:
        part.thought_signature = signature.encode()
    return part


def _call_id(raw: Any, index: int) -> str:
    return str(raw) if isinstance(raw, str) and raw else f"call_0_{index}"


@tolerant
def from_message(
    payload: Any, *, model: str, json_tool: str | None = None
) -> chat_pb2.ChatResponse:
    """A ChatResponse from a Claude Message (`json_tool`: see json_tool_name)."""
    if not isinstance(payload, Mapping):
        raise _malformed("expected a JSON object")
    content = payload.get("content")
    if not isinstance(content, list):
        raise _malformed("the message has no content list")
    candidate = chat_pb2.Candidate(index=0, message=chat_pb2.Message(role=chat_pb2.ROLE_ASSISTANT))
    parts = candidate.message.parts
    calls = 0
    json_used = False
    bad_call: str | None = None
    for block in content:
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "text":
            parts.add(text=str(block.get("text") or ""))
        elif kind == "thinking":
            parts.append(
                _thought(str(block.get("thinking") or ""), str(block.get("signature") or ""))
            )
        elif kind == "redacted_thinking":
            part = parts.add()
            part.thought.redacted_data = str(block.get("data") or "").encode()
        elif kind == "tool_use":
            name = str(block.get("name") or "")
            raw_input = block.get("input", {})
            if json_tool is not None and name == json_tool:
                parts.add(text=compact_json(raw_input))
                json_used = True
                continue
            call = chat_pb2.ToolCall(
                id=_call_id(block.get("id"), calls),
                name=name,
                index=calls,
                arguments=struct_pb2.Struct(),
            )
            calls += 1
            if isinstance(raw_input, Mapping):
                arguments, problem = struct_from(raw_input)
                call.arguments.CopyFrom(arguments)
                if problem and bad_call is None:
                    bad_call = _bad_call(name, call.id, problem, compact_json(raw_input))
            elif bad_call is None:
                bad_call = _bad_call(name, call.id, "not a JSON object", compact_json(raw_input))
            parts.add(tool_call=call)
        # server-tool blocks (server_tool_use, web_search_tool_result, ...) and unknown ones:
        # nothing the caller can act on or send back through this contract.
    _finish(
        candidate,
        payload.get("stop_reason"),
        payload.get("stop_sequence"),
        json_used=json_used,
        bad_call=bad_call,
    )
    reply = chat_pb2.ChatResponse(
        id=str(payload.get("id") or ""),
        model=model,
        model_version=str(payload.get("model") or ""),
        candidates=[candidate],
    )
    usage = payload.get("usage")
    if isinstance(usage, Mapping):
        reply.usage.CopyFrom(usage_from(usage))
    return reply


def count_tokens_from(payload: Any) -> chat_pb2.CountTokensResponse:
    """A CountTokensResponse from the count-tokens reply `{"input_tokens": N}`."""
    if not isinstance(payload, Mapping):
        raise _malformed("expected a JSON object")
    tokens = payload.get("input_tokens")
    if not isinstance(tokens, int) or isinstance(tokens, bool):
        # Fail loudly rather than report 0 tokens (a peer's long-standing bug).
        raise _malformed("the count-tokens reply has no input_tokens")
    return chat_pb2.CountTokensResponse(total_tokens=tokens)


@dataclass
class _Block:
    """What the stream knows about one open content block."""

    kind: str  # text, thinking, redacted_thinking, tool_use, json (the JSON tool), ignored
    id: str = ""
    name: str = ""
    index: int = 0
    fragments: list[str] = field(default_factory=list)
    started: bool = False  # a fragment (with id and name) was already sent
    initial: Any = None  # `input` given in content_block_start


class ClaudeStream:
    """Turns the events of one streamRawPredict call into StreamChatResponse deltas."""

    def __init__(self, *, model: str, json_tool: str | None = None) -> None:
        self._model = model
        self._json_tool = json_tool
        self._id = ""
        self._version = ""
        self._first = True
        self._done = False
        self._blocks: dict[Any, _Block] = {}
        self._calls = 0
        self._json_used = False
        self._bad_call: str | None = None
        self._usage: dict[str, Any] = {}
        self._stop: str | None = None
        self._stop_sequence: str | None = None

    def _message(self, parts: Sequence[chat_pb2.Part] = ()) -> chat_pb2.StreamChatResponse:
        out = chat_pb2.StreamChatResponse(
            id=self._id, model=self._model if self._first else "", model_version=self._version
        )
        self._first = False
        if parts:
            out.candidates.add(
                index=0, message=chat_pb2.Message(role=chat_pb2.ROLE_ASSISTANT, parts=parts)
            )
        return out

    def _parts(self, parts: list[chat_pb2.Part]) -> list[chat_pb2.StreamChatResponse]:
        return [self._message(parts)] if parts else []

    @tolerant
    def feed(self, event: Any) -> list[chat_pb2.StreamChatResponse]:
        """The messages one upstream event produces (often none)."""
        if not isinstance(event, Mapping):
            raise _malformed("a stream event is not a JSON object")
        kind = event.get("type")
        if self._done and kind != "error":
            return []
        if kind == "message_start":
            return self._start(event.get("message"))
        if kind == "content_block_start":
            return self._parts(self._block_start(event.get("index"), event.get("content_block")))
        if kind == "content_block_delta":
            return self._parts(self._block_delta(event.get("index"), event.get("delta")))
        if kind == "content_block_stop":
            return self._parts(self._block_stop(event.get("index")))
        if kind == "message_delta":
            delta = event.get("delta")
            if isinstance(delta, Mapping):
                if isinstance(delta.get("stop_reason"), str):
                    self._stop = delta["stop_reason"]
                if isinstance(delta.get("stop_sequence"), str):
                    self._stop_sequence = delta["stop_sequence"]
            self._add_usage(event.get("usage"))
            return self._final() if self._stop is not None else []
        if kind == "message_stop":
            return self._final()
        if kind == "error":
            err = from_error_object(event, None)
            if err is not None:
                raise err
            raise _malformed("an error event without an error object")
        return []  # ping, vertex_event, and event types this gateway does not know

    @tolerant
    def finish(self) -> list[chat_pb2.StreamChatResponse]:
        """Called when the upstream stream ends; fails if it ended before the reply did."""
        if not self._done:
            raise GatewayError(
                grpc.StatusCode.UNAVAILABLE,
                "Vertex AI's Claude stream ended before the reply was complete",
                "UPSTREAM_CONNECTION_LOST",
            )
        return []

    def _add_usage(self, usage: Any) -> None:
        if isinstance(usage, Mapping):
            self._usage.update({k: v for k, v in usage.items() if v is not None})

    def _start(self, message: Any) -> list[chat_pb2.StreamChatResponse]:
        if not isinstance(message, Mapping):
            raise _malformed("message_start has no message")
        self._id = str(message.get("id") or "")
        self._version = str(message.get("model") or "")
        self._add_usage(message.get("usage"))
        return [self._message()] if self._first else []

    def _block_start(self, index: Any, block: Any) -> list[chat_pb2.Part]:
        if not isinstance(block, Mapping):
            raise _malformed("content_block_start has no content_block")
        kind = block.get("type")
        parts: list[chat_pb2.Part] = []
        if kind == "text":
            self._blocks[index] = _Block("text")
            if block.get("text"):
                parts.append(chat_pb2.Part(text=str(block["text"])))
        elif kind == "thinking":
            self._blocks[index] = _Block("thinking")
            if block.get("thinking"):
                parts.append(_thought(str(block["thinking"])))
            if block.get("signature"):
                parts.append(_thought(signature=str(block["signature"])))
        elif kind == "redacted_thinking":
            self._blocks[index] = _Block("redacted_thinking")
            part = chat_pb2.Part()
            part.thought.redacted_data = str(block.get("data") or "").encode()
            parts.append(part)
        elif kind == "tool_use":
            name = str(block.get("name") or "")
            if self._json_tool is not None and name == self._json_tool:
                self._json_used = True
                self._blocks[index] = _Block("json", name=name, initial=block.get("input"))
            else:
                self._blocks[index] = _Block(
                    "tool_use",
                    id=_call_id(block.get("id"), self._calls),
                    name=name,
                    index=self._calls,
                    initial=block.get("input"),
                )
                self._calls += 1
        else:
            self._blocks[index] = _Block("ignored")  # server tools, unknown block types
        return parts

    def _block_delta(self, index: Any, delta: Any) -> list[chat_pb2.Part]:
        if not isinstance(delta, Mapping):
            raise _malformed("content_block_delta has no delta")
        block = self._blocks.get(index)
        if block is not None and block.kind == "ignored":
            return []
        kind = delta.get("type")
        if kind == "text_delta":
            text = str(delta.get("text") or "")
            return [chat_pb2.Part(text=text)] if text else []
        if kind == "thinking_delta":
            text = str(delta.get("thinking") or "")
            return [_thought(text)] if text else []
        if kind == "signature_delta":
            signature = str(delta.get("signature") or "")
            return [_thought(signature=signature)] if signature else []
        if kind == "input_json_delta" and block is not None:
            fragment = str(delta.get("partial_json") or "")
            block.fragments.append(fragment)
            if not fragment:
                return []
            if block.kind == "json":
                return [chat_pb2.Part(text=fragment)]
            if block.kind == "tool_use":
                call = chat_pb2.ToolCall(index=block.index, arguments_delta=fragment)
                if not block.started:
                    call.id, call.name = block.id, block.name
                    block.started = True
                return [chat_pb2.Part(tool_call=call)]
        return []  # citations_delta and unknown deltas

    def _block_stop(self, index: Any) -> list[chat_pb2.Part]:
        block = self._blocks.pop(index, None)
        if block is None:
            return []
        text = "".join(block.fragments)
        if block.kind == "json":
            if not text.strip() and isinstance(block.initial, Mapping) and block.initial:
                return [chat_pb2.Part(text=compact_json(block.initial))]
            return []
        if block.kind != "tool_use":
            return []
        call = chat_pb2.ToolCall(
            id=block.id, name=block.name, index=block.index, arguments=struct_pb2.Struct()
        )
        if not text.strip():
            parsed: Any = block.initial if isinstance(block.initial, Mapping) else {}
            why = ""
        else:
            try:
                parsed = loads_strict(text)
                why = "not a JSON object"
            except ValueError:
                parsed = None
                why = "not valid JSON"
        if isinstance(parsed, Mapping):
            arguments, problem = struct_from(parsed)
            call.arguments.CopyFrom(arguments)
            if problem and self._bad_call is None:
                self._bad_call = _bad_call(block.name, block.id, problem, text)
        elif self._bad_call is None:
            self._bad_call = _bad_call(block.name, block.id, why, text)
        return [chat_pb2.Part(tool_call=call)]

    def _final(self) -> list[chat_pb2.StreamChatResponse]:
        if self._done:
            return []
        self._done = True
        candidate = chat_pb2.Candidate(
            index=0, message=chat_pb2.Message(role=chat_pb2.ROLE_ASSISTANT)
        )
        _finish(
            candidate,
            self._stop,
            self._stop_sequence,
            json_used=self._json_used,
            bad_call=self._bad_call,
        )
        out = self._message()
        out.candidates.append(candidate)
        out.usage.CopyFrom(usage_from(self._usage))
        return [out]
