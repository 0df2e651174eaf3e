"""Thought signatures the emulator can check.

A signature is ``base64(MAGIC + HMAC-SHA256(secret, canonical form))``; the secret is made fresh
for every process. What is signed depends on the part the signature sits on:

* a ``functionCall`` part: the call's name and arguments, so a signature moved to another call
  (or a call whose arguments were edited) no longer verifies;
* any other part of a model turn: the turn's whole answer text (every non-thought ``text`` part,
  concatenated). Real Vertex puts a text reply's signature on the first text part (unary) or on an
  empty text part at the end of a stream; both forms, and a client that merged the streamed text
  into one part, sign the same thing.

Signatures that do not start with :data:`MAGIC` are not the emulator's: callers decide what to do
with them (Gemini 3 rejects them, see ``gemini_thinking``). :data:`SKIP_VALIDATOR` is the dummy
value Vertex documents for history that never had signatures.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from typing import Any

MAGIC = b"EMU\x01"
SKIP_VALIDATOR = "skip_thought_signature_validator"
_SECRET = secrets.token_bytes(32)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def call_subject(name: str, args: Any) -> str:
    """What a function call's signature covers."""
    return "call\n" + _canonical({"name": name, "args": args if args is not None else {}})


def text_subject(text: str) -> str:
    """What a text reply's signature covers."""
    return "text\n" + text


def _signature_bytes(subject: str) -> bytes:
    return MAGIC + hmac.new(_SECRET, subject.encode("utf-8"), hashlib.sha256).digest()


def sign(subject: str) -> str:
    """A signature over ``subject`` (base64, as ``bytes`` fields travel in JSON)."""
    return base64.b64encode(_signature_bytes(subject)).decode("ascii")


def _decode(signature: str) -> bytes | None:
    standard = signature.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def is_emulator_signature(signature: str) -> bool:
    """True when ``signature`` claims to come from this emulator (it starts with MAGIC)."""
    raw = _decode(signature)
    return raw is not None and raw.startswith(MAGIC)


def verify(signature: str, subject: str) -> bool:
    """True when ``signature`` is this process's signature over ``subject`` (either base64
    alphabet, padding optional, as Google's transcoder reads ``bytes``)."""
    raw = _decode(signature)
    return raw is not None and hmac.compare_digest(raw, _signature_bytes(subject))


def turn_text(content: dict[str, Any]) -> str:
    """A model turn's answer text: its non-thought text parts, concatenated."""
    return "".join(
        p["text"]
        for p in content.get("parts") or []
        if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")
    )


def part_subject(part: dict[str, Any], content: dict[str, Any]) -> str:
    """The subject a signature on ``part`` (inside model turn ``content``) must cover."""
    call = part.get("functionCall")
    if isinstance(call, dict):
        return call_subject(str(call.get("name", "")), call.get("args"))
    return text_subject(turn_text(content))


def signature_problems(contents: Any) -> list[tuple[int, int]]:
    """``(content, part)`` indexes of emulator-made signatures in model turns that fail to verify."""
    out = []
    for i, content in enumerate(contents if isinstance(contents, list) else []):
        if not isinstance(content, dict) or content.get("role") != "model":
            continue
        for j, part in enumerate(content.get("parts") or []):
            signature = part.get("thoughtSignature") if isinstance(part, dict) else None
            if not isinstance(signature, str) or not is_emulator_signature(signature):
                continue
            if not verify(signature, part_subject(part, content)):
                out.append((i, j))
    return out
