"""``POST /token``: the OAuth 2 JWT-bearer grant that google-auth uses for service accounts.

google-auth signs an RS256 assertion with the key file's private key (header ``kid`` = the
``private_key_id``) and, whatever the key's ``token_uri`` says, sets ``aud`` to Google's own
token URL; both that and the emulator's ``token_uri`` are accepted as audiences.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from emulator.errors import render_json
from emulator.records import REDACTED, RequestRecord, redact_headers
from emulator.service_accounts import RegisteredKey, ServiceAccountRegistry
from emulator.state import state_of

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_AUDIENCES = frozenset(
    {
        "https://oauth2.googleapis.com/token",
        "https://www.googleapis.com/oauth2/v4/token",
        "https://accounts.google.com/o/oauth2/token",
    }
)
CLOCK_SKEW_SECONDS = 300
MAX_LIFETIME_SECONDS = 3600

_SHORT_LIVED = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
    "Check your iat and exp values in the JWT claim."
)


class GrantError(Exception):
    """An OAuth error answer (always HTTP 400 at Google's token endpoint)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


def _b64url(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise GrantError("invalid_grant", "Invalid JWT: malformed segment.") from exc


def _json_segment(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64url(segment))
    except (ValueError, UnicodeDecodeError) as exc:
        raise GrantError("invalid_grant", "Invalid JWT: malformed segment.") from exc
    if not isinstance(value, dict):
        raise GrantError("invalid_grant", "Invalid JWT: malformed segment.")
    return value


def _find_key(
    header: dict[str, Any], claims: dict[str, Any], accounts: ServiceAccountRegistry
) -> RegisteredKey:
    issuer = claims.get("iss")
    key = accounts.by_key_id(str(header.get("kid", ""))) or accounts.by_email(str(issuer))
    if key is None or key.client_email != issuer:
        raise GrantError("invalid_grant", "Invalid grant: account not found")
    return key


def _check_times(claims: dict[str, Any], now: float) -> None:
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        raise GrantError("invalid_grant", _SHORT_LIVED)
    fresh = iat <= now + CLOCK_SKEW_SECONDS and exp > now - CLOCK_SKEW_SECONDS
    if not fresh or exp <= iat or exp - iat > MAX_LIFETIME_SECONDS:
        raise GrantError("invalid_grant", _SHORT_LIVED)


def verify_assertion(assertion: str, accounts: ServiceAccountRegistry, now: float) -> RegisteredKey:
    """Check a service-account assertion the way Google's token endpoint does."""
    parts = assertion.split(".")
    if len(parts) != 3:
        raise GrantError("invalid_grant", "Invalid JWT: malformed token.")
    header, claims = _json_segment(parts[0]), _json_segment(parts[1])
    if header.get("alg") != "RS256":
        raise GrantError("invalid_grant", "Invalid JWT Signature.")
    key = _find_key(header, claims, accounts)
    try:
        key.public_key.verify(
            _b64url(parts[2]),
            f"{parts[0]}.{parts[1]}".encode("ascii"),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, UnicodeEncodeError) as exc:
        raise GrantError("invalid_grant", "Invalid JWT Signature.") from exc
    audience = claims.get("aud")
    if audience != key.token_uri and audience not in GOOGLE_TOKEN_AUDIENCES:
        raise GrantError("invalid_grant", f"Invalid JWT: Failed audience check. ({audience})")
    _check_times(claims, now)
    scope = claims.get("scope")
    if not isinstance(scope, str) or not scope.strip():
        raise GrantError("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    return key


def _token_json(payload: dict[str, Any], status: int) -> web.Response:
    return web.Response(
        status=status, text=render_json(payload), content_type="application/json", charset="UTF-8"
    )


async def handle_token(request: web.Request) -> web.Response:
    """Serve ``POST /token`` and record it (with the assertion redacted)."""
    state = state_of(request)
    state.stats.token_requests += 1
    raw = await request.read()
    form = await request.post()
    fields = {k: str(v) for k, v in form.items()}
    record = RequestRecord(
        seq=state.records.next_seq(),
        method=request.method,
        path=request.path,
        query=dict(request.query),
        headers=redact_headers(request.headers),
        auth="none",
        user_agent=request.headers.get("User-Agent", ""),
        body={k: (REDACTED if k == "assertion" else v) for k, v in fields.items()},
        body_bytes=len(raw),
    )
    state.records.add(record)
    try:
        if fields.get("grant_type") != JWT_BEARER:
            raise GrantError(
                "unsupported_grant_type", f"Invalid grant_type: {fields.get('grant_type', '')}"
            )
        verify_assertion(fields.get("assertion", ""), state.accounts, time.time())
    except GrantError as exc:
        response = _token_json({"error": exc.error, "error_description": exc.description}, 400)
    else:
        ttl = state.config.token_ttl_seconds
        token = state.tokens.issue(ttl)
        state.stats.tokens_issued += 1
        response = _token_json(
            {"access_token": token, "expires_in": ttl, "token_type": "Bearer"}, 200
        )
    record.status = response.status
    record.completed = True
    return response
