"""Thinking signatures and redacted-thinking payloads the emulator issues and later verifies.

A ``thinking`` block's ``signature`` is a base64 HMAC-SHA256 over the thinking text, keyed with a
secret made when the process starts; a ``redacted_thinking`` block's ``data`` is a base64 blob
holding a nonce and an HMAC over it. Both verify without remembering anything, and neither
verifies in another emulator process (as a signature from another account would not).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

_SECRET = secrets.token_bytes(32)
_SIGNATURE_PREFIX = b"emu-thinking-v1:"
_REDACTED_PREFIX = b"emu-redacted-v1:"
_NONCE_BYTES = 24


def _mac(message: bytes) -> bytes:
    return hmac.new(_SECRET, message, hashlib.sha256).digest()


def sign_thinking(thinking: str) -> str:
    """The signature of a thinking block whose text is ``thinking``."""
    return base64.b64encode(_SIGNATURE_PREFIX + _mac(thinking.encode("utf-8"))).decode("ascii")


def _decode(value: str) -> bytes | None:
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


def verify_thinking(thinking: str, signature: str) -> bool:
    """True when ``signature`` is the one this process issued for exactly ``thinking``."""
    raw = _decode(signature)
    if raw is None or not raw.startswith(_SIGNATURE_PREFIX):
        return False
    return hmac.compare_digest(raw[len(_SIGNATURE_PREFIX) :], _mac(thinking.encode("utf-8")))


def redacted_data(seed: bytes) -> str:
    """An opaque ``redacted_thinking`` payload, deterministic for ``seed``."""
    nonce = hashlib.sha256(b"redacted:" + seed).digest()[:_NONCE_BYTES]
    return base64.b64encode(_REDACTED_PREFIX + nonce + _mac(_REDACTED_PREFIX + nonce)).decode(
        "ascii"
    )


def verify_redacted(data: str) -> bool:
    """True when ``data`` is a ``redacted_thinking`` payload this process issued."""
    raw = _decode(data)
    if raw is None or not raw.startswith(_REDACTED_PREFIX):
        return False
    body = raw[len(_REDACTED_PREFIX) :]
    nonce, mac = body[:_NONCE_BYTES], body[_NONCE_BYTES:]
    return len(nonce) == _NONCE_BYTES and hmac.compare_digest(mac, _mac(_REDACTED_PREFIX + nonce))
