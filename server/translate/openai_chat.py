"""Model Garden OpenAI-compatible chat: ChatRequest -> `chat/completions` JSON, and back.

Pure functions, no I/O. The upstream is Vertex's OpenAI-compatible endpoint
(`endpoints/openapi/chat/completions`, or a self-deployed endpoint's id), which takes an OpenAI
`chat.completions` body with `model` = "{publisher}/{model id}" and answers with an OpenAI chat
completion (unary) or `chat.completion.chunk` SSE events (streaming).

What does not cross, and why:
- Thought parts of earlier assistant turns are not sent back: OpenAI-compatible servers take no
  reasoning as input (`reasoning_content` is output only). Thought signatures are ignored too.
- Tool results carry no function name on this wire (only `tool_call_id`).
- `labels` are dropped: the OpenAI-compatible API has no billing labels. `Part.cache_breakpoint`
  is ignored, as the contract says for non-Claude families.
- `reasoning.include_thoughts` has no wire equivalent: reasoning models report their reasoning
  (`reasoning_content`) whenever they produce it, and it is returned as Thought parts.
Everything else the caller asks for and this API cannot express (top_k, safety settings, media
resolution, context caches, Gemini built-in tools, video, reasoning budgets, ...) is rejected with
INVALID_ARGUMENT naming the field, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2, timestamp_pb2
from vertex_gateway.v1 import chat_pb2, common_pb2

from server.errors import GatewayError, invalid_argument, upstream_malformed
from server.routing.registry import ModelSpec

from .json_values import as_int, b64, compact_json, loads_strict, plain, struct_from, struct_json
from .tolerant import tolerant

FAMILY = "OpenAI-compatible Model Garden models"

_SCHEMA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_AUDIO_FORMAT = {
    "audio/wav": "wav",
    "audio/wave": "wav",
    "audio/x-wav": "wav",
    "audio/mp3": "mp3",
    "audio/mpeg": "mp3",
}
_IMAGE_DETAIL = {
    common_pb2.MEDIA_RESOLUTION_LOW: "low",
    common_pb2.MEDIA_RESOLUTION_HIGH: "high",
}
_TOOL_MODE = {
    chat_pb2.ToolChoice.MODE_AUTO: "auto",
    chat_pb2.ToolChoice.MODE_NONE: "none",
    chat_pb2.ToolChoice.MODE_REQUIRED: "required",
}
_EFFORT = {
    chat_pb2.ReasoningConfig.EFFORT_MINIMAL: "low",
    chat_pb2.ReasoningConfig.EFFORT_LOW: "low",
    chat_pb2.ReasoningConfig.EFFORT_MEDIUM: "medium",
    chat_pb2.ReasoningConfig.EFFORT_HIGH: "high",
}
_FINISH = {
    "stop": common_pb2.FINISH_REASON_STOP,
    "length": common_pb2.FINISH_REASON_MAX_TOKENS,
    "tool_calls": common_pb2.FINISH_REASON_TOOL_CALLS,
    "function_call": common_pb2.FINISH_REASON_TOOL_CALLS,
    "content_filter": common_pb2.FINISH_REASON_CONTENT_FILTER,
}
_MAX_SHOWN = 200


# ---------------------------------------------------------------------------------------------
# Request


def _media(media: common_pb2.Media, where: str) -> dict[str, Any]:
    """One user content part for a Media part: image_url, file (PDF) or input_audio."""
    mime = media.mime_type.split(";")[0].strip().lower()
    inline = media.WhichOneof("source") == "data"
    if not (mime.startswith("image/") or mime == "application/pdf" or mime in _AUDIO_FORMAT):
        raise invalid_argument(
            f"{where}.media.mime_type",
            f"{media.mime_type!r} is not accepted by {FAMILY}: they take images, PDF documents"
            " and WAV or MP3 audio",
        )
    if media.HasField("video_metadata"):
        raise invalid_argument(f"{where}.media.video_metadata", f"{FAMILY} do not take video input")
    if mime.startswith("image/"):
        image: dict[str, Any] = {
            "url": f"data:{mime};base64,{b64(media.data)}" if inline else media.uri
        }
        if media.resolution != common_pb2.MEDIA_RESOLUTION_UNSPECIFIED:
            if media.resolution not in _IMAGE_DETAIL:
                raise invalid_argument(
                    f"{where}.media.resolution",
                    f"{FAMILY} take image detail LOW or HIGH only (OpenAI image_url.detail)",
                )
            image["detail"] = _IMAGE_DETAIL[media.resolution]
        return {"type": "image_url", "image_url": image}
    if media.resolution != common_pb2.MEDIA_RESOLUTION_UNSPECIFIED:
        raise invalid_argument(
            f"{where}.media.resolution", f"{FAMILY} take a resolution (detail) for images only"
        )
    if mime == "application/pdf":
        if not inline:
            raise invalid_argument(
                f"{where}.media.uri",
                f"{FAMILY} take PDF documents inline only; send the bytes in media.data",
            )
        return {
            "type": "file",
            "file": {
                "file_data": f"data:application/pdf;base64,{b64(media.data)}",
                "filename": media.display_name or "document.pdf",
            },
        }
    if not inline:
        raise invalid_argument(
            f"{where}.media.uri", f"{FAMILY} take audio inline only; send the bytes in media.data"
        )
    return {
        "type": "input_audio",
        "input_audio": {"data": b64(media.data), "format": _AUDIO_FORMAT[mime]},
    }


def _user(message: chat_pb2.Message, where: str) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(message.parts):
        kind = part.WhichOneof("kind")
        pwhere = f"{where}.parts[{j}]"
        if kind == "text":
            parts.append({"type": "text", "text": part.text})
        elif kind == "media":
            parts.append(_media(part.media, pwhere))
        elif kind is not None:
            raise invalid_argument(pwhere, f"a ROLE_USER message cannot carry a {kind} part")
        # kind None: a bare thought-signature carrier; signatures do not cross this wire
    content: str | list[dict[str, Any]] = parts
    if len(parts) == 1 and parts[0]["type"] == "text":
        content = parts[0]["text"]
    elif not parts:
        content = ""
    return {"role": "user", "content": content}


def _assistant(message: chat_pb2.Message, where: str) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, part in enumerate(message.parts):
        kind = part.WhichOneof("kind")
        if kind == "text":
            texts.append(part.text)
        elif kind == "tool_call":
            call = part.tool_call
            calls.append(
                {
                    "id": call.id,
                    "type": "function",
                    "function": {
                        "name": call.name,
                        "arguments": compact_json(struct_json(call.arguments)),
                    },
                }
            )
        elif kind in ("thought", None):
            continue  # reasoning is output only on this wire; signatures do not cross it
        else:
            raise invalid_argument(
                f"{where}.parts[{j}]",
                f"an assistant message for {FAMILY} carries text and tool calls only, not {kind}",
            )
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        out["tool_calls"] = calls
    elif not texts:
        out["content"] = ""  # an assistant turn that held only thoughts
    return out


def _tool_output(result: chat_pb2.ToolResult) -> str:
    text = ""
    if result.HasField("output"):
        value = plain(json_format.MessageToDict(result.output))
        text = value if isinstance(value, str) else compact_json(value)
    return "ERROR: " + text if result.is_error else text


def _tool(message: chat_pb2.Message, where: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    texts: list[str] = []
    for j, part in enumerate(message.parts):
        kind = part.WhichOneof("kind")
        if kind == "tool_result":
            results.append(
                {
                    "role": "tool",
                    "tool_call_id": part.tool_result.id,
                    "content": _tool_output(part.tool_result),
                }
            )
        elif kind == "text":
            texts.append(part.text)
        elif kind is not None:
            raise invalid_argument(
                f"{where}.parts[{j}]", "a ROLE_TOOL message carries tool_result and text parts"
            )
    if texts:
        # Tool messages must directly follow the assistant's calls: text goes after them.
        content: str | list[dict[str, Any]] = (
            texts[0] if len(texts) == 1 else [{"type": "text", "text": t} for t in texts]
        )
        results.append({"role": "user", "content": content})
    return results


def _messages(request: chat_pb2.ChatRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if request.system_instruction:
        out.append(
            {"role": "system", "content": "\n".join(p.text for p in request.system_instruction)}
        )
    for i, message in enumerate(request.messages):
        where = f"messages[{i}]"
        if message.role == chat_pb2.ROLE_USER:
            out.append(_user(message, where))
        elif message.role == chat_pb2.ROLE_ASSISTANT:
            out.append(_assistant(message, where))
        elif message.role == chat_pb2.ROLE_TOOL:
            out.extend(_tool(message, where))
        else:
            raise invalid_argument(
                f"{where}.role", "must be ROLE_USER, ROLE_ASSISTANT or ROLE_TOOL"
            )
    return out


def _tools(request: chat_pb2.ChatRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for k, tool in enumerate(request.tools):
        kind = tool.WhichOneof("kind")
        if kind != "function":
            raise invalid_argument(
                f"tools[{k}]",
                f"{FAMILY} take function tools only; {kind} is a Gemini built-in tool",
            )
        fn = tool.function
        if fn.HasField("response"):
            raise invalid_argument(
                f"tools[{k}].function.response",
                f"{FAMILY} take no result schema for functions; remove it",
            )
        decl: dict[str, Any] = {"name": fn.name}
        if fn.description:
            decl["description"] = fn.description
        decl["parameters"] = (
            struct_json(fn.parameters)
            if fn.HasField("parameters")
            else {"type": "object", "properties": {}}
        )
        out.append({"type": "function", "function": decl})
    return out


def _tool_choice(request: chat_pb2.ChatRequest, body: dict[str, Any]) -> None:
    if not request.HasField("tool_choice"):
        return
    choice = request.tool_choice
    names = list(choice.allowed_function_names)
    mode = choice.mode
    if names and mode == chat_pb2.ToolChoice.MODE_UNSPECIFIED:
        mode = chat_pb2.ToolChoice.MODE_REQUIRED
    if names and mode != chat_pb2.ToolChoice.MODE_REQUIRED:
        raise invalid_argument(
            "tool_choice.allowed_function_names", "only applies with MODE_REQUIRED"
        )
    if len(names) > 1:
        raise invalid_argument(
            "tool_choice.allowed_function_names",
            f"{FAMILY} can be made to call one named function, not one of several; give one"
            " name, or none to allow any declared function",
        )
    if "tools" not in body:
        if mode == chat_pb2.ToolChoice.MODE_REQUIRED:
            raise invalid_argument("tool_choice.mode", "MODE_REQUIRED needs at least one tool")
        return  # without tools, "auto", "none" and parallel calls change nothing
    if names:
        body["tool_choice"] = {"type": "function", "function": {"name": names[0]}}
    elif mode in _TOOL_MODE:
        body["tool_choice"] = _TOOL_MODE[mode]
    if choice.disable_parallel_calls:
        body["parallel_tool_calls"] = False


def _not_offered(field_path: str, what: str) -> GatewayError:
    return invalid_argument(
        field_path, f"{FAMILY} do not take {what} (not part of the OpenAI-compatible API)"
    )


def _generation(request: chat_pb2.ChatRequest, body: dict[str, Any]) -> None:
    cfg = request.generation_config
    where = "generation_config"
    if cfg.HasField("temperature"):
        body["temperature"] = cfg.temperature
    if cfg.HasField("top_p"):
        body["top_p"] = cfg.top_p
    if cfg.HasField("top_k"):
        raise _not_offered(f"{where}.top_k", "top_k")
    if cfg.HasField("max_output_tokens"):
        body["max_tokens"] = cfg.max_output_tokens
    if cfg.stop_sequences:
        body["stop"] = list(cfg.stop_sequences)
    if cfg.HasField("seed"):
        body["seed"] = cfg.seed
    if cfg.HasField("presence_penalty"):
        body["presence_penalty"] = cfg.presence_penalty
    if cfg.HasField("frequency_penalty"):
        body["frequency_penalty"] = cfg.frequency_penalty
    if cfg.HasField("candidate_count"):
        body["n"] = cfg.candidate_count
    if cfg.HasField("response_logprobs"):
        body["logprobs"] = cfg.response_logprobs
    if cfg.HasField("logprobs"):
        if cfg.HasField("response_logprobs") and not cfg.response_logprobs:
            raise invalid_argument(
                f"{where}.logprobs", "top log probabilities need response_logprobs true"
            )
        body["logprobs"] = True  # OpenAI requires logprobs with top_logprobs
        body["top_logprobs"] = cfg.logprobs
    if cfg.media_resolution != common_pb2.MEDIA_RESOLUTION_UNSPECIFIED:
        raise _not_offered(f"{where}.media_resolution", "a media resolution")


def _response_format(request: chat_pb2.ChatRequest, body: dict[str, Any]) -> None:
    rf = request.response_format
    if rf.type == chat_pb2.ResponseFormat.TYPE_JSON_OBJECT:
        body["response_format"] = {"type": "json_object"}
    elif rf.type == chat_pb2.ResponseFormat.TYPE_JSON_SCHEMA:
        name = rf.schema_name or "response"
        if not _SCHEMA_NAME.match(name):
            raise invalid_argument(
                "response_format.schema_name",
                f"{FAMILY} take a schema name of 1-64 letters, digits, '_' or '-'",
            )
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": struct_json(rf.json_schema)},
        }


def _reasoning(request: chat_pb2.ChatRequest, spec: ModelSpec, body: dict[str, Any]) -> None:
    if not request.HasField("reasoning"):
        return
    reasoning = request.reasoning
    effort = reasoning.effort
    asked = effort != chat_pb2.ReasoningConfig.EFFORT_UNSPECIFIED or reasoning.HasField(
        "budget_tokens"
    )
    off = effort == chat_pb2.ReasoningConfig.EFFORT_NONE or (
        reasoning.HasField("budget_tokens") and reasoning.budget_tokens == 0
    )
    if spec.reasoning is None:
        if off and not reasoning.include_thoughts:
            return  # reasoning off on a model that never reasons: nothing to send
        if asked or reasoning.include_thoughts:
            raise invalid_argument(
                "reasoning",
                f"model {spec.id} does not reason; remove the reasoning settings",
                "CAPABILITY_NOT_SUPPORTED",
            )
        return
    if reasoning.HasField("budget_tokens"):
        raise invalid_argument(
            "reasoning.budget_tokens",
            f"{spec.id} takes a reasoning effort, not a token budget; set reasoning.effort",
        )
    if effort == chat_pb2.ReasoningConfig.EFFORT_NONE:
        raise invalid_argument(
            "reasoning.effort",
            f"{spec.id} cannot turn reasoning off; use EFFORT_LOW, or leave effort unset",
        )
    if effort in _EFFORT:
        body["reasoning_effort"] = _EFFORT[effort]


def to_chat_completions(
    request: chat_pb2.ChatRequest, spec: ModelSpec, *, stream: bool = False
) -> dict[str, Any]:
    """The `chat/completions` body for a validated ChatRequest (`stream` adds SSE + usage)."""
    if request.safety_settings:
        raise _not_offered("safety_settings", "safety settings")
    if request.cached_content:
        raise _not_offered("cached_content", "Vertex context caches")
    body: dict[str, Any] = {"model": f"{spec.publisher}/{spec.id}", "messages": _messages(request)}
    tools = _tools(request)
    if tools:
        body["tools"] = tools
    _tool_choice(request, body)
    _generation(request, body)
    _response_format(request, body)
    _reasoning(request, spec, body)
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


# ---------------------------------------------------------------------------------------------
# Response


def _malformed(what: str) -> GatewayError:
    return upstream_malformed(f"OpenAI-compatible {what}")


def _details(
    raw: Mapping[str, Any], keys: Mapping[str, common_pb2.Modality.ValueType]
) -> list[common_pb2.ModalityTokenCount]:
    out = []
    for key, modality in keys.items():
        count = as_int(raw.get(key))
        if count > 0:
            out.append(common_pb2.ModalityTokenCount(modality=modality, token_count=count))
    return out


_INPUT_DETAILS = {
    "text_tokens": common_pb2.MODALITY_TEXT,
    "image_tokens": common_pb2.MODALITY_IMAGE,
    "audio_tokens": common_pb2.MODALITY_AUDIO,
}
_OUTPUT_DETAILS = {
    "text_tokens": common_pb2.MODALITY_TEXT,
    "audio_tokens": common_pb2.MODALITY_AUDIO,
}


def usage_from(raw: Mapping[str, Any]) -> common_pb2.Usage:
    """Every counter of an OpenAI `usage` object.

    output_tokens = completion_tokens - reasoning_tokens (OpenAI counts reasoning inside
    completion_tokens), unless total_tokens shows the server left reasoning out of
    completion_tokens (total = prompt + completion + reasoning).
    """
    prompt = as_int(raw.get("prompt_tokens"))
    completion = as_int(raw.get("completion_tokens"))
    p_details = raw.get("prompt_tokens_details")
    c_details = raw.get("completion_tokens_details")
    p_details = p_details if isinstance(p_details, Mapping) else {}
    c_details = c_details if isinstance(c_details, Mapping) else {}
    reasoning = as_int(c_details.get("reasoning_tokens"))
    total = as_int(raw.get("total_tokens"))
    separate = reasoning > 0 and total == prompt + completion + reasoning
    return common_pb2.Usage(
        input_tokens=prompt,
        output_tokens=completion if separate else max(completion - reasoning, 0),
        reasoning_tokens=reasoning,
        cached_input_tokens=as_int(p_details.get("cached_tokens")),
        cache_write_input_tokens=as_int(p_details.get("cache_write_tokens")),
        total_tokens=total or prompt + completion,
        input_details=_details(p_details, _INPUT_DETAILS),
        output_details=_details(c_details, _OUTPUT_DETAILS),
    )


def _text(content: Any) -> str:
    """Message content: a string, or (some servers) a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, Mapping) and p.get("type", "text") == "text"
        )
    return ""


def _reasoning_text(raw: Mapping[str, Any]) -> str:
    # `reasoning_content` (Vertex MaaS, vLLM, DeepSeek); newer vLLM names it `reasoning`.
    for key in ("reasoning_content", "reasoning"):
        value = raw.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _arguments(raw: Any) -> tuple[struct_pb2.Struct, str | None]:
    """Parsed call arguments, and what is wrong with them (None when they are a JSON object)."""
    args = struct_pb2.Struct()
    if isinstance(raw, Mapping):
        args, problem = struct_from(raw)
        return args, problem
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return args, None  # some servers send "" for a call without arguments
    text = raw if isinstance(raw, str) else compact_json(raw)
    try:
        value = loads_strict(text)
    except ValueError:
        return args, f"arguments are not valid JSON: {text[:_MAX_SHOWN]}"
    if not isinstance(value, dict):
        return args, f"arguments are not a JSON object: {text[:_MAX_SHOWN]}"
    args, problem = struct_from(value)
    return args, (f"{problem}: {text[:_MAX_SHOWN]}" if problem else None)


def _complete_call(
    call_id: str, name: str, raw_arguments: Any, index: int
) -> tuple[chat_pb2.Part, str | None]:
    """A Part with a whole tool call, and a finish message when its arguments are unusable."""
    args, problem = _arguments(raw_arguments)
    part = chat_pb2.Part(
        tool_call=chat_pb2.ToolCall(id=call_id, name=name, arguments=args, index=index)
    )
    return part, (f"tool call {name} ({call_id}): {problem}" if problem else None)


def _finish(
    candidate: chat_pb2.Candidate,
    native: Any,
    *,
    has_calls: bool,
    refused: bool,
    problem: str | None,
) -> None:
    if native:
        candidate.native_finish_reason = str(native)
        reason = _FINISH.get(str(native), common_pb2.FINISH_REASON_OTHER)
        if reason == common_pb2.FINISH_REASON_STOP and has_calls:
            reason = common_pb2.FINISH_REASON_TOOL_CALLS  # some servers say "stop" after calls
        elif reason == common_pb2.FINISH_REASON_STOP and refused:
            reason = common_pb2.FINISH_REASON_REFUSAL
        candidate.finish_reason = reason
    if problem:
        candidate.finish_reason = common_pb2.FINISH_REASON_MALFORMED_TOOL_CALL
        candidate.finish_message = problem


def _message_calls(
    message: Mapping[str, Any], candidate: int
) -> tuple[list[chat_pb2.Part], str | None]:
    raw_calls = message.get("tool_calls")
    if raw_calls is None and isinstance(message.get("function_call"), Mapping):
        raw_calls = [{"function": message["function_call"]}]  # the deprecated single call
    if raw_calls is None:
        return [], None
    if not isinstance(raw_calls, list):
        raise _malformed("reply: tool_calls is not a list")
    parts: list[chat_pb2.Part] = []
    problem: str | None = None
    for k, raw in enumerate(raw_calls):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("function"), Mapping):
            raise _malformed("reply: a tool call has no function object")
        fn: Mapping[str, Any] = raw["function"]
        call_id = str(raw.get("id") or f"call_{candidate}_{k}")
        part, issue = _complete_call(call_id, str(fn.get("name") or ""), fn.get("arguments"), k)
        parts.append(part)
        problem = problem or issue
    return parts, problem


def _avg_logprob(raw: Any) -> float | None:
    content = raw.get("content") if isinstance(raw, Mapping) else None
    if not isinstance(content, list):
        return None
    values = [
        float(t["logprob"])
        for t in content
        if isinstance(t, Mapping)
        and isinstance(t.get("logprob"), int | float)
        and not isinstance(t.get("logprob"), bool)
    ]
    return sum(values) / len(values) if values else None


def _candidate(raw: Any, position: int) -> chat_pb2.Candidate:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("message"), Mapping):
        raise _malformed("reply: a choice has no message object")
    message: Mapping[str, Any] = raw["message"]
    index = as_int(raw.get("index", position))
    parts: list[chat_pb2.Part] = []
    thought = _reasoning_text(message)
    if thought:
        parts.append(chat_pb2.Part(thought=chat_pb2.Thought(text=thought)))
    text = _text(message.get("content"))
    if text:
        parts.append(chat_pb2.Part(text=text))
    refusal = message.get("refusal")
    refused = isinstance(refusal, str) and bool(refusal)
    if refused:
        parts.append(chat_pb2.Part(text=str(refusal)))
    calls, problem = _message_calls(message, index)
    parts.extend(calls)
    candidate = chat_pb2.Candidate(
        index=index, message=chat_pb2.Message(role=chat_pb2.ROLE_ASSISTANT, parts=parts)
    )
    _finish(
        candidate,
        raw.get("finish_reason"),
        has_calls=bool(calls),
        refused=refused,
        problem=problem,
    )
    avg = _avg_logprob(raw.get("logprobs"))
    if avg is not None:
        candidate.avg_logprobs = avg
    return candidate


def _created(value: Any) -> timestamp_pb2.Timestamp | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return timestamp_pb2.Timestamp(seconds=int(value))


@tolerant
def from_chat_completion(payload: Any, *, model: str) -> chat_pb2.ChatResponse:
    """A ChatResponse from a `chat.completion` reply (`model` is the route's canonical name)."""
    if not isinstance(payload, Mapping):
        raise _malformed("reply: expected a JSON object")
    choices = payload.get("choices")
    if not isinstance(choices, list):
        raise _malformed("reply: it has no choices list")
    reply = chat_pb2.ChatResponse(
        id=str(payload.get("id") or ""),
        model=model,
        model_version=str(payload.get("model") or ""),
        candidates=[_candidate(c, i) for i, c in enumerate(choices)],
    )
    usage = payload.get("usage")
    if isinstance(usage, Mapping):
        reply.usage.CopyFrom(usage_from(usage))
    created = _created(payload.get("created"))
    if created is not None:
        reply.create_time.CopyFrom(created)
    return reply


# ---------------------------------------------------------------------------------------------
# Streaming


@dataclass
class _Call:
    id: str
    name: str
    arguments: list[str] = field(default_factory=list)
    started: bool = False  # a fragment with id and name was sent


@dataclass
class _Choice:
    calls: dict[int, _Call] = field(default_factory=dict)
    refused: bool = False
    finished: bool = False


class OpenAIStream:
    """Turns `chat.completion.chunk` events into StreamChatResponse deltas, one stream each.

    Text, reasoning and tool-call argument fragments pass through as they come (the first
    fragment of a call that carries text also carries its id and name); when a choice's
    finish_reason arrives its complete tool calls follow (parsed; unparsable arguments mark the
    candidate MALFORMED_TOOL_CALL) on the message carrying the finish reason. Usage, sent by the
    server in a final chunk with no choices (stream_options.include_usage), becomes a usage-only
    last message.
    """

    def __init__(self, *, model: str) -> None:
        self._model = model
        self._first = True
        self._id = ""
        self._version = ""
        self._choices: dict[int, _Choice] = {}
        self._usage: common_pb2.Usage | None = None

    def _message(self) -> chat_pb2.StreamChatResponse:
        message = chat_pb2.StreamChatResponse(
            id=self._id, model=self._model if self._first else "", model_version=self._version
        )
        self._first = False
        return message

    @tolerant
    def feed(self, event: Any) -> list[chat_pb2.StreamChatResponse]:
        """The messages for one upstream chunk (often none, at most two)."""
        if not isinstance(event, Mapping):
            raise _malformed("stream event: expected a JSON object")
        choices = event.get("choices")
        usage = event.get("usage")
        if choices is None and not isinstance(usage, Mapping):
            raise _malformed("stream event: it has neither choices nor usage")
        if choices is not None and not isinstance(choices, list):
            raise _malformed("stream event: choices is not a list")
        self._id = str(event.get("id") or self._id)
        self._version = str(event.get("model") or self._version)
        out: list[chat_pb2.StreamChatResponse] = []
        candidates = [
            c for c in (self._delta(raw, i) for i, raw in enumerate(choices or [])) if c is not None
        ]
        if candidates:
            message = self._message()
            message.candidates.extend(candidates)
            out.append(message)
        if isinstance(usage, Mapping):
            if choices:
                self._usage = usage_from(usage)  # usage beside choices: keep it for the end
            else:
                self._usage = None
                message = self._message()
                message.usage.CopyFrom(usage_from(usage))
                out.append(message)
        return out

    @tolerant
    def finish(self) -> list[chat_pb2.StreamChatResponse]:
        """What is left when the upstream stream ends (pending usage); fails when the stream
        ended before every choice did, so a cut stream never passes for a complete reply."""
        if not self._choices or not all(c.finished for c in self._choices.values()):
            raise GatewayError(
                grpc.StatusCode.UNAVAILABLE,
                "Vertex AI's chat completions stream ended before the reply was complete",
                "UPSTREAM_CONNECTION_LOST",
            )
        candidates = []
        for index, state in sorted(self._choices.items()):
            if state.calls:
                parts, problem = self._complete(state, index)
                candidate = chat_pb2.Candidate(
                    index=index, message=chat_pb2.Message(role=chat_pb2.ROLE_ASSISTANT, parts=parts)
                )
                _finish(candidate, None, has_calls=True, refused=False, problem=problem)
                candidates.append(candidate)
        if not candidates and self._usage is None:
            return []
        message = self._message()
        message.candidates.extend(candidates)
        if self._usage is not None:
            message.usage.CopyFrom(self._usage)
            self._usage = None
        return [message]

    def _complete(self, state: _Choice, index: int) -> tuple[list[chat_pb2.Part], str | None]:
        parts: list[chat_pb2.Part] = []
        problem: str | None = None
        for k, call in sorted(state.calls.items()):
            part, issue = _complete_call(call.id, call.name, "".join(call.arguments), k)
            parts.append(part)
            problem = problem or issue
        state.calls.clear()
        return parts, problem

    def _fragment(self, state: _Choice, raw: Any, choice: int) -> list[chat_pb2.Part]:
        if not isinstance(raw, Mapping):
            raise _malformed("stream event: a tool call fragment is not an object")
        fn = raw.get("function") or {}
        if not isinstance(fn, Mapping):
            raise _malformed("stream event: a tool call fragment's function is not an object")
        index = raw.get("index")
        if isinstance(index, bool) or not isinstance(index, int):
            known = {c.id for c in state.calls.values()}
            fresh = raw.get("id") and raw.get("id") not in known
            index = len(state.calls) if fresh or not state.calls else max(state.calls)
        arguments = fn.get("arguments")
        if arguments is None or isinstance(arguments, str):
            text = arguments or ""
        else:
            text = compact_json(arguments)  # a server that sends the arguments as an object
        call = state.calls.get(index)
        if call is None:
            call = _Call(
                id=str(raw.get("id") or f"call_{choice}_{index}"), name=str(fn.get("name") or "")
            )
            state.calls[index] = call
        elif not call.name and fn.get("name"):
            call.name = str(fn["name"])
        if not text:
            return []  # e.g. the opening fragment with the name and "" arguments
        call.arguments.append(text)
        delta = chat_pb2.ToolCall(index=index, arguments_delta=text)
        if not call.started:  # id and name ride on the first fragment that carries text
            delta.id, delta.name = call.id, call.name
            call.started = True
        return [chat_pb2.Part(tool_call=delta)]

    def _delta(self, raw: Any, position: int) -> chat_pb2.Candidate | None:
        if not isinstance(raw, Mapping):
            raise _malformed("stream event: a choice is not an object")
        delta = raw.get("delta") or {}
        if not isinstance(delta, Mapping):
            raise _malformed("stream event: a choice's delta is not an object")
        index = as_int(raw.get("index", position))
        state = self._choices.setdefault(index, _Choice())
        parts: list[chat_pb2.Part] = []
        thought = _reasoning_text(delta)
        if thought:
            parts.append(chat_pb2.Part(thought=chat_pb2.Thought(text=thought)))
        text = _text(delta.get("content"))
        if text:
            parts.append(chat_pb2.Part(text=text))
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            state.refused = True
            parts.append(chat_pb2.Part(text=refusal))
        fragments = delta.get("tool_calls")
        if fragments is None and isinstance(delta.get("function_call"), Mapping):
            fragments = [{"index": 0, "function": delta["function_call"]}]  # deprecated form
        if fragments is not None:
            if not isinstance(fragments, list):
                raise _malformed("stream event: tool_calls is not a list")
            for fragment in fragments:
                parts.extend(self._fragment(state, fragment, index))
        native = raw.get("finish_reason")
        if not parts and not native:
            return None
        candidate = chat_pb2.Candidate(index=index)
        candidate.message.role = chat_pb2.ROLE_ASSISTANT
        candidate.message.parts.extend(parts)
        if native:
            state.finished = True
            has_calls = bool(state.calls)
            calls, problem = self._complete(state, index)
            candidate.message.parts.extend(calls)
            _finish(candidate, native, has_calls=has_calls, refused=state.refused, problem=problem)
        return candidate
