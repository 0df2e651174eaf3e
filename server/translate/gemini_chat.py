"""Gemini chat: ChatRequest -> generateContent JSON, and generateContent JSON -> replies.

Pure functions, no I/O. The same request translator serves unary, streaming, batch lines and
(later) Gemini image and speech generation.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format, struct_pb2
from vertex_gateway.v1 import chat_pb2, common_pb2

from server.errors import GatewayError, invalid_argument, upstream_malformed
from server.routing.registry import ModelSpec, Reasoning

from .json_schema import ref_sibling_problem
from .json_values import as_int, b64, struct_from, struct_json
from .timestamps import set_timestamp
from .tolerant import tolerant

_T = TypeVar("_T")
MAX_CANDIDATES = 8
MAX_STOP_SEQUENCES = 5

_ROLE = {chat_pb2.ROLE_USER: "user", chat_pb2.ROLE_ASSISTANT: "model", chat_pb2.ROLE_TOOL: "user"}
_RESOLUTION = {
    common_pb2.MEDIA_RESOLUTION_LOW: "MEDIA_RESOLUTION_LOW",
    common_pb2.MEDIA_RESOLUTION_MEDIUM: "MEDIA_RESOLUTION_MEDIUM",
    common_pb2.MEDIA_RESOLUTION_HIGH: "MEDIA_RESOLUTION_HIGH",
}
_TOOL_MODE = {
    chat_pb2.ToolChoice.MODE_AUTO: "AUTO",
    chat_pb2.ToolChoice.MODE_NONE: "NONE",
    chat_pb2.ToolChoice.MODE_REQUIRED: "ANY",
}
# Gemini 2.5 thinkingBudget per effort (the values peers converged on).
_EFFORT_BUDGET = {
    chat_pb2.ReasoningConfig.EFFORT_MINIMAL: 128,
    chat_pb2.ReasoningConfig.EFFORT_LOW: 1024,
    chat_pb2.ReasoningConfig.EFFORT_MEDIUM: 2048,
    chat_pb2.ReasoningConfig.EFFORT_HIGH: 4096,
}
_EFFORT_LEVEL = {
    chat_pb2.ReasoningConfig.EFFORT_MINIMAL: "MINIMAL",
    chat_pb2.ReasoningConfig.EFFORT_LOW: "LOW",
    chat_pb2.ReasoningConfig.EFFORT_MEDIUM: "MEDIUM",
    chat_pb2.ReasoningConfig.EFFORT_HIGH: "HIGH",
}
_FINISH = {
    "STOP": common_pb2.FINISH_REASON_STOP,
    "MAX_TOKENS": common_pb2.FINISH_REASON_MAX_TOKENS,
    "SAFETY": common_pb2.FINISH_REASON_CONTENT_FILTER,
    "BLOCKLIST": common_pb2.FINISH_REASON_CONTENT_FILTER,
    "PROHIBITED_CONTENT": common_pb2.FINISH_REASON_CONTENT_FILTER,
    "SPII": common_pb2.FINISH_REASON_CONTENT_FILTER,
    "MODEL_ARMOR": common_pb2.FINISH_REASON_CONTENT_FILTER,
    "IMAGE_SAFETY": common_pb2.FINISH_REASON_CONTENT_FILTER,
    "IMAGE_PROHIBITED_CONTENT": common_pb2.FINISH_REASON_CONTENT_FILTER,
    "JAILBREAK": common_pb2.FINISH_REASON_CONTENT_FILTER,
    "RECITATION": common_pb2.FINISH_REASON_RECITATION,
    "IMAGE_RECITATION": common_pb2.FINISH_REASON_RECITATION,
    "MALFORMED_FUNCTION_CALL": common_pb2.FINISH_REASON_MALFORMED_TOOL_CALL,
    "UNEXPECTED_TOOL_CALL": common_pb2.FINISH_REASON_MALFORMED_TOOL_CALL,
    # No normalized counterpart: the native value tells the rest. OTHER and IMAGE_OTHER are
    # Vertex's own "other"; NO_IMAGE (an image model produced none), MALFORMED_RESPONSE,
    # CONTINUATION (truncated, continuable only with a token this API does not expose) and
    # TOO_MANY_TOOL_CALLS (Vertex's server-side tool loop cap) are listed so that the mapping of
    # every value of the v1 enum is deliberate (tests/golden/gemini_chat/finish_reasons.json).
    "OTHER": common_pb2.FINISH_REASON_OTHER,
    "IMAGE_OTHER": common_pb2.FINISH_REASON_OTHER,
    "NO_IMAGE": common_pb2.FINISH_REASON_OTHER,
    "MALFORMED_RESPONSE": common_pb2.FINISH_REASON_OTHER,
    "CONTINUATION": common_pb2.FINISH_REASON_OTHER,
    "TOO_MANY_TOOL_CALLS": common_pb2.FINISH_REASON_OTHER,
}
_MODALITY = {
    "TEXT": common_pb2.MODALITY_TEXT,
    "IMAGE": common_pb2.MODALITY_IMAGE,
    "VIDEO": common_pb2.MODALITY_VIDEO,
    "AUDIO": common_pb2.MODALITY_AUDIO,
    "DOCUMENT": common_pb2.MODALITY_DOCUMENT,
}


def _vertex_schema(value: struct_pb2.Struct, field: str) -> dict[str, Any]:
    """A caller's JSON Schema as Vertex takes it, or INVALID_ARGUMENT saying why it cannot.

    Vertex accepts other unsupported keywords but does not enforce them (vertex-wire.md §2.5).
    """
    schema = struct_json(value)
    problem = ref_sibling_problem(schema)
    if problem:
        raise invalid_argument(field, problem)
    return schema


def _seconds(value: float) -> str:
    return f"{value:.9f}".rstrip("0").rstrip(".") + "s"


# ---------------------------------------------------------------------------------------------
# Request


def finish_reason(native: str) -> common_pb2.FinishReason.ValueType:
    """The normalized finish reason of a Vertex one (unknown ones are OTHER)."""
    return _FINISH.get(native, common_pb2.FINISH_REASON_OTHER)


def media_part(media: common_pb2.Media) -> dict[str, Any]:
    """A Gemini part for an inline or referenced media item."""
    part: dict[str, Any] = {}
    _media(media, part)
    return part


def _media(media: common_pb2.Media, part: dict[str, Any]) -> None:
    if media.WhichOneof("source") == "data":
        blob: dict[str, Any] = {"mimeType": media.mime_type, "data": b64(media.data)}
        if media.display_name:
            blob["displayName"] = media.display_name
        part["inlineData"] = blob
    else:
        ref: dict[str, Any] = {"mimeType": media.mime_type, "fileUri": media.uri}
        if media.display_name:
            ref["displayName"] = media.display_name
        part["fileData"] = ref
    if media.resolution in _RESOLUTION:
        part["mediaResolution"] = {"level": _RESOLUTION[media.resolution]}
    if media.HasField("video_metadata"):
        vm = media.video_metadata
        meta: dict[str, Any] = {}
        if vm.HasField("start_offset_seconds"):
            meta["startOffset"] = _seconds(vm.start_offset_seconds)
        if vm.HasField("end_offset_seconds"):
            meta["endOffset"] = _seconds(vm.end_offset_seconds)
        if vm.HasField("fps"):
            meta["fps"] = vm.fps
        if meta:
            part["videoMetadata"] = meta


def _part(part: chat_pb2.Part) -> dict[str, Any]:
    out: dict[str, Any] = {}
    kind = part.WhichOneof("kind")
    if kind == "text":
        out["text"] = part.text
    elif kind == "media":
        _media(part.media, out)
    elif kind == "tool_call":
        # Vertex rejects functionCall.id (vertex-wire.md §2.3): calls are matched by order/name.
        out["functionCall"] = {
            "name": part.tool_call.name,
            "args": struct_json(part.tool_call.arguments),
        }
    elif kind == "tool_result":
        result = part.tool_result
        value = json_format.MessageToDict(result.output) if result.HasField("output") else None
        out["functionResponse"] = {
            "name": result.name,
            "response": {"error" if result.is_error else "output": value},
        }
    elif kind == "thought":
        out["text"] = part.thought.text
        out["thought"] = True
    elif kind is None:
        out["text"] = ""  # a bare signature carrier, as Vertex itself sends at stream end
    if part.thought_signature:
        out["thoughtSignature"] = b64(part.thought_signature)
    return out


def _contents(messages: Any) -> list[dict[str, Any]]:
    contents: list[dict[str, Any]] = []
    for message in messages:
        role = _ROLE[message.role]
        parts = [_part(p) for p in message.parts]
        # Tool results follow the model's call as a user turn; merge consecutive same-role turns
        # so a ROLE_TOOL message after a ROLE_USER one stays a single Gemini turn.
        if contents and contents[-1]["role"] == role and message.role == chat_pb2.ROLE_TOOL:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return contents


def _generation_config(request: chat_pb2.ChatRequest, spec: ModelSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if request.HasField("generation_config"):
        _sampling(request.generation_config, out)
    rf = request.response_format
    if rf.type == chat_pb2.ResponseFormat.TYPE_JSON_OBJECT:
        out["responseMimeType"] = "application/json"
    elif rf.type == chat_pb2.ResponseFormat.TYPE_JSON_SCHEMA:
        out["responseMimeType"] = "application/json"
        out["responseJsonSchema"] = _vertex_schema(rf.json_schema, "response_format.json_schema")
    thinking = _thinking(request.reasoning, spec) if request.HasField("reasoning") else None
    if thinking:
        out["thinkingConfig"] = thinking
    return out


def _sampling(cfg: chat_pb2.GenerationConfig, out: dict[str, Any]) -> None:
    """The members of generation_config, into `out`."""
    if cfg.HasField("temperature"):
        out["temperature"] = cfg.temperature
    if cfg.HasField("top_p"):
        out["topP"] = cfg.top_p
    if cfg.HasField("top_k"):
        out["topK"] = cfg.top_k
    if cfg.HasField("max_output_tokens"):
        out["maxOutputTokens"] = cfg.max_output_tokens
    if cfg.stop_sequences:
        if len(cfg.stop_sequences) > MAX_STOP_SEQUENCES:
            raise invalid_argument(
                "generation_config.stop_sequences", f"Gemini accepts at most {MAX_STOP_SEQUENCES}"
            )
        out["stopSequences"] = list(cfg.stop_sequences)
    if cfg.HasField("seed"):
        out["seed"] = cfg.seed
    if cfg.HasField("presence_penalty"):
        out["presencePenalty"] = cfg.presence_penalty
    if cfg.HasField("frequency_penalty"):
        out["frequencyPenalty"] = cfg.frequency_penalty
    if cfg.HasField("candidate_count"):
        if cfg.candidate_count > MAX_CANDIDATES:
            raise invalid_argument(
                "generation_config.candidate_count", f"Gemini accepts 1 to {MAX_CANDIDATES}"
            )
        out["candidateCount"] = cfg.candidate_count
    if cfg.HasField("response_logprobs"):
        out["responseLogprobs"] = cfg.response_logprobs
    if cfg.HasField("logprobs"):
        out["logprobs"] = cfg.logprobs
    if cfg.media_resolution in _RESOLUTION:
        out["mediaResolution"] = _RESOLUTION[cfg.media_resolution]


_LEVEL_ORDER = ("MINIMAL", "LOW", "MEDIUM", "HIGH")


def _nearest_level(wanted: str, offered: tuple[str, ...]) -> str:
    """The offered level closest to `wanted` (ties go to the higher level)."""
    rank = _LEVEL_ORDER.index(wanted)
    return min(
        offered,
        key=lambda level: (abs(_LEVEL_ORDER.index(level) - rank), -_LEVEL_ORDER.index(level)),
    )


def _budget(reasoning: chat_pb2.ReasoningConfig, spec: ModelSpec) -> int:
    """The explicit thinkingBudget, checked against the model's range (-1 = model decides)."""
    budget = reasoning.budget_tokens
    low, high = spec.thinking_budget or (0, 0)
    if budget == -1:
        return budget
    if budget == 0:
        if not spec.thinking_can_disable:
            raise invalid_argument(
                "reasoning.budget_tokens",
                f"{spec.id} cannot turn reasoning off (0); use {low} to {high}, or -1",
            )
        return 0
    if not low <= budget <= high:
        allowed = f"{'0, ' if spec.thinking_can_disable else ''}{low} to {high}, or -1 (the model decides)"
        raise invalid_argument(
            "reasoning.budget_tokens", f"{spec.id} takes {allowed}; got {budget}"
        )
    return budget


def _thinking(reasoning: chat_pb2.ReasoningConfig, spec: ModelSpec) -> dict[str, Any]:
    if spec.reasoning is None:
        return {}  # the service has already refused reasoning asked of a model without it
    effort = reasoning.effort
    out: dict[str, Any] = {}
    if reasoning.HasField("budget_tokens"):
        out["thinkingBudget"] = _budget(reasoning, spec)
    elif effort == chat_pb2.ReasoningConfig.EFFORT_NONE:
        if not spec.thinking_can_disable:
            raise invalid_argument(
                "reasoning.effort", f"{spec.id} cannot turn reasoning off; use EFFORT_MINIMAL"
            )
        out["thinkingBudget"] = 0
    elif effort != chat_pb2.ReasoningConfig.EFFORT_UNSPECIFIED:
        if spec.reasoning is Reasoning.GEMINI_LEVEL:
            out["thinkingLevel"] = _nearest_level(_EFFORT_LEVEL[effort], spec.thinking_levels)
        else:
            low, high = spec.thinking_budget or (0, 0)
            out["thinkingBudget"] = min(max(_EFFORT_BUDGET[effort], low), high)
    if reasoning.include_thoughts:
        out["includeThoughts"] = True
    return out


def _tools(request: chat_pb2.ChatRequest) -> list[dict[str, Any]]:
    functions: list[dict[str, Any]] = []
    builtins: list[dict[str, Any]] = []
    for k, tool in enumerate(request.tools):
        kind = tool.WhichOneof("kind")
        if kind == "function":
            fn = tool.function
            decl: dict[str, Any] = {"name": fn.name}
            if fn.description:
                decl["description"] = fn.description
            where = f"tools[{k}].function"
            if fn.HasField("parameters"):
                decl["parametersJsonSchema"] = _vertex_schema(fn.parameters, f"{where}.parameters")
            if fn.HasField("response"):
                decl["responseJsonSchema"] = _vertex_schema(fn.response, f"{where}.response")
            functions.append(decl)
        elif kind == "google_search":
            search: dict[str, Any] = {}
            if tool.google_search.exclude_domains:
                search["excludeDomains"] = list(tool.google_search.exclude_domains)
            builtins.append({"googleSearch": search})
        elif kind == "code_execution":
            builtins.append({"codeExecution": {}})
        elif kind == "url_context":
            builtins.append({"urlContext": {}})
    return ([{"functionDeclarations": functions}] if functions else []) + builtins


def _tool_config(choice: chat_pb2.ToolChoice) -> dict[str, Any] | None:
    if choice.mode == chat_pb2.ToolChoice.MODE_UNSPECIFIED and not choice.allowed_function_names:
        return None
    mode = _TOOL_MODE.get(choice.mode, "ANY" if choice.allowed_function_names else "AUTO")
    config: dict[str, Any] = {"mode": mode}
    if choice.allowed_function_names:
        if mode != "ANY":
            raise invalid_argument(
                "tool_choice.allowed_function_names", "only applies with MODE_REQUIRED"
            )
        config["allowedFunctionNames"] = list(choice.allowed_function_names)
    return {"functionCallingConfig": config}


_HARM_PREFIX = "HARM_CATEGORY_"
_THRESHOLD_PREFIX = "HARM_BLOCK_THRESHOLD_"
_METHOD_PREFIX = "HARM_BLOCK_METHOD_"


def _safety(settings: Any) -> list[dict[str, Any]]:
    out = []
    for s in settings:
        entry = {
            "category": chat_pb2.HarmCategory.Name(s.category),
            "threshold": chat_pb2.HarmBlockThreshold.Name(s.threshold)[len(_THRESHOLD_PREFIX) :],
        }
        if s.method != chat_pb2.HARM_BLOCK_METHOD_UNSPECIFIED:
            entry["method"] = chat_pb2.HarmBlockMethod.Name(s.method)[len(_METHOD_PREFIX) :]
        out.append(entry)
    return out


def to_generate_content(request: chat_pb2.ChatRequest, spec: ModelSpec) -> dict[str, Any]:
    """The generateContent body for a validated ChatRequest."""
    body: dict[str, Any] = {"contents": _contents(request.messages)}
    # The fields the request sets, read once: most requests set few of them.
    fields = {field.name for field, _ in request.ListFields()}
    if "system_instruction" in fields:
        body["systemInstruction"] = {
            "parts": [{"text": p.text} for p in request.system_instruction]
        }
    tools = _tools(request) if "tools" in fields else None
    if tools:
        body["tools"] = tools
    tool_config = _tool_config(request.tool_choice) if "tool_choice" in fields else None
    if tool_config:
        body["toolConfig"] = tool_config
    generation = _generation_config(request, spec) if fields & _GENERATION_FIELDS else None
    if generation:
        body["generationConfig"] = generation
    if "safety_settings" in fields:
        body["safetySettings"] = _safety(request.safety_settings)
    if "cached_content" in fields:
        body["cachedContent"] = request.cached_content
    if "labels" in fields:
        body["labels"] = dict(request.labels)
    return body


# The request fields generationConfig is made from (see _generation_config).
_GENERATION_FIELDS = frozenset({"generation_config", "response_format", "reasoning"})


def to_count_tokens(request: chat_pb2.CountTokensRequest) -> dict[str, Any]:
    """The countTokens body for a CountTokensRequest."""
    body: dict[str, Any] = {"contents": _contents(request.messages)}
    if request.system_instruction:
        body["systemInstruction"] = {
            "parts": [{"text": p.text} for p in request.system_instruction]
        }
    probe = chat_pb2.ChatRequest(tools=request.tools)
    tools = _tools(probe)
    if tools:
        body["tools"] = tools
    return body


# ---------------------------------------------------------------------------------------------
# Response


def _add_details(counts: Any, items: Any) -> None:
    """Append each per-modality count of `items` (a Vertex `*TokensDetails` list) to `counts`."""
    if not isinstance(items, list):
        return
    for item in items:
        if isinstance(item, dict):
            tokens = item.get("tokenCount")
            detail = counts.add()
            detail.modality = _MODALITY.get(
                str(item.get("modality")), common_pb2.MODALITY_UNSPECIFIED
            )
            detail.token_count = tokens if type(tokens) is int else as_int(tokens)


# usageMetadata member -> Usage field; a reply carries only some of them.
_USAGE_COUNTS = {
    "promptTokenCount": "input_tokens",
    "candidatesTokenCount": "output_tokens",
    "thoughtsTokenCount": "reasoning_tokens",
    "cachedContentTokenCount": "cached_input_tokens",
    "toolUsePromptTokenCount": "tool_use_prompt_tokens",
    "totalTokenCount": "total_tokens",
}
_USAGE_DETAILS = {
    "promptTokensDetails": "input_details",
    "candidatesTokensDetails": "output_details",
    "cacheTokensDetails": "cached_details",
    "toolUsePromptTokensDetails": "tool_use_prompt_details",
}


def usage_from(meta: Mapping[str, Any], into: common_pb2.Usage | None = None) -> common_pb2.Usage:
    """Every counter of `usageMetadata` (set in `into` when given)."""
    usage = common_pb2.Usage() if into is None else into
    for key, value in meta.items():
        count = _USAGE_COUNTS.get(key)
        if count is not None:
            setattr(usage, count, value if type(value) is int else as_int(value))
        elif key == "trafficType":
            usage.traffic_type = str(value or "")
        else:
            details = _USAGE_DETAILS.get(key)
            if details is not None:
                _add_details(getattr(usage, details), value)
    return usage


def _has_counts(meta: Any) -> bool:
    return isinstance(meta, dict) and any(k.endswith("TokenCount") for k in meta)


def _decode_b64(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value), validate=False)
    except (ValueError, TypeError):
        return b""


def call_id(response_id: str, candidate: int, index: int) -> str:
    """A stable id for a call Vertex gave none: the same reply always yields the same ids."""
    digest = hashlib.sha256(response_id.encode()).hexdigest()[:12] if response_id else "local"
    return f"call_{digest}_{candidate}_{index}"


def _reply_part(
    raw: Mapping[str, Any], calls: dict[int, int], candidate: int, response_id: str
) -> chat_pb2.Part | None:
    part = chat_pb2.Part()
    if "functionCall" in raw:
        call = raw["functionCall"] or {}
        index = calls.get(candidate, 0)
        calls[candidate] = index + 1
        args = struct_pb2.Struct()
        if isinstance(call.get("args"), dict):
            # A value a Struct cannot hold leaves the arguments empty; the service then finds
            # them wrong for the declared schema and reports the call as malformed.
            args, _ = struct_from(call["args"])
        part.tool_call.CopyFrom(
            chat_pb2.ToolCall(
                id=str(call.get("id") or call_id(response_id, candidate, index)),
                name=str(call.get("name", "")),
                arguments=args,
                index=index,
            )
        )
    elif raw.get("thought") and "text" in raw:
        part.thought.text = str(raw["text"])
    elif "text" in raw:
        part.text = str(raw["text"])
    elif "inlineData" in raw:
        blob = raw["inlineData"] or {}
        part.media.mime_type = str(blob.get("mimeType", ""))
        part.media.data = _decode_b64(blob.get("data", ""))
    elif "fileData" in raw:
        ref = raw["fileData"] or {}
        part.media.mime_type = str(ref.get("mimeType", ""))
        part.media.uri = str(ref.get("fileUri", ""))
    elif "executableCode" in raw:
        part.text = str((raw["executableCode"] or {}).get("code", ""))
    elif "codeExecutionResult" in raw:
        part.text = str((raw["codeExecutionResult"] or {}).get("output", ""))
    if raw.get("thoughtSignature"):
        part.thought_signature = _decode_b64(raw["thoughtSignature"])
    if part.WhichOneof("kind") is None and not part.thought_signature:
        return None
    return part


def _ratings(items: Any) -> list[chat_pb2.SafetyRating]:
    out = []
    for r in items or []:
        if isinstance(r, dict):
            out.append(
                chat_pb2.SafetyRating(
                    category=str(r.get("category", "")),
                    probability=str(r.get("probability", "")),
                    probability_score=float(r.get("probabilityScore") or 0.0),
                    severity=str(r.get("severity", "")),
                    severity_score=float(r.get("severityScore") or 0.0),
                    blocked=bool(r.get("blocked", False)),
                )
            )
    return out


def _grounding(meta: Mapping[str, Any]) -> chat_pb2.GroundingMetadata:
    g = chat_pb2.GroundingMetadata(
        web_search_queries=[str(q) for q in meta.get("webSearchQueries") or []]
    )
    for chunk in meta.get("groundingChunks") or []:
        web = (chunk or {}).get("web") or (chunk or {}).get("retrievedContext") or {}
        g.sources.add(
            uri=str(web.get("uri", "")),
            title=str(web.get("title", "")),
            domain=str(web.get("domain", "")),
        )
    for support in meta.get("groundingSupports") or []:
        seg = (support or {}).get("segment") or {}
        g.supports.add(
            start_index=as_int(seg.get("startIndex")),
            end_index=as_int(seg.get("endIndex")),
            text=str(seg.get("text", "")),
            source_indices=[as_int(i) for i in support.get("groundingChunkIndices") or []],
            confidence_scores=[float(c) for c in support.get("confidenceScores") or []],
        )
    entry = meta.get("searchEntryPoint") or {}
    g.search_entry_point_html = str(entry.get("renderedContent", ""))
    return g


def candidate_from(
    raw: Mapping[str, Any],
    position: int,
    *,
    response_id: str = "",
    calls: dict[int, int] | None = None,
    into: chat_pb2.Candidate | None = None,
) -> chat_pb2.Candidate:
    """One candidate (complete, or a streamed delta), built in `into` when given (a reply's
    own repeated field: no copy of the candidate and its parts afterwards).

    `calls` counts tool calls per candidate; a stream passes the same dict for every chunk so
    call indexes (and the ids derived from them) continue across chunks.
    """
    index = raw.get("index", position)
    if type(index) is not int:
        index = as_int(index)
    calls = {} if calls is None else calls
    candidate = chat_pb2.Candidate() if into is None else into
    candidate.index = index
    message = candidate.message
    message.role = chat_pb2.ROLE_ASSISTANT
    content = raw.get("content")
    if content:
        parts = message.parts
        for r in content.get("parts") or ():
            if not isinstance(r, dict):
                continue
            text = r.get("text")
            if len(r) == 1 and type(text) is str:  # the common part: plain text, nothing else
                parts.add(text=text)
                continue
            part = _reply_part(r, calls, index, response_id)
            if part is not None:
                parts.append(part)
    # The other members, read as they come (after the parts, which the finish reason needs):
    # a candidate carries few of the many Vertex may send.
    for key, value in raw.items():
        if key == "finishReason":
            if value:
                native = str(value)
                candidate.native_finish_reason = native
                reason = _FINISH.get(native, common_pb2.FINISH_REASON_OTHER)
                if reason == common_pb2.FINISH_REASON_STOP and calls.get(index, 0) > 0:
                    reason = common_pb2.FINISH_REASON_TOOL_CALLS
                candidate.finish_reason = reason
        elif key == "avgLogprobs":
            if type(value) is float or (isinstance(value, int) and not isinstance(value, bool)):
                candidate.avg_logprobs = float(value)
        elif key == "safetyRatings":
            if value:
                candidate.safety_ratings.extend(_ratings(value))
        elif key == "finishMessage":
            if value:
                candidate.finish_message = str(value)
        elif key == "citationMetadata":
            for c in (value or {}).get("citations") or []:
                candidate.citations.add(
                    start_index=as_int(c.get("startIndex")),
                    end_index=as_int(c.get("endIndex")),
                    uri=str(c.get("uri", "")),
                    title=str(c.get("title", "")),
                    license=str(c.get("license", "")),
                )
        elif key == "groundingMetadata" and isinstance(value, dict):
            candidate.grounding.CopyFrom(_grounding(value))
    return candidate


def _prompt_feedback(raw: Mapping[str, Any]) -> chat_pb2.PromptFeedback:
    native = str(raw.get("blockReason", ""))
    return chat_pb2.PromptFeedback(
        # Every block reason (safety, blocklist, Model Armor, "other", ...) is a filter of the
        # prompt; which one stays in native_block_reason.
        block_reason=(
            common_pb2.FINISH_REASON_CONTENT_FILTER
            if native
            else common_pb2.FINISH_REASON_UNSPECIFIED
        ),
        native_block_reason=native,
        block_reason_message=str(raw.get("blockReasonMessage", "")),
        safety_ratings=_ratings(raw.get("safetyRatings")),
    )


@tolerant
def from_generate_content(payload: Any, *, model: str) -> chat_pb2.ChatResponse:
    """A ChatResponse from a generateContent reply."""
    if not isinstance(payload, dict):
        raise upstream_malformed("response: expected a JSON object")
    response_id = str(payload.get("responseId", ""))
    reply = chat_pb2.ChatResponse()
    reply.id = response_id
    reply.model = model
    # The members present, read as they come: a reply carries few of those Vertex may send.
    for key, value in payload.items():
        if key == "candidates":
            add = reply.candidates.add
            for i, c in enumerate(value or ()):
                if isinstance(c, dict):
                    candidate_from(c, i, response_id=response_id, into=add())
        elif key == "usageMetadata":
            if isinstance(value, dict):
                usage_from(value, into=reply.usage)
        elif key == "modelVersion":
            reply.model_version = str(value)
        elif key == "createTime":
            set_timestamp(reply.create_time, value)
        elif key == "promptFeedback" and isinstance(value, dict):
            reply.prompt_feedback.CopyFrom(_prompt_feedback(value))
    return reply


class GeminiStream:
    """Turns streamGenerateContent events into StreamChatResponses, one per event.

    Holds what must continue across events: whether the first message went out, and the number
    of tool calls each candidate made so far (for their indexes and ids, and for reporting
    FINISH_REASON_TOOL_CALLS on the final event, which carries no call itself).
    """

    def __init__(self, model: str) -> None:
        self._model = model
        self._first = True
        self._calls: dict[int, int] = {}
        self._open: set[int] = set()  # candidates seen without their finish reason yet
        self._ended = False  # some candidate finished, or the prompt was blocked

    def feed(self, payload: Any) -> chat_pb2.StreamChatResponse:
        """The message for one event (deltas as they came)."""
        return tolerant(self._feed)(payload)

    def _feed(self, payload: Any) -> chat_pb2.StreamChatResponse:
        if not isinstance(payload, dict):
            raise upstream_malformed("stream event: expected a JSON object")
        response_id = str(payload.get("responseId", ""))
        chunk = chat_pb2.StreamChatResponse(
            id=response_id,
            model=self._model if self._first else "",
            model_version=str(payload.get("modelVersion", "")),
            candidates=[
                candidate_from(c, i, response_id=response_id, calls=self._calls)
                for i, c in enumerate(payload.get("candidates") or [])
                if isinstance(c, dict)
            ],
        )
        self._first = False
        meta = payload.get("usageMetadata")
        # Intermediate events carry only {"trafficType": ...}: usage goes on the one with counts.
        if _has_counts(meta):
            assert isinstance(meta, dict)
            chunk.usage.CopyFrom(usage_from(meta))
        if isinstance(payload.get("promptFeedback"), dict):
            chunk.prompt_feedback.CopyFrom(_prompt_feedback(payload["promptFeedback"]))
            self._ended = self._ended or bool(chunk.prompt_feedback.native_block_reason)
        for candidate in chunk.candidates:
            if candidate.native_finish_reason:
                self._open.discard(candidate.index)
                self._ended = True
            else:
                self._open.add(candidate.index)
        return chunk

    @tolerant
    def finish(self) -> list[chat_pb2.StreamChatResponse]:
        """Called when the upstream stream ends (nothing is left to send); fails if it ended
        before the reply did (Vertex ends every candidate with a finish reason, or blocks the
        prompt)."""
        if self._open or not self._ended:
            raise GatewayError(
                grpc.StatusCode.UNAVAILABLE,
                "Vertex AI's stream ended before the reply was complete",
                "UPSTREAM_CONNECTION_LOST",
            )
        return []


def count_tokens_from(payload: Any) -> chat_pb2.CountTokensResponse:
    """A CountTokensResponse from a countTokens reply."""
    if not isinstance(payload, dict):
        raise upstream_malformed("response: expected a JSON object")
    if "totalTokens" not in payload:
        # Fail loudly rather than report 0 tokens (a peer's long-standing bug).
        raise upstream_malformed("countTokens reply: it has no totalTokens")
    reply = chat_pb2.CountTokensResponse(
        total_tokens=as_int(payload.get("totalTokens")),
        total_billable_characters=as_int(payload.get("totalBillableCharacters")),
    )
    _add_details(reply.input_details, payload.get("promptTokensDetails"))
    return reply
