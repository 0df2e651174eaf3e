"""Deterministic Claude replies (an Anthropic ``Message``) and the token figures behind them.

The words come from a SHA-256 of the model id and the request body less the settings that only
cut or shape the output (``max_tokens``, ``stop_sequences``, ``stream``, ``thinking``,
``cache_control`` markers, ``anthropic_version`` …), so a cut reply is a prefix of the uncut one
and a cached prompt gets the same answer as an uncached one. Tokens follow the emulator's one rule
(``emulator/counting.py``); images and PDFs count ``MEDIA_TOKENS`` each.

Triggers in the last user text: ``EMULATOR_UNSAFE`` (refusal after a few words),
``EMULATOR_CONTEXT`` (model_context_window_exceeded), ``EMULATOR_PAUSE`` (pause_turn),
``EMULATOR_STOP_SEQUENCE`` (with ``stop_sequences``: stops at the first one),
``EMULATOR_MALFORMED_CALL`` (with tools: a tool call whose input breaks the schema; streamed as
JSON that does not parse) and ``EMULATOR_REDACTED`` (with thinking: a ``redacted_thinking`` block).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from emulator.catalog import ModelInfo
from emulator.claude_rules import content_blocks, custom_tools, thinking_enabled
from emulator.claude_signing import redacted_data, sign_thinking
from emulator.claude_tools import example_input, malformed_input
from emulator.counting import MEDIA_TOKENS, count_tokens, token_spans, truncate_tokens
from emulator.state import EmulatorState

UNSAFE_TRIGGER = "EMULATOR_UNSAFE"
CONTEXT_TRIGGER = "EMULATOR_CONTEXT"
PAUSE_TRIGGER = "EMULATOR_PAUSE"
STOP_TRIGGER = "EMULATOR_STOP_SEQUENCE"
MALFORMED_TRIGGER = "EMULATOR_MALFORMED_CALL"
REDACTED_TRIGGER = "EMULATOR_REDACTED"
REFUSAL_TOKENS = 10
_CACHE_TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
_SHAPING = frozenset(
    {
        "max_tokens",
        "stop_sequences",
        "stream",
        "thinking",
        "anthropic_version",
        "anthropic_beta",
        "metadata",
        "cache_control",
        "service_tier",
    }
)
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_OPENERS = (
    "Here is a short answer",
    "Happy to help with that",
    "Good question",
    "Let me answer that",
    "Here is what I can say",
    "Sure",
)
_MIDDLES = (
    "The short version is that it depends on the details you care about most.",
    "A careful look at the details usually makes the answer clear.",
    "There are a few ways to see it, and each one points the same way.",
    "It helps to start small and build up the picture step by step.",
    "In practice the answer is easier than it first looks.",
    "Breaking it into parts shows how everything fits together.",
)
_CLOSERS = (
    "Let me know if you want more detail.",
    "I hope that helps.",
    "Ask again if anything is unclear.",
    "That should cover the main points.",
    "I can go deeper if that would help.",
)
TOKENS_PER_DELTA = 8
MIN_DELTAS = 3


def _base58(data: bytes, length: int = 22) -> str:
    number = int.from_bytes(data, "big")
    out: list[str] = []
    while number and len(out) < length:
        number, rem = divmod(number, 58)
        out.append(_BASE58[rem])
    return "".join(out).ljust(length, "1")


def canonical_json(value: Any) -> str:
    """Key-sorted, compact JSON: the input to the reply hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compose_text(topic: str, digest: bytes) -> str:
    """The full would-be answer: it names the topic and always contains the word "emulator"."""
    return (
        f'{_OPENERS[digest[0] % len(_OPENERS)]}: you asked about "{topic}". '
        f"{_MIDDLES[digest[1] % len(_MIDDLES)]} "
        "This reply comes from the Vertex emulator, so the same request always gets the same words. "
        f"{_CLOSERS[digest[2] % len(_CLOSERS)]}"
    )


def text_deltas(text: str, per_delta: int = TOKENS_PER_DELTA) -> list[str]:
    """``text`` in pieces of about ``per_delta`` tokens, at least three when it has the tokens."""
    spans = token_spans(text)
    if not spans:
        return [text] if text else []
    pieces = min(len(spans), max(MIN_DELTAS, math.ceil(len(spans) / per_delta)))
    size = math.ceil(len(spans) / pieces)
    starts = [0] + [spans[k][0] for k in range(size, len(spans), size)]
    bounds = [*starts, len(text)]
    return [text[bounds[k] : bounds[k + 1]] for k in range(len(starts))]


def _strip_cache_control(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip_cache_control(v) for v in value]
    return value


def reply_digest(body: dict[str, Any], model: ModelInfo) -> bytes:
    """The hash every word of the reply is derived from."""
    seed = {k: v for k, v in body.items() if k not in _SHAPING}
    text = f"{model.model_id}\n{canonical_json(_strip_cache_control(seed))}"
    return hashlib.sha256(text.encode("utf-8")).digest()


# --- token counting -------------------------------------------------------------------------


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _block_tokens(block: dict[str, Any]) -> int:
    kind = block.get("type")
    if kind == "text":
        return count_tokens(str(block.get("text", "")))
    if kind == "image":
        return MEDIA_TOKENS
    if kind == "document":
        source = block.get("source") or {}
        if source.get("type") == "text":
            return count_tokens(str(source.get("data", "")))
        return MEDIA_TOKENS
    if kind == "tool_use":
        return count_tokens(f"{block.get('name', '')} {_compact(block.get('input', {}))}")
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, str):
            return count_tokens(content) + 1
        return 1 + sum(_block_tokens(b) for b in content or [] if isinstance(b, dict))
    if kind == "thinking":
        return count_tokens(str(block.get("thinking", "")))
    if kind == "redacted_thinking":
        return count_tokens(str(block.get("data", ""))) // 4
    return count_tokens(_compact(_strip_cache_control(block)))


@dataclass(frozen=True)
class Segment:
    """One cacheable piece of the prompt, in the order the prompt cache sees them."""

    key: str
    tokens: int
    ttl: str | None  # set on a cache breakpoint


def prompt_segments(body: dict[str, Any]) -> list[Segment]:
    """Tools, then system, then every message block: the prompt-cache prefix order."""
    segments: list[Segment] = []

    def add(value: Any, tokens: int) -> None:
        marker = value.get("cache_control") if isinstance(value, dict) else None
        ttl = str(marker.get("ttl") or "5m") if isinstance(marker, dict) else None
        segments.append(Segment(_compact(_strip_cache_control(value)), tokens, ttl))

    for tool in body.get("tools") or []:
        add(tool, count_tokens(_compact(_strip_cache_control(tool))))
    system = body.get("system")
    if isinstance(system, str):
        add({"type": "text", "text": system}, count_tokens(system))
    for block in system or [] if isinstance(system, list) else []:
        add(block, count_tokens(str(block.get("text", ""))))
    for message in body.get("messages") or []:
        for block in content_blocks(message):
            add({"role": message.get("role"), **block}, _block_tokens(block))
    top = body.get("cache_control")
    if isinstance(top, dict) and segments:
        last = segments[-1]
        segments[-1] = Segment(last.key, last.tokens, str(top.get("ttl") or "5m"))
    return segments


def count_input_tokens(body: dict[str, Any]) -> int:
    """Every prompt token: tools (as compact JSON), system, and all message blocks."""
    return sum(s.tokens for s in prompt_segments(body))


# --- the prompt cache -----------------------------------------------------------------------


@dataclass
class CacheUse:
    """What the prompt cache did for one request."""

    read: int = 0
    created_5m: int = 0
    created_1h: int = 0

    @property
    def created(self) -> int:
        """Tokens written to the cache."""
        return self.created_5m + self.created_1h


class PromptCache:
    """Cached prompt prefixes (hash → expiry), as Anthropic's ephemeral cache keeps them."""

    def __init__(self) -> None:
        self._entries: dict[str, float] = {}

    def use(self, model: ModelInfo, segments: list[Segment]) -> CacheUse:
        """Read the longest cached prefix ending at a breakpoint; write the last breakpoint."""
        now = time.monotonic()
        self._entries = {k: t for k, t in self._entries.items() if t > now}
        running = hashlib.sha256(model.model_id.encode("utf-8"))
        total = 0
        breakpoints: list[tuple[str, int, str]] = []
        for segment in segments:
            running.update(segment.key.encode("utf-8") + b"\x00")
            total += segment.tokens
            if segment.ttl is not None:
                breakpoints.append((running.copy().hexdigest(), total, segment.ttl))
        if not breakpoints:
            return CacheUse()
        hits = [tokens for key, tokens, _ in breakpoints if key in self._entries]
        read = max(hits, default=0)
        last_key, last_tokens, last_ttl = breakpoints[-1]
        use = CacheUse(read=read)
        if last_key not in self._entries:
            if last_ttl == "1h":
                use.created_1h = last_tokens - read
            else:
                use.created_5m = last_tokens - read
        for key, _, ttl in breakpoints:
            self._entries[key] = now + _CACHE_TTL_SECONDS.get(ttl, 300.0)
        return use


_CACHES: weakref.WeakKeyDictionary[EmulatorState, tuple[object, PromptCache]] = (
    weakref.WeakKeyDictionary()
)


def cache_for(state: EmulatorState) -> PromptCache:
    """The prompt cache of one emulator; a reset (which replaces the counters) empties it."""
    held = _CACHES.get(state)
    if held is None or held[0] is not state.stats:
        held = (state.stats, PromptCache())
        _CACHES[state] = held
    return held[1]


# --- the reply ------------------------------------------------------------------------------


@dataclass
class ClaudePlan:
    """Everything needed to answer one Messages request, unary or streamed."""

    message_id: str
    model_version: str
    blocks: list[dict[str, Any]]
    stop_reason: str
    stop_sequence: str | None
    input_tokens: int
    output_tokens: int
    cache: CacheUse = field(default_factory=CacheUse)
    # Streaming only: the partial_json to send for a tool_use block (index → text that may not
    # parse, for EMULATOR_MALFORMED_CALL).
    raw_json: dict[int, str] = field(default_factory=dict)

    def usage(self, *, output_tokens: int | None = None) -> dict[str, Any]:
        """The ``usage`` object."""
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache.created,
            "cache_read_input_tokens": self.cache.read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache.created_5m,
                "ephemeral_1h_input_tokens": self.cache.created_1h,
            },
            "output_tokens": self.output_tokens if output_tokens is None else output_tokens,
        }

    def message(self) -> dict[str, Any]:
        """The unary ``Message``."""
        return {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model_version,
            "content": self.blocks,
            "stop_reason": self.stop_reason,
            "stop_sequence": self.stop_sequence,
            "usage": self.usage(),
        }


def _texts(blocks: list[dict[str, Any]]) -> str:
    return " ".join(str(b.get("text")) for b in blocks if b.get("type") == "text")


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user message (tool results left out)."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            return _texts(content_blocks(message))
    return ""


def _topic(text: str) -> str:
    words = text.replace('"', "'").split()
    if not words:
        return "your request"
    return " ".join(words[:8]) + (" ..." if len(words) > 8 else "")


def _media_seen(body: dict[str, Any]) -> list[str]:
    seen: list[str] = []

    def visit(block: dict[str, Any]) -> None:
        if block.get("type") in ("image", "document"):
            source = block.get("source") or {}
            kind = source.get("type")
            media = source.get("media_type") or ("text/plain" if kind == "text" else None)
            seen.append(str(media or f"{block['type']} url"))
        if block.get("type") == "tool_result" and isinstance(block.get("content"), list):
            for inner in block["content"]:
                if isinstance(inner, dict):
                    visit(inner)

    for message in body.get("messages") or []:
        if message.get("role") == "user":
            for block in content_blocks(message):
                visit(block)
    return list(dict.fromkeys(seen))


def _tool_result_text(body: dict[str, Any]) -> str | None:
    messages = body.get("messages") or []
    if not messages or messages[-1].get("role") != "user":
        return None
    results = [b for b in content_blocks(messages[-1]) if b.get("type") == "tool_result"]
    if not results:
        return None
    names: dict[str, str] = {}
    if len(messages) > 1:
        for block in content_blocks(messages[-2]):
            if block.get("type") == "tool_use":
                names[str(block.get("id"))] = str(block.get("name"))
    parts = []
    for result in results:
        tool_id = str(result.get("tool_use_id"))
        content = result.get("content")
        if isinstance(content, list):
            shown = " ".join(
                str(b.get("text")) if b.get("type") == "text" else f"[{b.get('type')}]"
                for b in content
                if isinstance(b, dict)
            )
        else:
            shown = str(content or "")
        if len(shown) > 500:
            shown = shown[:500] + " ..."
        error = " (reported as an error)" if result.get("is_error") else ""
        parts.append(f"{names.get(tool_id, 'the tool')} ({tool_id}) returned{error}: {shown}")
    return (
        f"The emulator received {len(results)} tool result{'s' if len(results) != 1 else ''}. "
        + " ".join(p.rstrip(".") + "." for p in parts)
        + " That is everything needed to answer."
    )


def _word_in(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def _chosen_tools(body: dict[str, Any], text: str) -> list[dict[str, Any]]:
    tools = custom_tools(body)
    choice = body.get("tool_choice") or {"type": "auto"}
    if not tools or choice.get("type") == "none":
        return []
    if choice.get("type") == "tool":
        return [t for t in tools if t["name"] == choice.get("name")][:1]
    chosen = [t for t in tools if _word_in(str(t["name"]), text)]
    if choice.get("type") == "any" and not chosen:
        chosen = tools[:1]
    if choice.get("disable_parallel_tool_use"):
        chosen = chosen[:1]
    return chosen


def _thinking_text(topic: str, tools: list[dict[str, Any]]) -> str:
    plan = (
        f"I should call {', '.join(str(t['name']) for t in tools)} first."
        if tools
        else "I will answer in a few plain sentences."
    )
    return (
        f'The user asked about "{topic}". {plan} I will say that the answer comes from the '
        "emulator."
    )


def _cut_at_stop(text: str, stops: list[str]) -> tuple[str, str | None]:
    found = [(text.find(s), s) for s in stops if s and s in text]
    if not found:
        return text, None
    at, stop = min(found)
    return text[:at], stop


def plan_reply(body: dict[str, Any], model: ModelInfo, cache: PromptCache | None) -> ClaudePlan:
    """Decide the whole reply to a (valid) Messages request."""
    digest = reply_digest(body, model)
    text_in = last_user_text(body)
    topic = _topic(text_in)
    segments = prompt_segments(body)
    use = cache.use(model, segments) if cache is not None else CacheUse()
    total_in = sum(s.tokens for s in segments)
    stops = [s for s in body.get("stop_sequences") or [] if s]
    max_tokens = int(body.get("max_tokens", 0))

    special = next(
        (
            t
            for t in (UNSAFE_TRIGGER, CONTEXT_TRIGGER, PAUSE_TRIGGER, STOP_TRIGGER)
            if t in text_in and (t != STOP_TRIGGER or stops)
        ),
        None,
    )
    result_text = _tool_result_text(body)
    tools = [] if result_text is not None or special else _chosen_tools(body, text_in)
    malformed = (
        MALFORMED_TRIGGER in text_in
        and bool(custom_tools(body))
        and (body.get("tool_choice") or {}).get("type") != "none"
        and result_text is None
        and not special
    )
    if malformed and not tools:
        tools = custom_tools(body)[:1]

    if result_text is not None:
        text = result_text
    else:
        text = compose_text(topic, digest)
        media = _media_seen(body)
        if media:
            text += f" The emulator saw {', '.join(media)}."
    if tools:
        names = ", ".join(str(t["name"]) for t in tools)
        forced = (body.get("tool_choice") or {}).get("type") in ("any", "tool")
        text = "" if forced else f"I will use {names} to answer that, via the emulator."

    stop_reason, stop_sequence = ("tool_use" if tools else "end_turn"), None
    if special == UNSAFE_TRIGGER:
        text, stop_reason = truncate_tokens(text, REFUSAL_TOKENS), "refusal"
    elif special == CONTEXT_TRIGGER:
        text = truncate_tokens(text, max(1, count_tokens(text) // 2))
        stop_reason = "model_context_window_exceeded"
    elif special == PAUSE_TRIGGER:
        stop_reason = "pause_turn"
    elif special == STOP_TRIGGER:
        cut = text.find(". ")
        text = text[: cut + 1] if cut >= 0 else text
        stop_reason, stop_sequence = "stop_sequence", stops[0]
    else:
        text, stop_sequence = _cut_at_stop(text, stops)
        if stop_sequence is not None:
            tools, stop_reason = [], "stop_sequence"

    blocks: list[dict[str, Any]] = []
    if thinking_enabled(body) and model.thinking:
        display = (body.get("thinking") or {}).get("display")
        thought = _thinking_text(topic, tools)
        shown = "" if display == "omitted" else thought
        blocks.append({"type": "thinking", "thinking": shown, "signature": sign_thinking(shown)})
        if REDACTED_TRIGGER in text_in:
            blocks.append({"type": "redacted_thinking", "data": redacted_data(digest)})
    if text:
        blocks.append({"type": "text", "text": text})
    raw_json: dict[int, str] = {}
    for n, tool in enumerate(tools):
        schema = tool.get("input_schema") or {}
        payload = malformed_input(schema) if malformed and n == 0 else example_input(schema)
        tool_id = "toolu_vrtx_01" + _base58(hashlib.sha256(digest + bytes([n])).digest())
        index = len(blocks)
        blocks.append({"type": "tool_use", "id": tool_id, "name": tool["name"], "input": payload})
        if malformed and n == 0:
            complete = json.dumps(payload, ensure_ascii=False)
            raw_json[index] = complete[: max(1, len(complete) - 2)]

    blocks, stop_reason, stop_sequence = _limit(blocks, max_tokens, stop_reason, stop_sequence)
    raw_json = {i: t for i, t in raw_json.items() if i < len(blocks)}
    return ClaudePlan(
        message_id="msg_vrtx_01" + _base58(digest),
        model_version=model.model_version,
        blocks=blocks,
        stop_reason=stop_reason,
        stop_sequence=stop_sequence,
        input_tokens=total_in - use.read - use.created,
        output_tokens=sum(output_tokens(b) for b in blocks),
        cache=use,
        raw_json=raw_json,
    )


def output_tokens(block: dict[str, Any]) -> int:
    """Tokens an output block costs."""
    if block.get("type") == "text":
        return count_tokens(str(block.get("text", "")))
    return _block_tokens(block)


def _limit(
    blocks: list[dict[str, Any]], max_tokens: int, stop_reason: str, stop_sequence: str | None
) -> tuple[list[dict[str, Any]], str, str | None]:
    """Cut the reply to ``max_tokens`` output tokens (thinking counts too)."""
    if sum(output_tokens(b) for b in blocks) <= max_tokens:
        return blocks, stop_reason, stop_sequence
    kept: list[dict[str, Any]] = []
    left = max_tokens
    for block in blocks:
        cost = output_tokens(block)
        if cost <= left:
            kept.append(block)
            left -= cost
            continue
        if block.get("type") == "text" and left > 0:
            kept.append({**block, "text": truncate_tokens(str(block["text"]), left)})
        break
    return kept, "max_tokens", None
