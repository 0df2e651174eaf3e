"""The emulator enforces Vertex's schema: gateway bodies pass it, malformed bodies get Vertex's 400."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from google.auth.transport.requests import Request
from google.oauth2 import service_account as sa
from vertex_gateway.v1 import chat_pb2_grpc

from emulator.admin import EmulatorAdmin
from emulator.process import EmulatorProcess
from server.vertex.auth import SCOPES

from .conftest import ask


def post(emulator: EmulatorProcess, key: dict[str, Any], body: dict[str, Any]) -> requests.Response:
    creds = sa.Credentials.from_service_account_info(key, scopes=list(SCOPES))
    creds.refresh(Request())
    url = (
        f"{emulator.base_url}/v1/projects/{key['project_id']}/locations/us-central1"
        "/publishers/google/models/gemini-2.5-flash:generateContent"
    )
    return requests.post(
        url, json=body, headers={"Authorization": f"Bearer {creds.token}"}, timeout=10
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"contents": [{"role": "user", "parts": [{"text": "x"}]}], "foo_bar": 1}, None),
        ({"contents": [{"role": "user", "parts": [{"text": "x"}]}], "generation_config": {"temperature": 1}}, None),
        ({"contents": [{"role": "user", "parts": [{"inline_data": {"mimeType": "image/png", "data": "AA=="}}]}]}, "contents[0].parts[0]"),
        ({"contents": [{"role": "user", "parts": [{"text": "x"}]}], "generationConfig": {"fooBar": 1}}, "generation_config"),
    ],
)  # fmt: skip
def test_unknown_and_snake_case_fields_get_vertex_400(
    emulator: EmulatorProcess,
    service_account: dict[str, Any],
    body: dict[str, Any],
    field: str | None,
) -> None:
    resp = post(emulator, service_account, body)
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["code"] == 400 and err["status"] == "INVALID_ARGUMENT"
    assert err["message"].startswith("Invalid JSON payload received. Unknown name")
    [bad] = [d for d in err["details"] if d["@type"] == "type.googleapis.com/google.rpc.BadRequest"]
    assert bad["fieldViolations"]
    if field:
        assert f"at '{field}'" in err["message"]


def test_valid_body_passes(emulator: EmulatorProcess, service_account: dict[str, Any]) -> None:
    resp = post(
        emulator, service_account, {"contents": [{"role": "user", "parts": [{"text": "x"}]}]}
    )
    assert resp.status_code == 200, resp.text


async def test_gateway_bodies_pass_validation(
    chat: chat_pb2_grpc.ChatServiceStub, admin: EmulatorAdmin
) -> None:
    """Per call here; the session fixture repeats this audit over the whole suite at its end."""
    before = admin.audit("vertex-gateway")["checked"]
    await chat.Chat(ask("schema check"))
    [c async for c in chat.StreamChat(ask("schema check"))]
    audit = admin.audit("vertex-gateway")
    assert audit["checked"] >= before + 2
    assert audit["violations"] == []
