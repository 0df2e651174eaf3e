"""Reading a request body as JSON the way Google's front end does, with its error wording."""

from __future__ import annotations

import json
from typing import Any

from emulator.discovery import SchemaError

_JSON_MESSAGES = {
    "Expecting ',' delimiter": "Expected , or } after key:value pair.",
    "Expecting property name enclosed in double quotes": "Expected an object key or }.",
    "Expecting ':' delimiter": "Expected : between key:value pair.",
}


def _is_json_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _syntax_error(text: str, position: int, reason: str) -> SchemaError:
    line_start = text.rfind("\n", 0, position) + 1
    line_end = text.find("\n", position)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    caret = " " * (position - line_start) + "^"
    return SchemaError(None, f"Invalid JSON payload received. {reason}\n{line}\n{caret}")


def parse_body(content_type: str | None, raw: bytes) -> tuple[Any, SchemaError | None]:
    """Return ``(parsed body, None)`` or ``(None, error)``; an empty body reads as ``{}``."""
    if not raw.strip():
        return {}, None
    if content_type is not None and not _is_json_type(content_type):
        # A form-encoded (or other non-JSON) body is bound field by field, and fails on its name.
        name = raw.decode("utf-8", "replace").split("=", 1)[0].split("&", 1)[0][:80]
        message = (
            f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter. '
            f"Field '{name}' could not be found in request message."
        )
        return None, SchemaError(None, message)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, SchemaError(None, "Invalid JSON payload received. Invalid UTF-8 string.")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, _syntax_error(text, exc.pos, _JSON_MESSAGES.get(exc.msg, "Unexpected token."))
    if not isinstance(body, dict):
        return None, SchemaError(
            None, 'Invalid JSON payload received. Unknown name "": Root element must be a message.'
        )
    return body, None
