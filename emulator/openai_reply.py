"""Deterministic OpenAI ``chat.completion`` replies (unary and ``chat.completion.chunk`` streams).

Everything comes from a SHA-256 of the model name and the canonical request JSON (less the
settings that only cut or shape the output), except ``created``. Text replies reuse the Gemini
reply style (``gemini.compose_text``): a few plain sentences that quote the last user text and
always contain the word "emulator".

Triggers in the last user text: ``EMULATOR_UNSAFE`` ends with ``content_filter`` after a little
content; ``EMULATOR_MALFORMED_CALL`` (with function tools declared) returns one tool call whose
``arguments`` is not valid JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from emulator.counting import count_tokens, truncate_tokens
from emulator.gemini import UNSAFE_TRIGGER, canonical_json, compose_text, text_deltas
from emulator.openai_jsonschema import make_instance
from emulator.openai_models import OpenModel
from emulator.openai_prompt import content_parts, count_prompt_tokens, media_type, text_of
from emulator.openai_rules import declared_functions

MALFORMED_TRIGGER = "EMULATOR_MALFORMED_CALL"
UNSAFE_PREFIX_TOKENS = 8
# Settings that cut or shape the output but leave its words alone (a cut reply is a prefix).
_SHAPING = frozenset(
    {
        "max_tokens",
        "max_completion_tokens",
        "stream",
        "stream_options",
        "n",
        "stop",
        "logprobs",
        "top_logprobs",
    }
)
_EFFORT_SENTENCES = {"none": 0, "minimal": 1, "low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True)
class ToolCallPlan:
    """One function call the assistant makes."""

    id: str
    name: str
    arguments: str

    @property
    def tokens(self) -> int:
        """What the call costs in completion tokens."""
        return count_tokens(self.name) + count_tokens(self.arguments)

    def to_json(self) -> dict[str, Any]:
        """The ``tool_calls[]`` entry of a message."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True)
class ChoicePlan:
    """One choice: its message parts, finish reason and token figures."""

    index: int
    content: str | None
    finish_reason: str
    reasoning: str | None = None
    reasoning_tokens: int = 0
    tool_calls: tuple[ToolCallPlan, ...] = ()

    @property
    def completion_tokens(self) -> int:
        """Content, reasoning (shown or not) and tool calls."""
        text = count_tokens(self.content) if self.content else 0
        return text + self.reasoning_tokens + sum(c.tokens for c in self.tool_calls)

    def message(self) -> dict[str, Any]:
        """The unary ``message`` object."""
        out: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.reasoning is not None:
            out["reasoning_content"] = self.reasoning
        if self.tool_calls:
            out["tool_calls"] = [c.to_json() for c in self.tool_calls]
        return out


@dataclass(frozen=True)
class ReplyPlan:
    """The whole reply, rendered either as one ``chat.completion`` or as chunks."""

    id: str
    created: int
    model: str
    prompt_tokens: int
    choices: list[ChoicePlan] = field(default_factory=list)
    reasoning_model: bool = False

    def usage(self) -> dict[str, Any]:
        """The ``usage`` object; reasoning tokens are part of ``completion_tokens``."""
        completion = sum(c.completion_tokens for c in self.choices)
        out: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }
        if self.reasoning_model:
            reasoning = sum(c.reasoning_tokens for c in self.choices)
            out["completion_tokens_details"] = {"reasoning_tokens": reasoning}
        return out


# --- reading the request -----------------------------------------------------------------------


def last_user_text(messages: list[Any]) -> str:
    """The text of the last ``user`` message."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content"))
    return ""


def trailing_tool_results(messages: list[Any]) -> list[dict[str, Any]]:
    """The ``tool`` messages at the end of the conversation (answers to the last tool calls)."""
    out: list[dict[str, Any]] = []
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "tool":
            break
        out.insert(0, message)
    return out


def media_seen(messages: list[Any]) -> list[str]:
    """The MIME types of every image, document and audio part, first seen first."""
    seen: list[str] = []
    for message in messages:
        if isinstance(message, dict):
            for _, part in content_parts(message):
                mime = media_type(part)
                if mime and mime not in seen:
                    seen.append(mime)
    return seen


# --- deciding the reply ------------------------------------------------------------------------


def _topic(text: str) -> str:
    words = text.replace('"', "'").split()
    if not words:
        return "your request"
    return " ".join(words[:8]) + (" ..." if len(words) > 8 else "")


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) is not None


def called_functions(body: dict[str, Any], user_text: str, after_tools: bool) -> list[str]:
    """Which declared functions the assistant calls, by ``tool_choice`` and the user's words."""
    names = [str(f.get("name")) for f in declared_functions(body)]
    choice = body.get("tool_choice")
    if not names or choice == "none":
        return []
    mentioned = [n for n in names if _mentions(user_text, n)]
    if isinstance(choice, dict):
        chosen = [str(choice.get("function", {}).get("name"))]
    elif choice == "required":
        chosen = mentioned or names[:1]
    else:
        chosen = [] if after_tools else mentioned
    if body.get("parallel_tool_calls") is False:
        chosen = chosen[:1]
    return chosen


def _arguments(function: dict[str, Any]) -> str:
    parameters = function.get("parameters")
    value = make_instance(parameters, "value") if isinstance(parameters, dict) else {}
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _broken(arguments: str) -> str:
    cut = arguments[: max(1, len(arguments) // 2)]
    try:
        json.loads(cut)
    except ValueError:
        return cut
    return arguments[:-1] if len(arguments) > 1 else "{"


def _call_id(digest: bytes, choice: int, index: int, name: str) -> str:
    seed = digest + bytes([choice % 256, index % 256]) + name.encode()
    return "call_" + hashlib.sha256(seed).hexdigest()[:24]


def _tool_results_text(results: list[dict[str, Any]]) -> str:
    quoted = []
    for result in results:
        content = text_of(result.get("content")).replace('"', "'")
        if len(content) > 80:
            content = content[:77] + "..."
        quoted.append(f'{result.get("tool_call_id")} returned "{content}"')
    return (
        f"The emulator read the tool results: {'; '.join(quoted)}. "
        "Based on those results, here is the answer you asked for."
    )


def _reasoning_text(topic: str, effort: str | None, calls: list[str]) -> str:
    sentences = [
        f'The user asked about "{topic}".',
        "I will answer in a few plain sentences and say that the answer comes from the emulator.",
        "Nothing in the question needs more than that.",
    ]
    if calls:
        sentences[1] = f"The emulator should call {', '.join(calls)} before answering."
    count = _EFFORT_SENTENCES.get(effort or "medium", 2)
    return " ".join(sentences[: max(1, count)])


def _budget(body: dict[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _stop_cut(text: str, stop: Any) -> str:
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    cuts = [text.find(s) for s in stops if isinstance(s, str) and s and s in text]
    return text[: min(cuts)] if cuts else text


@dataclass
class _Planner:
    body: dict[str, Any]
    model: OpenModel
    digest: bytes
    messages: list[Any]
    user_text: str

    @property
    def effort(self) -> str | None:
        value = self.body.get("reasoning_effort")
        return str(value) if value is not None else None

    def thinks(self) -> bool:
        return self.model.thinking and self.effort != "none"

    def text(self, index: int) -> str:
        results = trailing_tool_results(self.messages)
        if results:
            text = _tool_results_text(results)
        else:
            text = compose_text(_topic(self.user_text), self.digest, index)
        media = media_seen(self.messages)
        if media:
            text += f" The emulator saw {', '.join(media)}."
        return text

    def formatted(self, text: str) -> str:
        fmt = self.body.get("response_format")
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind == "json_object":
            return json.dumps({"answer": text, "source": "emulator"}, ensure_ascii=False)
        if kind == "json_schema":
            spec = fmt.get("json_schema", {}) if isinstance(fmt, dict) else {}
            value = make_instance(spec.get("schema", {}), str(spec.get("name", "value")))
            return json.dumps(value, ensure_ascii=False)
        return text

    def tool_calls(self, index: int, names: list[str], *, malformed: bool) -> list[ToolCallPlan]:
        functions = {str(f.get("name")): f for f in declared_functions(self.body)}
        calls = []
        for k, name in enumerate(names):
            arguments = _arguments(functions.get(name, {}))
            if malformed:
                arguments = _broken(arguments)
            calls.append(ToolCallPlan(_call_id(self.digest, index, k, name), name, arguments))
        return calls

    def choice(self, index: int) -> ChoicePlan:
        user_text = self.user_text
        if UNSAFE_TRIGGER in user_text:
            partial = truncate_tokens(self.text(index), UNSAFE_PREFIX_TOKENS)
            return ChoicePlan(index, partial, "content_filter")
        has_functions = bool(declared_functions(self.body))
        malformed = has_functions and MALFORMED_TRIGGER in user_text
        if malformed:
            names = called_functions(self.body, user_text, False)[:1] or [
                str(declared_functions(self.body)[0].get("name"))
            ]
        else:
            after_tools = bool(trailing_tool_results(self.messages))
            names = called_functions(self.body, user_text, after_tools)
        thought = _reasoning_text(_topic(user_text), self.effort, names) if self.thinks() else None
        reasoning_tokens = count_tokens(thought) if thought else 0
        shown = thought if self.model.reasoning_content else None
        budget = _budget(self.body)
        if budget is not None and thought and reasoning_tokens >= budget:
            cut = truncate_tokens(thought, budget) if shown is not None else None
            return ChoicePlan(index, "", "length", cut, budget)
        remaining = None if budget is None else budget - reasoning_tokens
        if names:
            calls = self.tool_calls(index, names, malformed=malformed)
            calls, cut_short = _fit_calls(calls, remaining)
            reason = "length" if cut_short else "tool_calls"
            return ChoicePlan(index, None, reason, shown, reasoning_tokens, tuple(calls))
        content = _stop_cut(self.formatted(self.text(index)), self.body.get("stop"))
        reason = "stop"
        if remaining is not None and count_tokens(content) > remaining:
            content, reason = truncate_tokens(content, remaining), "length"
        return ChoicePlan(index, content, reason, shown, reasoning_tokens)


def _fit_calls(calls: list[ToolCallPlan], remaining: int | None) -> tuple[list[ToolCallPlan], bool]:
    """Cut the calls to the token budget (the last one mid-arguments), as a model would stop."""
    if remaining is None or sum(c.tokens for c in calls) <= remaining:
        return calls, False
    kept: list[ToolCallPlan] = []
    left = remaining
    for call in calls:
        if call.tokens <= left:
            kept.append(call)
            left -= call.tokens
            continue
        room = left - count_tokens(call.name)
        if room > 0:
            kept.append(ToolCallPlan(call.id, call.name, truncate_tokens(call.arguments, room)))
        break
    return kept, True


def reply_seed(body: dict[str, Any]) -> dict[str, Any]:
    """The part of the request that decides the reply's words."""
    return {k: v for k, v in body.items() if k not in _SHAPING}


def plan_reply(body: dict[str, Any], model: OpenModel, now: float | None = None) -> ReplyPlan:
    """Decide the whole reply to a validated chat-completions body."""
    digest = hashlib.sha256(f"{model.name}\n{canonical_json(reply_seed(body))}".encode()).digest()
    messages = list(body.get("messages") or [])
    planner = _Planner(body, model, digest, messages, last_user_text(messages))
    n = body.get("n")
    count = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
    return ReplyPlan(
        id="chatcmpl-" + digest.hex()[:29],
        created=int(now if now is not None else time.time()),
        model=model.name,
        prompt_tokens=count_prompt_tokens(body),
        choices=[planner.choice(i) for i in range(count)],
        reasoning_model=model.thinking,
    )


# --- rendering ---------------------------------------------------------------------------------


def unary_response(plan: ReplyPlan) -> dict[str, Any]:
    """The ``chat.completion`` object."""
    return {
        "id": plan.id,
        "object": "chat.completion",
        "created": plan.created,
        "model": plan.model,
        "choices": [
            {
                "index": c.index,
                "message": c.message(),
                "finish_reason": c.finish_reason,
                "logprobs": None,
            }
            for c in plan.choices
        ],
        "usage": plan.usage(),
    }


def _deltas(choice: ChoicePlan) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = [{"role": "assistant"}]
    if choice.reasoning:
        steps.extend({"reasoning_content": d} for d in text_deltas(choice.reasoning))
    if choice.content:
        steps.extend({"content": d} for d in text_deltas(choice.content))
    for k, call in enumerate(choice.tool_calls):
        opening = {
            "index": k,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        steps.append({"tool_calls": [opening]})
        steps.extend(
            {"tool_calls": [{"index": k, "function": {"arguments": piece}}]}
            for piece in text_deltas(call.arguments)
        )
    return steps


def stream_chunks(plan: ReplyPlan, *, include_usage: bool) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects, choices interleaved, usage last when asked for."""
    per_choice = [_deltas(c) for c in plan.choices]
    head = {
        "id": plan.id,
        "object": "chat.completion.chunk",
        "created": plan.created,
        "model": plan.model,
    }
    chunks: list[dict[str, Any]] = []

    def emit(index: int, delta: dict[str, Any], finish: str | None) -> None:
        chunk: dict[str, Any] = {
            **head,
            "choices": [
                {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            ],
        }
        if include_usage:
            chunk["usage"] = None
        chunks.append(chunk)

    for step in range(max(len(s) for s in per_choice) + 1):
        for choice, steps in zip(plan.choices, per_choice, strict=True):
            if step < len(steps):
                emit(choice.index, steps[step], None)
            elif step == len(steps):
                emit(choice.index, {}, choice.finish_reason)
    if include_usage:
        chunks.append({**head, "choices": [], "usage": plan.usage()})
    return chunks
