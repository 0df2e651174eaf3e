"""Credentials on Vertex routes: bearer tokens this process issued, API keys, or none at all."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from enum import Enum

from aiohttp import web

from emulator import errors
from emulator.errors import GoogleError

TOKEN_PREFIX = "ya29.emu-"


class TokenState(Enum):
    """What the store knows about a bearer token."""

    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


class TokenStore:
    """Access tokens issued by the ``/token`` endpoint."""

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}
        self._revoked: set[str] = set()

    def issue(self, ttl_seconds: int) -> str:
        """Mint a token living ``ttl_seconds`` (zero or less: already expired)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(24)
        self._expiry[token] = time.time() + ttl_seconds
        return token

    def revoke_all(self) -> int:
        """Make every token issued so far unusable; returns how many there were."""
        self._revoked.update(self._expiry)
        return len(self._expiry)

    def state(self, token: str) -> TokenState:
        """Classify ``token``."""
        if token in self._revoked:
            return TokenState.REVOKED
        expiry = self._expiry.get(token)
        if expiry is None:
            return TokenState.UNKNOWN
        return TokenState.VALID if time.time() < expiry else TokenState.EXPIRED


@dataclass(frozen=True)
class Credentials:
    """The credential a request presented."""

    kind: str  # "bearer" | "api_key" | "none"
    value: str = ""


def presented_credentials(request: web.Request) -> Credentials:
    """Find an API key (header or ``?key=``) or a bearer token; API keys win, as at Google."""
    key = request.headers.get("x-goog-api-key") or request.query.get("key")
    if key:
        return Credentials("api_key", key)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if header:
        return Credentials("bearer", token.strip() if scheme.lower() == "bearer" else header)
    return Credentials("none")


@dataclass(frozen=True)
class AuthPolicy:
    """Which credentials the process accepts."""

    api_keys: frozenset[str]
    allow_anonymous: bool


def check_credentials(
    creds: Credentials,
    *,
    tokens: TokenStore,
    policy: AuthPolicy,
    express: bool,
    rpc_method: str | None,
) -> GoogleError | None:
    """Return the error Google would answer with, or None when the request may proceed."""
    if creds.kind == "api_key":
        return None if creds.value in policy.api_keys else errors.api_key_invalid()
    if creds.kind == "none":
        if policy.allow_anonymous:
            return None
        return errors.unauthenticated("CREDENTIALS_MISSING", rpc_method)
    if express:
        # Express mode is the API-key surface; there is no project to bill a token to.
        return errors.unauthenticated("CREDENTIALS_MISSING", rpc_method)
    state = tokens.state(creds.value)
    if state is TokenState.VALID:
        return None
    if state is TokenState.UNKNOWN:
        return errors.unauthenticated("ACCESS_TOKEN_TYPE_UNSUPPORTED", rpc_method)
    return errors.unauthenticated("ACCESS_TOKEN_EXPIRED", rpc_method)
