"""The checks of a Claude request body that its types cannot express, worded as Anthropic words
them. They run only on a body that passed the type check (``claude_types``), so the shapes are
known. Every problem is listed (for the request record); the answer quotes the first.

Wording verified against public captures of real responses: the tool_use / tool_result pairing
messages, the thinking-block-first message, ``Invalid `signature` in `thinking` block``, the
temperature / top_k / forced tool_choice messages with thinking, the budget messages, ``'…' does
not support thinking.``, ``messages: first message must use the "user" role``, ``Image does
not match the provided media type …``, the invalid ``input_schema`` message, the
temperature-and-top_p message and the tool blocks without ``tools`` message. The rest is
modelled (see emulator/README.md).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from emulator.catalog import ModelInfo
from emulator.claude_signing import verify_redacted, verify_thinking
from emulator.claude_tools import schema_is_valid
from emulator.claude_types import BodyKind

THINKING_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
_CONSIDERATIONS = f"{THINKING_DOCS}#important-considerations-when-using-extended-thinking"
MIN_THINKING_BUDGET = 1024
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# Models that take either ``temperature`` or ``top_p``, not both (Claude 4.1 / 4.5 and later).
_ONE_SAMPLER_FAMILIES = ("claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5")
_IMAGE_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


@dataclass(frozen=True)
class RuleContext:
    """What the rules need besides the body."""

    kind: BodyKind
    model: ModelInfo | None


# --- helpers shared with the reply planner ----------------------------------------------------


def content_blocks(message: Any) -> list[dict[str, Any]]:
    """A message's content as blocks (a string is one text block)."""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [b for b in content or [] if isinstance(b, dict)]


def thinking_enabled(body: dict[str, Any]) -> bool:
    """True unless ``thinking`` is absent or ``{"type": "disabled"}``."""
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") not in (None, "disabled")


def custom_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The client tools (the ones the model calls and the caller runs)."""
    return [
        t
        for t in body.get("tools") or []
        if isinstance(t, dict) and t.get("type") in (None, "custom") and "input_schema" in t
    ]


def tool_names(body: dict[str, Any]) -> list[str]:
    """Every declared tool name (client and server tools)."""
    return [str(t["name"]) for t in body.get("tools") or [] if isinstance(t, dict) and "name" in t]


def _ids(message: Any, block_type: str, key: str) -> list[str]:
    return [str(b.get(key)) for b in content_blocks(message) if b.get("type") == block_type]


def _has_tool_results(message: Any) -> bool:
    return message.get("role") == "user" and bool(_ids(message, "tool_result", "tool_use_id"))


# --- the rules ------------------------------------------------------------------------------


def check(body: dict[str, Any], ctx: RuleContext) -> list[str]:
    """Every semantic problem of a type-valid body, in the order Anthropic reports them."""
    problems: list[str] = []
    for rule in (_limits, _messages, _tools, _pairing, _media, _thinking, _signatures):
        problems.extend(rule(body, ctx))
    return problems


def _limits(body: dict[str, Any], ctx: RuleContext) -> Iterator[str]:
    max_tokens = body.get("max_tokens")
    if ctx.kind is not BodyKind.COUNT_TOKENS and isinstance(max_tokens, int):
        if max_tokens < 0:
            yield "max_tokens: Input should be greater than or equal to 0"
        elif ctx.model is not None and max_tokens > ctx.model.max_output_tokens:
            yield (
                f"max_tokens: {max_tokens} > {ctx.model.max_output_tokens}, which is the maximum "
                f"allowed number of output tokens for {ctx.model.model_version}"
            )
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None and not 0 <= value <= 1:
            yield f"{name}: range: 0..1"
    top_k = body.get("top_k")
    if top_k is not None and top_k < 0:
        yield "top_k: Input should be greater than or equal to 0"
    if (
        body.get("temperature") is not None
        and body.get("top_p") is not None
        and ctx.model is not None
        and ctx.model.model_id.startswith(_ONE_SAMPLER_FAMILIES)
    ):
        yield "`temperature` and `top_p` cannot both be specified for this model. Please use only one."


def _messages(body: dict[str, Any], ctx: RuleContext) -> Iterator[str]:
    messages = body.get("messages") or []
    if not messages:
        yield "messages: at least one message is required"
        return
    turns = [m for m in messages if m.get("role") != "system"]
    if turns and turns[0].get("role") != "user":
        yield 'messages: first message must use the "user" role'
    for i, message in enumerate(messages):
        blocks = content_blocks(message)
        final_assistant = i == len(messages) - 1 and message.get("role") == "assistant"
        if not blocks and not final_assistant:
            yield (
                f"messages.{i}: all messages must have non-empty content except for the "
                "optional final assistant message"
            )
        if any(b.get("type") == "text" and b.get("text") == "" for b in blocks):
            yield "messages: text content blocks must be non-empty"
    system = body.get("system")
    if isinstance(system, list) and any(b.get("text") == "" for b in system):
        yield "system: text content blocks must be non-empty"


def _tools(body: dict[str, Any], ctx: RuleContext) -> Iterator[str]:
    tools = body.get("tools") or []
    for i, tool in enumerate(tools):
        if tool.get("type") not in (None, "custom"):
            continue
        if not _TOOL_NAME.match(str(tool.get("name"))):
            yield f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
        if not schema_is_valid(tool.get("input_schema")):
            yield (
                f"tools.{i}.custom.input_schema: JSON schema is invalid. It must match JSON Schema "
                "draft 2020-12 (https://json-schema.org/draft/2020-12). Learn more about tool use "
                "at https://docs.claude.com/en/docs/tool-use."
            )
    names = tool_names(body)
    if len(set(names)) != len(names):
        yield "tools: Tool names must be unique."
    choice = body.get("tool_choice") or {}
    if choice.get("type") in ("any", "tool") and not tools:
        yield "tool_choice: `tool_choice` may only be specified while providing tools."
    elif choice.get("type") == "tool" and choice.get("name") not in names:
        yield f"tool_choice.tool.name: Tool `{choice.get('name')}` not found in `tools`."
    uses_tools = any(
        b.get("type") in ("tool_use", "tool_result")
        for m in body.get("messages") or []
        for b in content_blocks(m)
    )
    if uses_tools and not tools:
        yield "Requests which include `tool_use` or `tool_result` blocks must define tools."
        return
    seen: set[str] = set()
    for i, message in enumerate(body.get("messages") or []):
        for j, block in enumerate(content_blocks(message)):
            if block.get("type") != "tool_use":
                continue
            if block.get("name") not in names:
                yield (
                    f"messages.{i}.content.{j}: tool_use name `{block.get('name')}` is not "
                    "defined in `tools`."
                )
            if block.get("id") in seen:
                yield f"messages.{i}.content.{j}: `tool_use` ids must be unique"
            seen.add(str(block.get("id")))


def _pairing(body: dict[str, Any], ctx: RuleContext) -> Iterator[str]:
    messages = body.get("messages") or []
    for i, message in enumerate(messages):
        if message.get("role") == "assistant" and i + 1 < len(messages):
            following = messages[i + 1]
            answered = (
                set(_ids(following, "tool_result", "tool_use_id"))
                if following.get("role") == "user"
                else set()
            )
            missing = [t for t in _ids(message, "tool_use", "id") if t not in answered]
            if missing:
                yield (
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                    "corresponding `tool_result` block in the next message."
                )
        if message.get("role") == "user":
            previous = messages[i - 1] if i > 0 else {}
            offered = (
                set(_ids(previous, "tool_use", "id"))
                if previous.get("role") == "assistant"
                else set()
            )
            for j, block in enumerate(content_blocks(message)):
                if block.get("type") == "tool_result" and block.get("tool_use_id") not in offered:
                    yield (
                        f"messages.{i}.content.{j}: unexpected `tool_use_id` found in "
                        f"`tool_result` blocks: {block.get('tool_use_id')}. Each `tool_result` "
                        "block must have a corresponding `tool_use` block in the previous message."
                    )


def _decode(data: Any) -> bytes | None:
    try:
        return base64.b64decode(str(data).encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


def _image_matches(media_type: str, raw: bytes) -> bool:
    if media_type == "image/webp":
        return raw[:4] == b"RIFF" and raw[8:12] == b"WEBP"
    return raw.startswith(_IMAGE_MAGIC.get(media_type, (b"",)))


def _media_problem(block: dict[str, Any], path: str) -> str | None:
    kind = block.get("type")
    if kind not in ("image", "document"):
        return None
    source = block.get("source") or {}
    source_type = source.get("type")
    at = f"{path}.{kind}.source.{source_type}"
    if kind == "image" and source_type == "url":
        url = str(source.get("url", ""))
        if not url.startswith(("https://", "http://")):
            return f"{at}.url: Only HTTP and HTTPS URLs are supported"
        return None
    if kind == "document" and source_type == "text":
        return None
    if source_type != "base64":
        return f"{at}: `{source_type}` {kind} sources are not supported on Vertex AI"
    raw = _decode(source.get("data"))
    media_type = str(source.get("media_type"))
    if kind == "image":
        if raw is None:
            return f"{at}.data: Could not process image"
        if not _image_matches(media_type, raw):
            return f"{at}.data: Image does not match the provided media type {media_type}"
        return None
    if raw is None or not raw.startswith(b"%PDF-"):
        return f"{at}.data: The PDF specified was not valid."
    return None


def _media(body: dict[str, Any], ctx: RuleContext) -> Iterator[str]:
    for i, message in enumerate(body.get("messages") or []):
        for j, block in enumerate(content_blocks(message)):
            path = f"messages.{i}.content.{j}"
            problem = _media_problem(block, path)
            if problem:
                yield problem
            if block.get("type") == "tool_result" and isinstance(block.get("content"), list):
                for k, inner in enumerate(block["content"]):
                    problem = _media_problem(inner, f"{path}.tool_result.content.{k}")
                    if problem:
                        yield problem


def _thinking(body: dict[str, Any], ctx: RuleContext) -> Iterator[str]:
    messages = body.get("messages") or []
    if not thinking_enabled(body):
        if messages and messages[-1].get("role") == "assistant":
            for j, block in enumerate(content_blocks(messages[-1])):
                if block.get("type") in ("thinking", "redacted_thinking"):
                    yield (
                        f"messages.{len(messages) - 1}.content.{j}: When thinking is disabled, an "
                        "`assistant` message in the final position cannot contain `thinking`. To "
                        "use thinking blocks, enable `thinking` in your request."
                    )
                    break
        return
    thinking = body["thinking"]
    if ctx.model is not None and not ctx.model.thinking:
        yield f"'{ctx.model.model_version}' does not support thinking."
        return
    budget = thinking.get("budget_tokens")
    if thinking.get("type") == "enabled" and isinstance(budget, int):
        if budget < MIN_THINKING_BUDGET:
            yield "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        max_tokens = body.get("max_tokens")
        if (
            ctx.kind is not BodyKind.COUNT_TOKENS
            and isinstance(max_tokens, int)
            and budget >= max_tokens
        ):
            yield (
                "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                f"documentation at {THINKING_DOCS}#max-tokens-and-context-window-size"
            )
    if body.get("temperature") is not None and body["temperature"] != 1:
        yield (
            "`temperature` may only be set to 1 when thinking is enabled. Please consult our "
            f"documentation at {_CONSIDERATIONS}"
        )
    if body.get("top_p") is not None and body["top_p"] < 0.95:
        yield (
            "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled. "
            f"Please consult our documentation at {_CONSIDERATIONS}"
        )
    if body.get("top_k") is not None:
        yield (
            "`top_k` must be unset when thinking is enabled. Please consult our documentation "
            f"at {_CONSIDERATIONS}"
        )
    if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
        yield "Thinking may not be enabled when tool_choice forces tool use."
    start = _turn_start(messages)
    if start is not None:
        blocks = content_blocks(messages[start])
        first = blocks[0].get("type") if blocks else "text"
        if first not in ("thinking", "redacted_thinking"):
            yield (
                f"messages.{start}.content.0.type: Expected `thinking` or `redacted_thinking`, "
                f"but found `{first}`. When `thinking` is enabled, a final `assistant` message "
                "must start with a thinking block (preceeding the lastmost set of `tool_use` and "
                "`tool_result` blocks). We recommend you include thinking blocks from previous "
                "turns. To avoid this requirement, disable `thinking`. Please consult our "
                f"documentation at {THINKING_DOCS}"
            )


def _turn_start(messages: list[Any]) -> int | None:
    """The first assistant message of the turn being continued with tool results, if any."""
    start = None
    i = len(messages) - 1
    while i >= 1 and _has_tool_results(messages[i]) and messages[i - 1].get("role") == "assistant":
        start = i - 1
        i -= 2
    return start


def _signatures(body: dict[str, Any], ctx: RuleContext) -> Iterator[str]:
    for i, message in enumerate(body.get("messages") or []):
        if message.get("role") != "assistant":
            continue
        for j, block in enumerate(content_blocks(message)):
            if block.get("type") == "thinking" and not verify_thinking(
                str(block.get("thinking")), str(block.get("signature"))
            ):
                yield f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
            if block.get("type") == "redacted_thinking" and not verify_redacted(
                str(block.get("data"))
            ):
                yield f"messages.{i}.content.{j}: Invalid `data` in `redacted_thinking` block"
