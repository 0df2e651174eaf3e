"""Deterministic, plausible Gemini replies.

Everything is derived from a SHA-256 of the model id and the canonical request JSON (less the
settings that only cut or shape the output), so the same request always gets the same reply
(``createTime`` is the only real-time value). Streaming and unary share one plan, so the streamed
text deltas concatenate to the unary text.

What a candidate holds:

* function calls, when tools are declared and the calling rule picks some (``gemini_tools``);
* text answering tool results, when the last turn carries them;
* JSON (``responseMimeType: application/json``, shaped by a response schema) or one enum value
  (``text/x.enum``);
* otherwise a few plain sentences about the last user text (``compose_text``).

Thinking models think unless the budget is 0; the first call (or the text) of a reply carries a
``thoughtSignature`` the emulator can verify later (``gemini_signatures``).

Triggers (in the last user text): ``EMULATOR_BLOCK_PROMPT`` blocks the prompt;
``EMULATOR_UNSAFE`` stops every candidate with SAFETY (a stream first sends part of the text);
``EMULATOR_MALFORMED_CALL`` ends with MALFORMED_FUNCTION_CALL and a ``finishMessage``;
``EMULATOR_FINISH_<REASON>`` ends with any finish reason of the v1 discovery enum;
``EMULATOR_CITE`` adds ``citationMetadata``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from emulator import errors, gemini_media, gemini_schema, gemini_signatures, gemini_tools
from emulator.catalog import ModelInfo
from emulator.counting import PromptCount, count_prompt, count_tokens, token_spans, truncate_tokens
from emulator.discovery import document
from emulator.gemini_thinking import model_problems, thinking_config

UNSAFE_TRIGGER = "EMULATOR_UNSAFE"
BLOCK_TRIGGER = "EMULATOR_BLOCK_PROMPT"
MALFORMED_CALL_TRIGGER = "EMULATOR_MALFORMED_CALL"
CITE_TRIGGER = "EMULATOR_CITE"
FINISH_TRIGGER = re.compile(r"EMULATOR_FINISH_([A-Z][A-Z_]*[A-Z])")
TRAFFIC_TYPE = "ON_DEMAND"
TOKENS_PER_CHUNK = 8
MIN_CHUNKS = 3
JSON_MIME_TYPE = "application/json"
ENUM_MIME_TYPE = "text/x.enum"
# Tokens a Google Search call adds to the prompt side (toolUsePromptTokenCount), per query.
SEARCH_TOOL_TOKENS = 96

_OPENERS = (
    "Here is a short answer",
    "Thanks for the question",
    "Happy to help with that",
    "Good question",
    "Sure, here is my reply",
    "Let me answer that",
    "Here is what I can say",
    "Glad you asked",
)
_MIDDLES = (
    "The short version is that it depends on the details you care about most.",
    "A careful look at the details usually makes the answer clear.",
    "Most people find the simplest explanation to be the right one here.",
    "There are a few ways to see it, and each one points the same way.",
    "It helps to start small and build up the picture step by step.",
    "The key idea is simple once the pieces are laid out in order.",
    "In practice the answer is easier than it first looks.",
    "Breaking it into parts shows how everything fits together.",
)
_CLOSERS = (
    "Let me know if you want more detail.",
    "I hope that helps.",
    "Ask again if anything is unclear.",
    "Feel free to follow up with more questions.",
    "That should cover the main points.",
    "Tell me if you need an example.",
    "I can go deeper if that would help.",
    "That is the gist of it.",
)
_SAFETY_CATEGORIES = (
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
)
# Finish reasons that keep the whole answer; MAX_TOKENS keeps half of it.
_KEEP_CONTENT = frozenset({"STOP", "OTHER", "CONTINUATION", "FINISH_REASON_UNSPECIFIED"})
# Reasons about a function call: no content at all, not even a partial stream.
_CALL_REASONS = frozenset(
    {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"}
)


class RequestRejected(web.HTTPBadRequest):
    """A 400 found while planning the reply (checks that need the model)."""

    def __init__(self, message: str) -> None:
        self.error = errors.invalid_argument(message)
        super().__init__(
            text=errors.render_json(self.error.to_json()),
            headers={"Content-Type": errors.JSON_TYPE_HEADER},
        )


@functools.cache
def finish_reasons() -> tuple[str, ...]:
    """Every ``finishReason`` of the v1 discovery document."""
    spec = document("v1").schemas["GoogleCloudAiplatformV1Candidate"]["properties"]
    return tuple(spec["finishReason"]["enum"])


@dataclass(frozen=True)
class CallPlan:
    """One function call of a candidate."""

    name: str
    args: dict[str, Any]
    signature: str | None = None

    @property
    def tokens(self) -> int:
        """Output tokens, counted as the prompt side counts a call."""
        return count_tokens(f"{self.name} {canonical_json(self.args)}")

    def part(self) -> dict[str, Any]:
        """The ``functionCall`` part (no ``id``: Vertex v1 does not send one)."""
        part: dict[str, Any] = {"functionCall": {"name": self.name, "args": self.args}}
        if self.signature is not None:
            part["thoughtSignature"] = self.signature
        return part


@dataclass(frozen=True)
class CandidatePlan:
    """One candidate's final content and metadata."""

    index: int
    text: str
    finish_reason: str
    thought: str | None = None
    signature: str | None = None
    calls: tuple[CallPlan, ...] = ()
    withheld: bool = False  # no content in a unary reply (blocked, malformed call, ...)
    partial: str = ""  # text a stream sends before the block
    finish_message: str | None = None
    safety_block: bool = False
    citations: dict[str, Any] | None = None
    grounding: dict[str, Any] | None = None

    @property
    def blocked(self) -> bool:
        """True when the candidate carries no content in a unary reply."""
        return self.withheld

    def output_tokens(self, *, streamed: bool = False) -> int:
        """Candidate tokens: text and calls; for a withheld one, what a stream already sent."""
        if self.withheld:
            return count_tokens(self.partial) if streamed else 0
        return count_tokens(self.text) + sum(call.tokens for call in self.calls)


@dataclass(frozen=True)
class ReplyPlan:
    """Everything needed to render a unary reply or a stream of chunks."""

    model_version: str
    response_id: str
    create_time: str
    prompt: PromptCount
    candidates: list[CandidatePlan] = field(default_factory=list)
    prompt_blocked: bool = False
    thoughts_tokens: int = 0
    tool_use_tokens: int = 0
    cached_tokens: int = 0

    @property
    def candidates_tokens(self) -> int:
        """Output tokens over all candidates (thoughts are counted separately, as Vertex does)."""
        return sum(c.output_tokens() for c in self.candidates)


# Settings that only shape or cut the output leave the words alone: a reply cut by
# maxOutputTokens or a stop sequence is a prefix of the uncut one, candidate 0 is the same
# whatever candidateCount says, and asking to see thoughts does not change the answer.
_SHAPING_SETTINGS = frozenset(
    {
        "stopSequences",
        "maxOutputTokens",
        "candidateCount",
        "thinkingConfig",
        "responseLogprobs",
        "logprobs",
    }
)


def reply_seed(body: dict[str, Any]) -> dict[str, Any]:
    """The part of the request that decides the reply's words."""
    config = body.get("generationConfig")
    if not isinstance(config, dict):
        return body
    kept = {k: v for k, v in config.items() if k not in _SHAPING_SETTINGS}
    seed = {k: v for k, v in body.items() if k != "generationConfig"}
    if kept:
        seed["generationConfig"] = kept
    return seed


def canonical_json(value: Any) -> str:
    """Key-sorted, compact JSON: the input to the reply hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user turn (its text parts joined), or what it answers with."""
    for content in reversed(body.get("contents") or []):
        if not isinstance(content, dict) or content.get("role", "user") != "user":
            continue
        texts = [
            p["text"]
            for p in content.get("parts") or []
            if isinstance(p, dict) and isinstance(p.get("text"), str)
        ]
        if texts:
            return " ".join(texts)
        names = [
            p["functionResponse"].get("name", "the tool")
            for p in content.get("parts") or []
            if isinstance(p, dict) and isinstance(p.get("functionResponse"), dict)
        ]
        if names:
            return f"the result of {names[0]}"
    return ""


def topic_of(text: str) -> str:
    """The first eight words of ``text``, for replies that quote what was asked."""
    words = text.replace('"', "'").split()
    if not words:
        return "your request"
    return " ".join(words[:8]) + (" ..." if len(words) > 8 else "")


def compose_text(topic: str, digest: bytes, index: int) -> str:
    """The full would-be reply of candidate ``index`` (before stop sequences and token limits).

    It always names the topic and contains the word "emulator", so a test can pick a stop
    sequence that is sure to occur.
    """
    pick = [(digest[k] + index) for k in range(3)]
    return (
        f'{_OPENERS[pick[0] % len(_OPENERS)]}: you asked about "{topic}". '
        f"{_MIDDLES[pick[1] % len(_MIDDLES)]} "
        "This reply comes from the Vertex emulator, so the same request always gets the same words. "
        f"{_CLOSERS[pick[2] % len(_CLOSERS)]}"
    )


def _thought_text(topic: str) -> str:
    return (
        "**Planning the reply**\n\n"
        f'The user asked about "{topic}". I will answer in a few plain sentences and say that '
        "the answer comes from the emulator."
    )


def _apply_limits(text: str, config: dict[str, Any]) -> tuple[str, str]:
    stops = [s for s in config.get("stopSequences") or [] if isinstance(s, str) and s]
    cut = min((text.find(s) for s in stops if s in text), default=-1)
    if cut >= 0:
        text = text[:cut]
    limit = _int_setting(config.get("maxOutputTokens"), None)
    if limit is not None and count_tokens(text) > limit:
        return truncate_tokens(text, limit), "MAX_TOKENS"
    return text, "STOP"


def _int_setting(value: Any, default: int | None) -> int | None:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _finish_trigger(user_text: str) -> str | None:
    """The finish reason the last user text asks for, if any."""
    if UNSAFE_TRIGGER in user_text:
        return "SAFETY"
    if MALFORMED_CALL_TRIGGER in user_text:
        return "MALFORMED_FUNCTION_CALL"
    for match in FINISH_TRIGGER.finditer(user_text):
        if match.group(1) in finish_reasons():
            return match.group(1)
    return None


def _structured_text(config: dict[str, Any], default: str, vary: int, digest: bytes) -> str | None:
    """The answer for ``responseMimeType`` JSON or enum, None for plain text."""
    mime = config.get("responseMimeType")
    if mime == JSON_MIME_TYPE:
        if config.get("responseJsonSchema") is not None:
            value = gemini_schema.generate(config["responseJsonSchema"], vary=vary)
        elif isinstance(config.get("responseSchema"), dict):
            schema = gemini_schema.json_schema_from_openapi(config["responseSchema"])
            value = gemini_schema.generate(schema, vary=vary)
        else:
            value = {"answer": default}
        return json.dumps(value, ensure_ascii=False)
    if mime == ENUM_MIME_TYPE:
        values = _mapping(config.get("responseSchema")).get("enum")
        if isinstance(values, list) and values:
            return str(values[(digest[3] + vary) % len(values)])
    return None


def _withheld_candidate(
    index: int, reason: str, full_text: str, body: dict[str, Any]
) -> CandidatePlan:
    deltas = text_deltas(full_text)
    partial = "" if reason in _CALL_REASONS else "".join(deltas[: max(1, len(deltas) // 2)])
    message = None
    if reason == "MALFORMED_FUNCTION_CALL":
        message = gemini_tools.malformed_call_message(body)
    elif reason == "UNEXPECTED_TOOL_CALL":
        names = gemini_tools.declared_names(body)
        message = f"Unexpected tool call: {gemini_tools.DEFAULT_NAMESPACE}.{names[0] if names else 'unknown_function'}"
    citations = gemini_tools.citation_metadata(full_text) if reason == "RECITATION" else None
    return CandidatePlan(
        index,
        "",
        reason,
        withheld=True,
        partial=partial,
        finish_message=message,
        safety_block=reason == "SAFETY",
        citations=citations,
    )


def check_model_rules(body: dict[str, Any], model: ModelInfo) -> None:
    """Raise :class:`RequestRejected` for the model-dependent 400s (thinking, signatures)."""
    problems = model_problems(body, model.model_id, model.thinking)
    if problems:
        raise RequestRejected(problems[0][1])


def plan_reply(body: dict[str, Any], model: ModelInfo, now: datetime | None = None) -> ReplyPlan:
    """Decide the whole reply to a GenerateContent request (``body`` in camelCase)."""
    check_model_rules(body, model)
    digest = hashlib.sha256(
        f"{model.model_id}\n{canonical_json(reply_seed(body))}".encode()
    ).digest()
    prompt = count_prompt(body)
    base = ReplyPlan(
        model_version=model.model_version,
        response_id=base64.urlsafe_b64encode(digest[:17]).decode("ascii").rstrip("="),
        create_time=(now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        prompt=prompt,
        cached_tokens=max(1, prompt.total // 2)
        if body.get("cachedContent") and prompt.total
        else 0,
    )
    user_text = last_user_text(body)
    if BLOCK_TRIGGER in user_text:
        return replace(base, prompt_blocked=True)
    config = _mapping(body.get("generationConfig"))
    count = _int_setting(config.get("candidateCount"), 1) or 1
    topic = topic_of(user_text)
    trigger = _finish_trigger(user_text)
    if trigger is not None and trigger not in _KEEP_CONTENT and trigger != "MAX_TOKENS":
        candidates = [
            _withheld_candidate(i, trigger, compose_text(topic, digest, i), body)
            for i in range(count)
        ]
        return replace(base, candidates=candidates)
    budget = _int_setting(thinking_config(body).get("thinkingBudget"), None)
    thinks = model.thinking and budget != 0
    include = thinks and thinking_config(body).get("includeThoughts") is True
    results = gemini_tools.tool_results(body)
    declarations = gemini_tools.planned_calls(body, user_text)
    media = gemini_media.media_seen(body)
    search = gemini_tools.uses_google_search(body)
    candidates = []
    thoughts_tokens = 0
    for i in range(count):
        thought = _thought_text(topic) if thinks else None
        if thought is not None:
            spent = count_tokens(thought)
            thoughts_tokens += min(spent, budget) if budget and budget > 0 else spent
        shown = thought if include else None
        if declarations:
            calls = []
            for k, declaration in enumerate(declarations):
                name = str(declaration.get("name", ""))
                args = gemini_tools.arguments(declaration, vary=i)
                signature = None
                if thinks and k == 0:
                    signature = gemini_signatures.sign(gemini_signatures.call_subject(name, args))
                calls.append(CallPlan(name, args, signature))
            candidates.append(CandidatePlan(i, "", "STOP", shown, calls=tuple(calls)))
            continue
        default = compose_text(topic, digest, i)
        if media:
            default = f"The emulator saw {', '.join(media)}. {default}"
        if results is not None:
            text = gemini_tools.tool_results_text(results)
        else:
            text = _structured_text(config, default, i, digest) or default
        text, reason = _apply_limits(text, config)
        if trigger == "MAX_TOKENS":
            text, reason = truncate_tokens(text, max(1, count_tokens(text) // 2)), "MAX_TOKENS"
        elif trigger is not None:
            reason = trigger
        signature = None
        if thinks:
            signature = gemini_signatures.sign(gemini_signatures.text_subject(text))
        candidates.append(
            CandidatePlan(
                i,
                text,
                reason,
                shown,
                signature,
                citations=gemini_tools.citation_metadata(text)
                if CITE_TRIGGER in user_text
                else None,
                grounding=gemini_tools.grounding_metadata(text, topic, digest) if search else None,
            )
        )
    tool_use = 0
    if search and any(c.grounding for c in candidates):
        tool_use = SEARCH_TOOL_TOKENS + count_tokens(topic)
    return replace(
        base, candidates=candidates, thoughts_tokens=thoughts_tokens, tool_use_tokens=tool_use
    )


def _safety_ratings() -> list[dict[str, Any]]:
    ratings = []
    for category in _SAFETY_CATEGORIES:
        high = category == "HARM_CATEGORY_DANGEROUS_CONTENT"
        rating: dict[str, Any] = {
            "category": category,
            "probability": "HIGH" if high else "NEGLIGIBLE",
            "probabilityScore": 0.93 if high else 0.02,
            "severity": "HARM_SEVERITY_HIGH" if high else "HARM_SEVERITY_NEGLIGIBLE",
            "severityScore": 0.88 if high else 0.01,
        }
        if high:
            rating["blocked"] = True
        ratings.append(rating)
    return ratings


def usage_metadata(plan: ReplyPlan, *, streamed: bool = False) -> dict[str, Any]:
    """Full ``usageMetadata``; zero counters are left out, as proto3 JSON does.

    ``streamed``: the usage closing a stream, which also counts text sent before a block.
    """
    candidates_tokens = sum(c.output_tokens(streamed=streamed) for c in plan.candidates)
    usage: dict[str, Any] = {"promptTokenCount": plan.prompt.total}
    if candidates_tokens:
        usage["candidatesTokenCount"] = candidates_tokens
    if plan.tool_use_tokens:
        usage["toolUsePromptTokenCount"] = plan.tool_use_tokens
    if plan.cached_tokens:
        usage["cachedContentTokenCount"] = plan.cached_tokens
    usage["totalTokenCount"] = (
        plan.prompt.total + candidates_tokens + plan.thoughts_tokens + plan.tool_use_tokens
    )
    usage["trafficType"] = TRAFFIC_TYPE
    usage["promptTokensDetails"] = plan.prompt.details()
    if plan.cached_tokens:
        usage["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": plan.cached_tokens}]
    if candidates_tokens:
        usage["candidatesTokensDetails"] = [{"modality": "TEXT", "tokenCount": candidates_tokens}]
    if plan.tool_use_tokens:
        usage["toolUsePromptTokensDetails"] = [
            {"modality": "TEXT", "tokenCount": plan.tool_use_tokens}
        ]
    if plan.thoughts_tokens:
        usage["thoughtsTokenCount"] = plan.thoughts_tokens
    return usage


def _envelope(
    plan: ReplyPlan, candidates: list[dict[str, Any]] | None, usage: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if candidates is not None:
        out["candidates"] = candidates
    if plan.prompt_blocked:
        out["promptFeedback"] = {
            "blockReason": "PROHIBITED_CONTENT",
            "blockReasonMessage": "The prompt was blocked because it contains prohibited content.",
        }
    out["usageMetadata"] = usage
    out["modelVersion"] = plan.model_version
    out["createTime"] = plan.create_time
    out["responseId"] = plan.response_id
    return out


def _candidate(
    c: CandidatePlan, parts: list[dict[str, Any]] | None, *, final: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if parts is not None:
        out["content"] = {"role": "model", "parts": parts}
    if c.index:
        out["index"] = c.index
    if final:
        out["finishReason"] = c.finish_reason
        if c.finish_message is not None:
            out["finishMessage"] = c.finish_message
        if c.safety_block:
            out["safetyRatings"] = _safety_ratings()
        if c.citations is not None:
            out["citationMetadata"] = c.citations
        if c.grounding is not None:
            out["groundingMetadata"] = c.grounding
    return out


def _unary_parts(c: CandidatePlan) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if c.thought is not None:
        parts.append({"text": c.thought, "thought": True})
    if c.calls:
        return parts + [call.part() for call in c.calls]
    answer: dict[str, Any] = {"text": c.text}
    if c.signature is not None:
        answer["thoughtSignature"] = c.signature
    parts.append(answer)
    return parts


def unary_response(plan: ReplyPlan) -> dict[str, Any]:
    """The GenerateContentResponse for ``:generateContent``."""
    if plan.prompt_blocked:
        return _envelope(plan, None, usage_metadata(plan))
    candidates = [
        _candidate(c, None if c.withheld else _unary_parts(c), final=True) for c in plan.candidates
    ]
    return _envelope(plan, candidates, usage_metadata(plan))


def text_deltas(text: str) -> list[str]:
    """Split ``text`` into at least three deltas (fewer only if it has fewer tokens)."""
    spans = token_spans(text)
    if not spans:
        return [text] if text else []
    chunks = min(len(spans), max(MIN_CHUNKS, math.ceil(len(spans) / TOKENS_PER_CHUNK)))
    size = math.ceil(len(spans) / chunks)
    starts = [0] + [spans[k][0] for k in range(size, len(spans), size)]
    bounds = [*starts, len(text)]
    return [text[bounds[k] : bounds[k + 1]] for k in range(len(starts))]


def _candidate_steps(c: CandidatePlan) -> list[list[dict[str, Any]]]:
    steps: list[list[dict[str, Any]]] = []
    if c.thought is not None:
        steps.append([{"text": c.thought, "thought": True}])
    if c.withheld:
        steps.extend([{"text": d}] for d in text_deltas(c.partial))
    elif c.calls:
        steps.append(
            [call.part() for call in c.calls]
        )  # calls arrive whole, in a chunk of their own
    else:
        steps.extend([{"text": d}] for d in text_deltas(c.text))
    return steps


def _closes_apart(c: CandidatePlan) -> bool:
    """True when the candidate's finish needs a chunk of its own after its content."""
    return c.signature is not None or bool(c.calls) or c.withheld


def _closing_parts(c: CandidatePlan) -> list[dict[str, Any]] | None:
    if c.withheld or c.calls:
        return None
    # Real Vertex closes a thinking stream with an empty text part carrying the signature.
    if c.signature is not None:
        return [{"text": "", "thoughtSignature": c.signature}]
    return [{"text": ""}]


def stream_chunks(plan: ReplyPlan) -> list[dict[str, Any]]:
    """The GenerateContentResponse chunks of ``:streamGenerateContent``; usage only on the last."""
    if plan.prompt_blocked or all(c.withheld and not c.partial for c in plan.candidates):
        return [unary_response(plan)]
    per_candidate = [_candidate_steps(c) for c in plan.candidates]
    apart = any(_closes_apart(c) for c in plan.candidates)
    total = max(1, max(len(steps) for steps in per_candidate) + (1 if apart else 0))
    chunks = []
    for k in range(total):
        final = k == total - 1
        candidates = []
        for c, steps in zip(plan.candidates, per_candidate, strict=True):
            if k < len(steps):
                candidates.append(_candidate(c, steps[k], final=final))
            elif final:
                candidates.append(_candidate(c, _closing_parts(c), final=True))
        usage = usage_metadata(plan, streamed=True) if final else {"trafficType": TRAFFIC_TYPE}
        chunks.append(_envelope(plan, candidates, usage))
    return chunks


def count_tokens_response(body: dict[str, Any]) -> dict[str, Any]:
    """The CountTokensResponse, by the same counting rule as generation."""
    prompt = count_prompt(body)
    return {
        "totalTokens": prompt.total,
        "totalBillableCharacters": prompt.billable_characters,
        "promptTokensDetails": prompt.details(),
    }
