"""Deterministic, plausible Gemini replies.

Everything is derived from a SHA-256 of the model id and the canonical request JSON (less the
settings that only cut or shape the output), so the same request always gets the same reply
(``createTime`` is the only real-time value). Streaming and
unary share one plan, so the streamed text deltas concatenate to the unary text.

Triggers (in the last user text): ``EMULATOR_BLOCK_PROMPT`` blocks the prompt
(``promptFeedback.blockReason`` PROHIBITED_CONTENT, no candidates); ``EMULATOR_UNSAFE`` ends every
candidate with finishReason SAFETY and no content.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from emulator.catalog import ModelInfo
from emulator.counting import PromptCount, count_prompt, count_tokens, token_spans, truncate_tokens

UNSAFE_TRIGGER = "EMULATOR_UNSAFE"
BLOCK_TRIGGER = "EMULATOR_BLOCK_PROMPT"
TRAFFIC_TYPE = "ON_DEMAND"
TOKENS_PER_CHUNK = 8
MIN_CHUNKS = 3

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


@dataclass(frozen=True)
class CandidatePlan:
    """One candidate's final text and metadata."""

    index: int
    text: str
    finish_reason: str
    thought: str | None = None
    signature: str | None = None

    @property
    def blocked(self) -> bool:
        """True when safety stopped the candidate (no content at all)."""
        return self.finish_reason == "SAFETY"


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

    @property
    def candidates_tokens(self) -> int:
        """Output tokens over all candidates (thoughts are counted separately, as Vertex does)."""
        return sum(count_tokens(c.text) for c in self.candidates)


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


def _last_user_text(body: dict[str, Any]) -> str:
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


def _topic(text: str) -> str:
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


def plan_reply(body: dict[str, Any], model: ModelInfo, now: datetime | None = None) -> ReplyPlan:
    """Decide the whole reply to a GenerateContent request (``body`` in camelCase)."""
    digest = hashlib.sha256(
        f"{model.model_id}\n{canonical_json(reply_seed(body))}".encode()
    ).digest()
    base = ReplyPlan(
        model_version=model.model_version,
        response_id=base64.urlsafe_b64encode(digest[:17]).decode("ascii").rstrip("="),
        create_time=(now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        prompt=count_prompt(body),
    )
    user_text = _last_user_text(body)
    if BLOCK_TRIGGER in user_text:
        return replace(base, prompt_blocked=True)
    config = _mapping(body.get("generationConfig"))
    count = _int_setting(config.get("candidateCount"), 1) or 1
    if UNSAFE_TRIGGER in user_text:
        return replace(base, candidates=[CandidatePlan(i, "", "SAFETY") for i in range(count)])
    thinking = _mapping(config.get("thinkingConfig"))
    budget = _int_setting(thinking.get("thinkingBudget"), None)
    thinks = model.thinking and budget != 0
    include = thinks and thinking.get("includeThoughts") is True
    topic = _topic(user_text)
    candidates = []
    thoughts_tokens = 0
    for i in range(count):
        text, reason = _apply_limits(compose_text(topic, digest, i), config)
        thought = _thought_text(topic) if thinks else None
        if thought is not None:
            spent = count_tokens(thought)
            thoughts_tokens += min(spent, budget) if budget and budget > 0 else spent
        signature = None
        if include:
            signature = base64.b64encode(hashlib.sha256(digest + bytes([i])).digest()).decode(
                "ascii"
            )
        candidates.append(CandidatePlan(i, text, reason, thought if include else None, signature))
    return replace(base, candidates=candidates, thoughts_tokens=thoughts_tokens)


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


def usage_metadata(plan: ReplyPlan) -> dict[str, Any]:
    """Full ``usageMetadata``; zero counters are left out, as proto3 JSON does."""
    candidates_tokens = plan.candidates_tokens
    usage: dict[str, Any] = {"promptTokenCount": plan.prompt.total}
    if candidates_tokens:
        usage["candidatesTokenCount"] = candidates_tokens
    usage["totalTokenCount"] = plan.prompt.total + candidates_tokens + plan.thoughts_tokens
    usage["trafficType"] = TRAFFIC_TYPE
    usage["promptTokensDetails"] = plan.prompt.details()
    if candidates_tokens:
        usage["candidatesTokensDetails"] = [{"modality": "TEXT", "tokenCount": candidates_tokens}]
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
        if c.blocked:
            out["safetyRatings"] = _safety_ratings()
    return out


def _unary_parts(c: CandidatePlan) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if c.thought is not None:
        parts.append({"text": c.thought, "thought": True})
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
        _candidate(c, None if c.blocked else _unary_parts(c), final=True) for c in plan.candidates
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
    steps.extend([{"text": d}] for d in text_deltas(c.text))
    return steps


def _closing_parts(c: CandidatePlan) -> list[dict[str, Any]]:
    # Real Vertex closes a thinking stream with an empty text part carrying the signature.
    if c.signature is not None:
        return [{"text": "", "thoughtSignature": c.signature}]
    return [{"text": ""}]


def stream_chunks(plan: ReplyPlan) -> list[dict[str, Any]]:
    """The GenerateContentResponse chunks of ``:streamGenerateContent``; usage only on the last."""
    if plan.prompt_blocked or all(c.blocked for c in plan.candidates):
        return [unary_response(plan)]
    per_candidate = [_candidate_steps(c) for c in plan.candidates]
    signed = any(c.signature is not None for c in plan.candidates)
    total = max(1, max(len(steps) for steps in per_candidate) + (1 if signed else 0))
    chunks = []
    for k in range(total):
        final = k == total - 1
        candidates = []
        for c, steps in zip(plan.candidates, per_candidate, strict=True):
            if k < len(steps):
                candidates.append(_candidate(c, steps[k], final=final))
            elif final:
                candidates.append(_candidate(c, _closing_parts(c), final=True))
        usage = usage_metadata(plan) if final else {"trafficType": TRAFFIC_TYPE}
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
