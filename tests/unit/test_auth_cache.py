"""The cached bearer header: reused until near expiry, never kept across a refresh."""

from __future__ import annotations

import asyncio
import datetime
import threading
from typing import Any

from server.vertex.auth import GoogleAuth


class FakeCredentials:
    """Enough of google-auth's Credentials: a token, an expiry, a slow refresh."""

    def __init__(self) -> None:
        self.token = "tok-A"
        self.expiry: datetime.datetime | None = datetime.datetime.utcnow() + datetime.timedelta(
            hours=1
        )
        self.refreshes = 0
        self.applied = 0
        self.release = threading.Event()

    @property
    def valid(self) -> bool:
        return (
            self.token is not None
            and self.expiry is not None
            and (self.expiry > datetime.datetime.utcnow())
        )

    def apply(self, headers: dict[str, str]) -> None:
        self.applied += 1
        headers["authorization"] = f"Bearer {self.token}"

    def refresh(self, _request: Any) -> None:
        self.release.wait(5)
        self.refreshes += 1
        self.token = f"tok-{'ABCDEFG'[self.refreshes]}"


async def test_headers_are_reused_and_a_401_refresh_is_seen_at_once() -> None:
    creds = FakeCredentials()
    auth = GoogleAuth(creds)  # type: ignore[arg-type]
    first = await auth.headers()
    assert first == {"authorization": "Bearer tok-A"}
    assert await auth.headers() is first  # cached: google-auth is not asked again
    assert creds.applied == 1

    # A 401 for tok-A starts a refresh; while it runs, another call must not re-cache tok-A.
    refresh = asyncio.create_task(auth.unauthorized(first))
    await asyncio.sleep(0.05)
    during = await auth.headers()
    creds.release.set()
    await refresh
    after = await auth.headers()
    assert during["authorization"] != after["authorization"]
    assert after == {"authorization": "Bearer tok-B"}
    assert await auth.headers() == after


async def test_a_token_near_expiry_is_not_cached() -> None:
    creds = FakeCredentials()
    creds.expiry = datetime.datetime.utcnow() + datetime.timedelta(seconds=60)
    auth = GoogleAuth(creds)  # type: ignore[arg-type]
    await auth.headers()
    creds.token = "tok-Z"  # inside the margin, google-auth is asked every time
    assert await auth.headers() == {"authorization": "Bearer tok-Z"}
