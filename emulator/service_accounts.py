"""Service-account keys the emulator hands out, shaped exactly like Google's JSON key files.

Only the public half is kept: it is all the token endpoint needs to check an assertion.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass(frozen=True)
class RegisteredKey:
    """A key the token endpoint accepts assertions from."""

    key_id: str
    client_email: str
    project_id: str
    token_uri: str
    public_key: rsa.RSAPublicKey


def generate_private_key() -> rsa.RSAPrivateKey:
    """A fresh RSA 2048 key (slow-ish: call it off the event loop)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class ServiceAccountRegistry:
    """Keys handed out so far, by key id and by service-account e-mail."""

    def __init__(self) -> None:
        self._by_id: dict[str, RegisteredKey] = {}
        self._count = 0

    def register(
        self,
        private_key: rsa.RSAPrivateKey,
        *,
        base_url: str,
        project_id: str,
        client_email: str | None = None,
    ) -> dict[str, Any]:
        """Record the public half of ``private_key`` and return the full key file as JSON."""
        self._count += 1
        email = client_email or f"emulator-{self._count}@{project_id}.iam.gserviceaccount.com"
        key_id = secrets.token_hex(20)
        token_uri = f"{base_url}/token"
        self._by_id[key_id] = RegisteredKey(
            key_id, email, project_id, token_uri, private_key.public_key()
        )
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        return {
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": key_id,
            "private_key": pem,
            "client_email": email,
            "client_id": str(secrets.randbelow(9 * 10**20) + 10**20),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": (
                f"https://www.googleapis.com/robot/v1/metadata/x509/{quote(email, safe='')}"
            ),
            "universe_domain": "googleapis.com",
        }

    def by_key_id(self, key_id: str) -> RegisteredKey | None:
        """The key whose ``private_key_id`` is ``key_id``."""
        return self._by_id.get(key_id)

    def by_email(self, email: str) -> RegisteredKey | None:
        """The most recent key of the service account ``email``."""
        matches = [k for k in self._by_id.values() if k.client_email == email]
        return matches[-1] if matches else None
