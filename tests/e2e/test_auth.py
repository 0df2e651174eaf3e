"""The real google-auth service-account path against the emulator's OAuth token endpoint."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import pytest
from google.oauth2 import service_account
from vertex_gateway.v1 import chat_pb2_grpc

from emulator.admin import EmulatorAdmin
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
    import google.auth._helpers as helpers

    admin.set_config(token_ttl_seconds=300)  # tokens live 5 minutes on the server
    auth = fresh_auth(service_account)
    first = (await auth.headers())["authorization"]
    before = admin.stats()["token_requests"]
    # google-auth refreshes when expiry is within REFRESH_THRESHOLD: with a 200 s margin the token
    # is still fresh; with a 310 s margin it is due, though the server would still accept it.
    monkeypatch.setattr(helpers, "REFRESH_THRESHOLD", datetime.timedelta(seconds=200))
    assert (await auth.headers())["authorization"] == first
    monkeypatch.setattr(helpers, "REFRESH_THRESHOLD", datetime.timedelta(seconds=310))
    second = (await auth.headers())["authorization"]
    assert second != first
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
