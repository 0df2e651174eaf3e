"""Fixtures: one in-process emulator on a free loopback port for the whole session.

Tests talk to it over real HTTP with aiohttp; each test starts from a reset emulator.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest_asyncio
from aiohttp import web
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from emulator.app import create_app
from emulator.auth import TokenState
from emulator.config import ServerOptions
from emulator.state import STATE_KEY, EmulatorState

API_KEY = "test-api-key"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
DEFAULT_MODEL = "gemini-2.5-flash"


@dataclass
class Emulator:
    """Handle on the running test emulator."""

    base_url: str
    state: EmulatorState
    http: aiohttp.ClientSession
    token: str = ""

    def url(
        self,
        method: str = "generateContent",
        model: str = DEFAULT_MODEL,
        *,
        version: str = "v1",
        location: str = "us-central1",
        project: str = "test-project",
        express: bool = False,
    ) -> str:
        """The URL of a publisher-model method."""
        prefix = "" if express else f"projects/{project}/locations/{location}/"
        return f"{self.base_url}/{version}/{prefix}publishers/google/models/{model}:{method}"

    def auth(self, **extra: str) -> dict[str, str]:
        """Headers with the session's bearer token."""
        return {"Authorization": f"Bearer {self.token}", **extra}

    async def post(
        self, url: str, body: Any, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        """POST JSON (with the bearer token unless ``headers`` is given); returns status, parsed
        JSON (or text when not JSON) and the response."""
        async with self.http.post(url, json=body, headers=self.auth() if headers is None else headers) as resp:
            text = await resp.text()
        try:
            parsed: Any = json.loads(text)
        except ValueError:
            parsed = text
        return resp.status, parsed, resp

    async def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the admin API."""
        async with self.http.request(method, f"{self.base_url}/_emulator/{path}", **kwargs) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def records(self) -> list[dict[str, Any]]:
        """Recorded requests."""
        result: list[dict[str, Any]] = await self.admin("GET", "requests")
        return result


def user_body(text: str = "What is the capital of France?", **extra: Any) -> dict[str, Any]:
    """A minimal valid GenerateContent body."""
    return {"contents": [{"role": "user", "parts": [{"text": text}]}], **extra}


async def mint_token(base_url: str, http: aiohttp.ClientSession) -> str:
    """A bearer token obtained the real way: google-auth refreshing a service-account key."""
    async with http.post(f"{base_url}/_emulator/service-accounts", json={}) as resp:
        key = await resp.json()
    creds = service_account.Credentials.from_service_account_info(key, scopes=SCOPES)
    # google-auth is blocking; the emulator shares this event loop, so refresh in a thread.
    await asyncio.to_thread(creds.refresh, Request())
    token: str = creds.token
    return token


@pytest_asyncio.fixture(scope="session")
async def _server() -> AsyncIterator[tuple[str, EmulatorState]]:
    app = create_app(ServerOptions(api_keys=(API_KEY,)))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}", app[STATE_KEY]
    await runner.cleanup()


@pytest_asyncio.fixture(scope="session")
async def _http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest_asyncio.fixture(scope="session")
async def _tokens() -> dict[str, str]:
    return {}


@pytest_asyncio.fixture
async def emu(
    _server: tuple[str, EmulatorState], _http: aiohttp.ClientSession, _tokens: dict[str, str]
) -> Emulator:
    """A freshly reset emulator with a valid bearer token (re-minted after a revoke test)."""
    base_url, state = _server
    state.reset()
    token = _tokens.get("bearer", "")
    if state.tokens.state(token) is not TokenState.VALID:
        token = _tokens["bearer"] = await mint_token(base_url, _http)
        state.reset()
    return Emulator(base_url, state, _http, token)
