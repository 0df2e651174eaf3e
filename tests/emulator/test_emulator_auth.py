"""The OAuth token endpoint and authentication of Vertex routes."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from emu_helpers import API_KEY, SCOPES, Emulator, mint_token, user_body
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from emulator.oauth import JWT_BEARER

UNAUTH_MESSAGE = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
    "or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_assertion(
    key: dict[str, Any], claims: dict[str, Any], private_pem: str | None = None
) -> str:
    """An RS256 JWT signed with the key file's private key (or another PEM)."""
    pem = (private_pem or key["private_key"]).encode("ascii")
    private = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    header = {"alg": "RS256", "typ": "JWT", "kid": key["private_key_id"]}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = private.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def good_claims(key: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": key["client_email"],
        "aud": key["token_uri"],
        "scope": SCOPES[0],
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(overrides)
    return claims


async def new_key(emu: Emulator) -> dict[str, Any]:
    key: dict[str, Any] = await emu.admin("POST", "service-accounts", json={"project_id": "p-1"})
    return key


async def grant(
    emu: Emulator, assertion: str, grant_type: str = JWT_BEARER
) -> tuple[int, dict[str, Any]]:
    async with emu.http.post(
        f"{emu.base_url}/token", data={"grant_type": grant_type, "assertion": assertion}
    ) as resp:
        return resp.status, await resp.json()


async def test_service_account_key_looks_like_googles(emu: Emulator) -> None:
    key = await new_key(emu)
    assert key["type"] == "service_account"
    assert key["project_id"] == "p-1"
    assert key["token_uri"] == f"{emu.base_url}/token"
    assert key["private_key"].startswith("-----BEGIN PRIVATE KEY-----\n")
    assert key["client_email"].endswith("@p-1.iam.gserviceaccount.com")
    assert key["universe_domain"] == "googleapis.com"
    expected = {
        "type",
        "project_id",
        "private_key_id",
        "private_key",
        "client_email",
        "client_id",
        "auth_uri",
        "token_uri",
        "auth_provider_x509_cert_url",
        "client_x509_cert_url",
        "universe_domain",
    }
    assert set(key) == expected


async def test_google_auth_refresh_gets_a_working_token(emu: Emulator) -> None:
    key = await new_key(emu)
    creds = service_account.Credentials.from_service_account_info(key, scopes=SCOPES)
    await asyncio.to_thread(creds.refresh, Request())
    assert creds.valid and creds.token.startswith("ya29.emu-")
    status, _, _ = await emu.post(
        emu.url(), user_body(), {"Authorization": f"Bearer {creds.token}"}
    )
    assert status == 200
    records = await emu.records()
    token_record = next(r for r in records if r["path"] == "/token")
    assert token_record["body"]["assertion"] == "<redacted>"
    assert token_record["body"]["grant_type"] == JWT_BEARER
    assert token_record["status"] == 200
    assert (await emu.admin("GET", "stats"))["tokens_issued"] == 1


async def test_bad_signature_is_rejected(emu: Emulator) -> None:
    key = await new_key(emu)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    status, body = await grant(emu, sign_assertion(key, good_claims(key), other_pem))
    assert (status, body) == (
        400,
        {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
    )


async def test_google_auth_refresh_with_wrong_key_raises(emu: Emulator) -> None:
    key = await new_key(emu)
    forged = dict(key, private_key=(await new_key(emu))["private_key"])
    creds = service_account.Credentials.from_service_account_info(forged, scopes=SCOPES)
    with pytest.raises(RefreshError, match="Invalid JWT Signature"):
        await asyncio.to_thread(creds.refresh, Request())


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"exp": int(time.time()) - 4000, "iat": int(time.time()) - 7600}, "invalid_grant"),
        ({"exp": int(time.time()) + 7200}, "invalid_grant"),
        ({"aud": "https://elsewhere.example/token"}, "invalid_grant"),
        ({"scope": ""}, "invalid_scope"),
        ({"iss": "someone@else.iam.gserviceaccount.com"}, "invalid_grant"),
    ],
)
async def test_bad_claims_are_rejected(
    emu: Emulator, overrides: dict[str, Any], error: str
) -> None:
    key = await new_key(emu)
    status, body = await grant(emu, sign_assertion(key, good_claims(key, **overrides)))
    assert status == 400 and body["error"] == error


async def test_googles_own_audience_is_accepted(emu: Emulator) -> None:
    key = await new_key(emu)
    claims = good_claims(key, aud="https://oauth2.googleapis.com/token")
    status, body = await grant(emu, sign_assertion(key, claims))
    assert status == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600


async def test_wrong_grant_type(emu: Emulator) -> None:
    status, body = await grant(emu, "x.y.z", grant_type="client_credentials")
    assert status == 400 and body["error"] == "unsupported_grant_type"


def assert_unauthenticated(
    body: dict[str, Any], reason: str, message: str = UNAUTH_MESSAGE
) -> None:
    assert body == {
        "error": {
            "code": 401,
            "message": message,
            "status": "UNAUTHENTICATED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": reason,
                    "domain": "googleapis.com",
                    "metadata": {
                        "service": "aiplatform.googleapis.com",
                        "method": "google.cloud.aiplatform.v1.PredictionService.GenerateContent",
                    },
                }
            ],
        }
    }


async def test_missing_credentials_401(emu: Emulator) -> None:
    status, body, resp = await emu.post(emu.url(), user_body(), {})
    assert status == 401
    assert resp.headers["Content-Type"] == "application/json; charset=UTF-8"
    missing = UNAUTH_MESSAGE.replace(
        "Request had invalid authentication credentials.",
        "Request is missing required authentication credential.",
    )
    assert_unauthenticated(body, "CREDENTIALS_MISSING", missing)


async def test_unknown_token_401(emu: Emulator) -> None:
    status, body, _ = await emu.post(
        emu.url(), user_body(), {"Authorization": "Bearer ya29.not-ours"}
    )
    assert status == 401
    assert_unauthenticated(body, "ACCESS_TOKEN_TYPE_UNSUPPORTED")


async def test_auth_is_checked_before_the_body(emu: Emulator) -> None:
    status, _, _ = await emu.post(emu.url(), {"bogus": 1}, {"Authorization": "Bearer nope"})
    assert status == 401


async def test_revoked_token_401(emu: Emulator) -> None:
    token = await mint_token(emu.base_url, emu.http)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await emu.post(emu.url(), user_body(), headers))[0] == 200
    await emu.admin("POST", "revoke-tokens")
    status, body, _ = await emu.post(emu.url(), user_body(), headers)
    assert status == 401
    assert_unauthenticated(body, "ACCESS_TOKEN_EXPIRED")


async def test_expired_token_401(emu: Emulator) -> None:
    config = await emu.admin("POST", "config", json={"token_ttl_seconds": 0})
    assert config["token_ttl_seconds"] == 0
    token = await mint_token(emu.base_url, emu.http)
    status, body, _ = await emu.post(emu.url(), user_body(), {"Authorization": f"Bearer {token}"})
    assert status == 401
    assert_unauthenticated(body, "ACCESS_TOKEN_EXPIRED")


async def test_api_key_header_and_query(emu: Emulator) -> None:
    assert (await emu.post(emu.url(), user_body(), {"x-goog-api-key": API_KEY}))[0] == 200
    status, _, _ = await emu.post(emu.url() + f"?key={API_KEY}", user_body(), {})
    assert status == 200
    records = await emu.records()
    assert (
        records[0]["auth"] == "api_key" and records[0]["headers"]["x-goog-api-key"] == "<redacted>"
    )
    assert records[1]["query"] == {"key": "<redacted>"}


async def test_invalid_api_key_400(emu: Emulator) -> None:
    status, body, _ = await emu.post(emu.url(), user_body(), {"x-goog-api-key": "wrong"})
    assert status == 400
    assert body["error"]["message"] == "API key not valid. Please pass a valid API key."
    assert body["error"]["details"][0]["reason"] == "API_KEY_INVALID"


async def test_express_mode_needs_an_api_key(emu: Emulator) -> None:
    url = emu.url(express=True)
    assert (await emu.post(url, user_body(), {"x-goog-api-key": API_KEY}))[0] == 200
    status, body, _ = await emu.post(url, user_body())
    assert status == 401
    assert body["error"]["details"][0]["reason"] == "CREDENTIALS_MISSING"
    assert (await emu.post(url, user_body(), {}))[0] == 401


async def test_records_redact_bearer(emu: Emulator) -> None:
    await emu.post(emu.url(), user_body())
    (record,) = await emu.records()
    assert record["auth"] == "bearer"
    assert record["headers"]["Authorization"] == "<redacted>"
