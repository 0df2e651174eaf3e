"""Tools in Gemini requests: which functions the emulator calls, Vertex's rules for function
turns, and the metadata of Google Search grounding and citations.

Calling rule (deterministic): with ``functionCallingConfig.mode`` ANY or VALIDATED every allowed
function (``allowedFunctionNames``, else all declared) whose name appears as a whole word in the
last user text is called, or the first allowed one when none appears; with AUTO (or no mode) the
declared functions named in the last user text are called; NONE never calls. When the last turn
carries tool results (``functionResponse`` parts) the model answers in text instead.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections import Counter
from typing import Any
from urllib.parse import quote_plus

from emulator.gemini_schema import generate, json_schema_from_openapi

FORCED_MODES = ("ANY", "VALIDATED")
DEFAULT_NAMESPACE = "default_api"

Problem = tuple[str | None, str]

MSG_CALL_TURN_ORDER = (
    "Please ensure that function call turn comes immediately after a user turn or after a "
    "function response turn."
)
MSG_RESPONSE_TURN_ORDER = (
    "Please ensure that function response turn comes immediately after a function call turn."
)
MSG_RESPONSE_COUNT = (
    "Please ensure that the number of function response parts is equal to the number of "
    "function call parts of the function call turn."
)
MSG_RESPONSE_NAMES = (
    "Please ensure that the names of the function response parts match the names of the "
    "function call parts of the function call turn."
)


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def declarations(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every function declaration of every tool, in order."""
    out = []
    for tool in body.get("tools") or []:
        if isinstance(tool, dict):
            out += [d for d in tool.get("functionDeclarations") or [] if isinstance(d, dict)]
    return out


def declared_names(body: dict[str, Any]) -> list[str]:
    """Names of the declared functions, in declaration order."""
    return [str(d.get("name", "")) for d in declarations(body)]


def uses_google_search(body: dict[str, Any]) -> bool:
    """True when a tool asks for Google Search grounding."""
    return any(
        isinstance(t, dict)
        and (t.get("googleSearch") is not None or t.get("googleSearchRetrieval"))
        for t in body.get("tools") or []
    )


def _calling_config(body: dict[str, Any]) -> dict[str, Any]:
    config = body.get("toolConfig")
    calling = config.get("functionCallingConfig") if isinstance(config, dict) else None
    return calling if isinstance(calling, dict) else {}


def calling_mode(body: dict[str, Any]) -> str:
    """``AUTO``, ``ANY``, ``VALIDATED`` or ``NONE`` (unset and MODE_UNSPECIFIED mean AUTO)."""
    mode = _calling_config(body).get("mode")
    return mode if mode in ("ANY", "VALIDATED", "NONE") else "AUTO"


def _mentions(text: str, name: str) -> bool:
    return bool(name) and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) is not None


def parameters_schema(declaration: dict[str, Any]) -> Any:
    """The declaration's parameters as JSON Schema (None when it takes none)."""
    if declaration.get("parametersJsonSchema") is not None:
        return declaration["parametersJsonSchema"]
    if isinstance(declaration.get("parameters"), dict):
        return json_schema_from_openapi(declaration["parameters"])
    return None


def arguments(declaration: dict[str, Any], vary: int = 0) -> dict[str, Any]:
    """Deterministic arguments that validate against the declaration's parameters."""
    schema = parameters_schema(declaration)
    if schema is None:
        return {}
    value = generate(schema, vary=vary)
    return value if isinstance(value, dict) else {}


def tool_results(body: dict[str, Any]) -> list[tuple[str, Any]] | None:
    """``(name, response)`` of each tool result when the last turn is one, else None."""
    contents = body.get("contents") or []
    last = contents[-1] if contents else None
    if not isinstance(last, dict) or last.get("role", "user") != "user":
        return None
    responses = [
        p["functionResponse"]
        for p in last.get("parts") or []
        if isinstance(p, dict) and isinstance(p.get("functionResponse"), dict)
    ]
    if not responses:
        return None
    return [(str(r.get("name", "")), r.get("response", {})) for r in responses]


def tool_results_text(results: list[tuple[str, Any]]) -> str:
    """The answer to a turn of tool results: each function's name and its result, compactly."""
    seen = " and ".join(f"{name} result {_compact(response)}" for name, response in results)
    return f"The emulator received {seen}. This reply comes from the Vertex emulator."


def planned_calls(body: dict[str, Any], user_text: str) -> list[dict[str, Any]]:
    """The declarations the model calls now, in declaration order (empty: answer in text)."""
    decls = declarations(body)
    mode = calling_mode(body)
    if not decls or mode == "NONE" or tool_results(body) is not None:
        return []
    if mode in FORCED_MODES:
        allowed = _calling_config(body).get("allowedFunctionNames")
        pool = (
            [d for d in decls if d.get("name") in allowed]
            if isinstance(allowed, list) and allowed
            else decls
        )
        named = [d for d in pool if _mentions(user_text, str(d.get("name", "")))]
        return named or pool[:1]
    return [d for d in decls if _mentions(user_text, str(d.get("name", "")))]


def _calls(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        p["functionCall"]
        for p in content.get("parts") or []
        if isinstance(p, dict) and isinstance(p.get("functionCall"), dict)
    ]


def _responses(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        p["functionResponse"]
        for p in content.get("parts") or []
        if isinstance(p, dict) and isinstance(p.get("functionResponse"), dict)
    ]


def function_turn_problems(body: dict[str, Any]) -> list[Problem]:
    """Vertex's ordering rules for function call and function response turns (first problem)."""
    contents = [c for c in body.get("contents") or [] if isinstance(c, dict)]
    for i, content in enumerate(contents):
        previous = contents[i - 1] if i else None
        role = content.get("role", "user")
        if (
            role == "model"
            and _calls(content)
            and (previous is None or previous.get("role", "user") != "user")
        ):
            return [(f"contents[{i}]", MSG_CALL_TURN_ORDER)]
        responses = _responses(content)
        if role != "model" and responses:
            calls = _calls(previous) if previous and previous.get("role") == "model" else []
            if not calls:
                return [(f"contents[{i}]", MSG_RESPONSE_TURN_ORDER)]
            if len(responses) != len(calls):
                return [(f"contents[{i}]", MSG_RESPONSE_COUNT)]
            names = Counter(str(r.get("name", "")) for r in responses)
            if names != Counter(str(c.get("name", "")) for c in calls):
                return [(f"contents[{i}]", MSG_RESPONSE_NAMES)]
    return []


def undeclared_function_problems(body: dict[str, Any]) -> list[Problem]:
    """With function declarations given, history may only name declared functions."""
    names = set(declared_names(body))
    if not names:
        return []
    for i, content in enumerate(body.get("contents") or []):
        if not isinstance(content, dict):
            continue
        for j, part in enumerate(content.get("parts") or []):
            if not isinstance(part, dict):
                continue
            for member, snake, what in (
                ("functionCall", "function_call", "function call"),
                ("functionResponse", "function_response", "function response"),
            ):
                item = part.get(member)
                if isinstance(item, dict) and item.get("name") not in names:
                    message = (
                        f"Unable to submit request because {what} `{item.get('name', '')}` in the "
                        f"{i + 1}. content block is not declared in "
                        "`tools.function_declarations`. Add the function declaration and try "
                        "again."
                    )
                    return [(f"contents[{i}].parts[{j}].{snake}.name", message)]
    return []


def malformed_call_message(body: dict[str, Any]) -> str:
    """The ``finishMessage`` of a MALFORMED_FUNCTION_CALL candidate."""
    names = declared_names(body)
    name = names[0] if names else "unknown_function"
    return f"Malformed function call: print({DEFAULT_NAMESPACE}.{name}(emulator="


def _utf8_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def grounding_metadata(text: str, topic: str, digest: bytes) -> dict[str, Any]:
    """``groundingMetadata`` for a Google-Search-grounded answer ``text``."""
    query = topic if topic != "your request" else "emulator"
    sites = ("wikipedia.org", "example.com")
    chunks = []
    for k, site in enumerate(sites):
        token = hashlib.sha256(digest + bytes([k])).hexdigest()[:32]
        uri = f"https://vertexaisearch.cloud.google.com/grounding-api-redirect/{token}"
        chunks.append({"web": {"uri": uri, "title": site, "domain": site}})
    supports = []
    sentences = [m.span() for m in re.finditer(r"[^.!?]+[.!?]", text)][: len(chunks)]
    for k, (start, end) in enumerate(sentences):
        while start < end and text[start] == " ":
            start += 1
        segment: dict[str, Any] = {}
        if start:
            segment["startIndex"] = _utf8_offset(text, start)
        segment["endIndex"] = _utf8_offset(text, end)
        segment["text"] = text[start:end]
        supports.append(
            {"segment": segment, "groundingChunkIndices": [k], "confidenceScores": [0.9 - k / 10]}
        )
    rendered = (
        '<style>.container { display: flex; }</style><div class="container">'
        f'<a class="chip" href="https://www.google.com/search?q={quote_plus(query)}">'
        f"{html.escape(query)}</a></div>"
    )
    return {
        "webSearchQueries": [query],
        "searchEntryPoint": {"renderedContent": rendered},
        "groundingChunks": chunks,
        "groundingSupports": supports,
    }


def citation_metadata(text: str) -> dict[str, Any]:
    """``citationMetadata`` citing the first sentence of ``text``."""
    match = re.search(r"[^.!?]+[.!?]", text)
    end = _utf8_offset(text, match.end()) if match else len(text.encode("utf-8"))
    return {
        "citations": [
            {
                "endIndex": end,
                "uri": "https://example.com/emulator/citation",
                "title": "Emulator citation",
                "license": "CC-BY-4.0",
                "publicationDate": {"year": 2024, "month": 1, "day": 15},
            }
        ]
    }
