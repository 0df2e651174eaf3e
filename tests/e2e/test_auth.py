"""The real google-auth service-account path against the emulator's OAuth token endpoint."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import pytest
from emulator.admin import EmulatorAdmin
from google.oauth2 import service_account
from vertex_gateway.v1 import chat_pb2_grpc

from server.vertex.auth import SCOPES, GoogleAuth

from .conftest import ask, vertex_calls


def fresh_auth(key: dict[str, Any]) -> GoogleAuth:
    creds = service_account.Credentials.from_service_account_info(key, scopes=list(SCOPES))
    return GoogleAuth(creds)


async def test_token_fetched_once_and_reused(
    admin: EmulatorAdmin, service_account: dict[str, Any]
) -> None:
    auth = fresh_auth(service_account)
    before = admin.stats()["token_requests"]
    headers = [await auth.headers() for _ in range(5)]
    headers += await asyncio.gather(*(auth.headers() for _ in range(20)))  # single-flight
    assert admin.stats()["token_requests"] == before + 1
    assert len({h["authorization"] for h in headers}) == 1
    assert headers[0]["authorization"].startswith("Bearer ")


async def test_token_refreshed_before_expiry(
    admin: EmulatorAdmin, service_account: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = fresh_auth(service_account)
    first = (await auth.headers())["authorization"]
    before = admin.stats()["token_requests"]
    # google-auth treats a token as expired 3m45s before its expiry: move its clock to 5 minutes
    # before (still valid) and then to 3 minutes before (inside the refresh margin).
    import google.auth._helpers as helpers

    expiry = auth._creds.expiry  # naive UTC
    monkeypatch.setattr(helpers, "utcnow", lambda: expiry - datetime.timedelta(minutes=5))
    assert (await auth.headers())["authorization"] == first  # still comfortably valid
    monkeypatch.setattr(helpers, "utcnow", lambda: expiry - datetime.timedelta(minutes=3))
    second = (await auth.headers())["authorization"]
    assert second != first  # refreshed while the old token had 3 minutes left
    assert admin.stats()["token_requests"] == before + 1


async def test_refreshed_once_after_a_401(
    chat: chat_pb2_grpc.ChatServiceStub, admin: EmulatorAdmin
) -> None:
    await chat.Chat(ask("warm up"))  # the gateway holds a token now
    before = admin.stats()["token_requests"]
    admin.revoke_tokens()  # Vertex now refuses the cached token
    reply = await chat.Chat(ask("after revocation"))
    assert reply.candidates
    assert admin.stats()["token_requests"] == before + 1
    statuses = [r["status"] for r in vertex_calls(admin, "generateContent")]
    assert statuses[-2:] == [401, 200]
    # and the new token keeps working without another refresh
    await chat.Chat(ask("again"))
    assert admin.stats()["token_requests"] == before + 1


async def test_no_token_or_key_in_records(
    admin: EmulatorAdmin, chat: chat_pb2_grpc.ChatServiceStub
) -> None:
    await chat.Chat(ask("hello"))
    [call] = vertex_calls(admin, "generateContent")
    assert (
        call["headers"].get("authorization", call["headers"].get("Authorization")) == "<redacted>"
    )
    assert call["user_agent"].startswith("vertex-gateway/")
