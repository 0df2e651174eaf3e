"""The one token-counting rule the emulator uses everywhere.

Rule: a token is a maximal run of word characters or a single non-space, non-word character,
i.e. every match of the regular expression ``\\w+|[^\\w\\s]``. ``"Hello, world!"`` is four tokens.
Inline and file media count as a flat ``MEDIA_TOKENS`` each (Gemini's figure for a small image).
Prompt, output, thought and countTokens figures all use this rule, so they agree with each other.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]")
MEDIA_TOKENS = 258


def count_tokens(text: str) -> int:
    """Return the number of tokens in ``text`` under the emulator's rule."""
    return sum(1 for _ in TOKEN_PATTERN.finditer(text))


def token_spans(text: str) -> list[tuple[int, int]]:
    """Return the ``(start, end)`` character span of every token in ``text``."""
    return [m.span() for m in TOKEN_PATTERN.finditer(text)]


def truncate_tokens(text: str, limit: int) -> str:
    """Return the prefix of ``text`` that holds exactly its first ``limit`` tokens."""
    spans = token_spans(text)
    if limit >= len(spans):
        return text
    if limit <= 0:
        return ""
    return text[: spans[limit - 1][1]]


def billable_characters(text: str) -> int:
    """Characters Vertex bills for: everything except whitespace."""
    return sum(1 for ch in text if not ch.isspace())


def modality_for_mime(mime_type: str) -> str:
    """Map a MIME type to the ``modality`` string Vertex uses in token details."""
    major = mime_type.split("/", 1)[0].lower()
    if major in ("image", "audio", "video"):
        return major.upper()
    if mime_type.lower() == "application/pdf":
        return "DOCUMENT"
    return "TEXT"


@dataclass
class PromptCount:
    """Token figures for the input side of a request."""

    by_modality: Counter[str] = field(default_factory=Counter)
    billable_characters: int = 0

    @property
    def total(self) -> int:
        """All prompt tokens, every modality."""
        return sum(self.by_modality.values())

    def details(self) -> list[dict[str, Any]]:
        """``promptTokensDetails`` entries, TEXT first, zero entries left out."""
        order = sorted(self.by_modality, key=lambda m: (m != "TEXT", m))
        return [
            {"modality": m, "tokenCount": self.by_modality[m]}
            for m in order
            if self.by_modality[m] > 0
        ]

    def add_text(self, text: str) -> None:
        """Count a piece of text."""
        self.by_modality["TEXT"] += count_tokens(text)
        self.billable_characters += billable_characters(text)


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _count_part(part: Any, acc: PromptCount) -> None:
    if not isinstance(part, dict):
        return
    if isinstance(part.get("text"), str):
        acc.add_text(part["text"])
    for media_key in ("inlineData", "fileData"):
        media = part.get(media_key)
        if isinstance(media, dict):
            acc.by_modality[modality_for_mime(str(media.get("mimeType", "")))] += MEDIA_TOKENS
    call = part.get("functionCall")
    if isinstance(call, dict):
        acc.add_text(f"{call.get('name', '')} {_compact(call.get('args', {}))}")
    response = part.get("functionResponse")
    if isinstance(response, dict):
        acc.add_text(f"{response.get('name', '')} {_compact(response.get('response', {}))}")
    code = part.get("executableCode")
    if isinstance(code, dict):
        acc.add_text(str(code.get("code", "")))
    result = part.get("codeExecutionResult")
    if isinstance(result, dict):
        acc.add_text(str(result.get("output", "")))


def _count_content(content: Any, acc: PromptCount) -> None:
    if isinstance(content, dict) and isinstance(content.get("parts"), list):
        for part in content["parts"]:
            _count_part(part, acc)


def count_prompt(body: dict[str, Any]) -> PromptCount:
    """Count the prompt of a (camelCase) GenerateContent or CountTokens request.

    The system instruction, every content part and every function declaration (as compact JSON)
    count, because the model sees all of them.
    """
    acc = PromptCount()
    _count_content(body.get("systemInstruction"), acc)
    for content in body.get("contents") or []:
        _count_content(content, acc)
    for tool in body.get("tools") or []:
        if isinstance(tool, dict):
            for declaration in tool.get("functionDeclarations") or []:
                acc.add_text(_compact(declaration))
    return acc
