"""Credentials for Vertex: google-auth token sources, API keys, or none (emulator).

Tokens are cached and refreshed single-flight in a worker thread (google-auth refresh blocks)
before they expire; after a 401 the token that failed is dropped and refreshed once. Headers are
built fresh for every call, never shared between requests.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import time
from pathlib import Path
from typing import Any, Protocol

import google.auth
import google.auth.credentials
import google.auth.exceptions
import google.auth.transport.requests
import requests
from google.auth import impersonated_credentials

from server.config import CredentialsConfig
from server.observability import metrics

from .errors import VertexError

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
log = logging.getLogger(__name__)


class AuthProvider(Protocol):
    """Supplies per-request auth headers and reacts to a 401."""

    async def headers(self) -> dict[str, str]:
        """Fresh headers to add to one request."""
        ...

    async def unauthorized(self, used: dict[str, str]) -> bool:
        """Called after a 401 for a request sent with `used`; True if retrying may help."""
        ...

    @property
    def kind(self) -> str:
        """Short name for logs: "google", "api_key" or "none"."""
        ...


_NO_HEADERS: dict[str, str] = {}


class NoAuth:
    """No credentials at all (an emulator started with --allow-anonymous)."""

    kind = "none"

    async def headers(self) -> dict[str, str]:
        """No headers (the same empty dict every time; callers never change it)."""
        return _NO_HEADERS

    async def unauthorized(self, used: dict[str, str]) -> bool:
        """Nothing to refresh."""
        return False


class ApiKeyAuth:
    """A Vertex API key (express mode or key-enabled projects), sent as `x-goog-api-key`."""

    kind = "api_key"

    def __init__(self, key: str) -> None:
        self._key = key
        self._headers = {"x-goog-api-key": key}

    def __repr__(self) -> str:
        return "ApiKeyAuth(<redacted>)"

    async def headers(self) -> dict[str, str]:
        """The key header (the same dict every time; callers never change it)."""
        return self._headers

    async def unauthorized(self, used: dict[str, str]) -> bool:
        """A rejected key stays rejected."""
        return False


# google-auth refreshes 3m45s before expiry; the cached headers stop five minutes before it.
_REFRESH_MARGIN_SECONDS = 300.0
_UNKNOWN_EXPIRY_RECHECK_SECONDS = 30.0


class GoogleAuth:
    """OAuth access tokens from any google-auth credentials object."""

    kind = "google"

    def __init__(self, credentials: google.auth.credentials.Credentials) -> None:
        self._creds = credentials
        self._lock = asyncio.Lock()
        self._session = requests.Session()
        self.refresh_count = 0
        self._cached: dict[str, str] | None = None
        self._fresh_until = 0.0

    def __repr__(self) -> str:
        return f"GoogleAuth({type(self._creds).__name__})"

    async def headers(self) -> dict[str, str]:
        """Bearer header, refreshing first if the token is missing or near expiry.

        The headers are kept until well before the token's expiry (a monotonic deadline), so
        the hot path does not ask google-auth for the UTC time on every call. Callers copy the
        dict, never change it."""
        if self._cached is not None and time.monotonic() < self._fresh_until:
            return self._cached
        if not self._creds.valid:
            async with self._lock:
                if not self._creds.valid:  # another caller may have refreshed meanwhile
                    await self._refresh()
        out: dict[str, str] = {}
        self._creds.apply(out)  # type: ignore[no-untyped-call]  # also adds x-goog-user-project for user credentials
        # Never cache while a refresh is under way (after a 401 the old token may still look
        # valid): a refused token must not be kept for the rest of its lifetime.
        if not self._lock.locked():
            self._cached, self._fresh_until = out, time.monotonic() + self._seconds_left()
        return out

    def _seconds_left(self) -> float:
        """How long the current token may be sent without asking google-auth again: its
        lifetime less a margin wider than google-auth's own refresh threshold."""
        expiry = self._creds.expiry
        if expiry is None:
            return _UNKNOWN_EXPIRY_RECHECK_SECONDS
        now = datetime.datetime.now(expiry.tzinfo) if expiry.tzinfo else datetime.datetime.utcnow()
        left = float((expiry - now).total_seconds())
        return max(0.0, left - _REFRESH_MARGIN_SECONDS)

    async def unauthorized(self, used: dict[str, str]) -> bool:
        """Drop the token that was refused (unless already replaced) and fetch a new one."""
        async with self._lock:
            if self._cached is not None and self._cached.get("authorization") == used.get(
                "authorization"
            ):
                self._cached = None  # the refused header is never sent again
            current = f"Bearer {self._creds.token}" if self._creds.token else None
            if current is None or used.get("authorization") == current:
                await self._refresh()
        return True

    async def _refresh(self) -> None:
        self._cached = None
        request = google.auth.transport.requests.Request(self._session)
        try:
            await asyncio.to_thread(self._creds.refresh, request)
        except (google.auth.exceptions.GoogleAuthError, requests.RequestException) as exc:
            metrics.token_refreshed(False)
            # The exception text may quote a token endpoint reply; keep only its kind.
            log.warning("vertex credential refresh failed: %s", type(exc).__name__)
            raise VertexError(
                "UNAVAILABLE",
                f"could not obtain a Vertex AI access token ({type(exc).__name__})",
                "CREDENTIALS_REFRESH_FAILED",
            ) from None
        self.refresh_count += 1
        self._cached = None
        metrics.token_refreshed(True)


def _load_json_credentials(cfg: CredentialsConfig) -> google.auth.credentials.Credentials:
    if cfg.json:
        try:
            info: dict[str, Any] = json.loads(cfg.json)
        except ValueError:
            raise ValueError("vertex.credentials.json is not valid JSON") from None
    elif cfg.file:
        try:
            info = json.loads(Path(cfg.file).read_text())
        except OSError as exc:
            raise ValueError(f"cannot read credentials file {cfg.file}: {exc.strerror}") from None
        except ValueError:
            raise ValueError(f"credentials file {cfg.file} is not valid JSON") from None
    else:
        raise ValueError("vertex.credentials needs a file or json for this source")
    # Handles service_account, external_account (workload identity federation),
    # external_account_authorized_user, authorized_user and impersonated_service_account.
    creds, _ = google.auth.load_credentials_from_dict(  # type: ignore[no-untyped-call]
        info, scopes=list(SCOPES), quota_project_id=cfg.quota_project
    )
    return creds  # type: ignore[no-any-return]


def build_credentials(cfg: CredentialsConfig) -> google.auth.credentials.Credentials | None:
    """google-auth credentials for the configured source, or None for api_key/none.

    Blocking (ADC may probe the metadata server): call from a thread at start-up.
    """
    source = cfg.source
    if source == "auto":
        source = "api_key" if cfg.api_key and not (cfg.file or cfg.json) else "adc"
        if cfg.file or cfg.json:
            source = "service_account"
    if source in ("api_key", "none"):
        return None
    if source in ("service_account", "external_account"):
        return _load_json_credentials(cfg)
    if source == "adc":
        creds, _ = google.auth.default(scopes=list(SCOPES), quota_project_id=cfg.quota_project)
        return creds
    if source == "impersonation":
        if not cfg.impersonate_service_account:
            raise ValueError("impersonation needs vertex.credentials.impersonate_service_account")
        if cfg.file or cfg.json:
            base = _load_json_credentials(cfg)
        else:
            base, _ = google.auth.default(scopes=list(SCOPES))
        return impersonated_credentials.Credentials(  # type: ignore[no-untyped-call]
            source_credentials=base,
            target_principal=cfg.impersonate_service_account,
            target_scopes=list(SCOPES),
            delegates=list(cfg.delegates) or None,
            lifetime=3600,
        )
    raise ValueError(f"unknown credentials source {source!r}")


def resolve_source(cfg: CredentialsConfig) -> str:
    """The effective source name ("auto" resolved)."""
    if cfg.source != "auto":
        return cfg.source
    if cfg.file or cfg.json:
        return "service_account"
    return "api_key" if cfg.api_key else "adc"


async def build_auth(cfg: CredentialsConfig) -> AuthProvider:
    """The auth provider for a credentials configuration."""
    source = resolve_source(cfg)
    if source == "none":
        return NoAuth()
    if source == "api_key":
        if not cfg.api_key:
            raise ValueError("credentials source api_key needs an API key (VG_API_KEY)")
        return ApiKeyAuth(cfg.api_key)
    creds = await asyncio.to_thread(build_credentials, cfg)
    assert creds is not None
    return GoogleAuth(creds)
