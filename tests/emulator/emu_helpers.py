"""Helpers shared by the emulator tests (a uniquely named module, so it never clashes)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import aiohttp
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from emulator.state import EmulatorState

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
        async with self.http.post(
            url, json=body, headers=self.auth() if headers is None else headers
        ) as resp:
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
