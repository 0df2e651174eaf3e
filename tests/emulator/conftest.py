"""Fixtures: one in-process emulator on a free loopback port for the whole session.

Tests talk to it over real HTTP with aiohttp; each test starts from a reset emulator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio
from aiohttp import web
from emu_helpers import API_KEY, Emulator, mint_token

from emulator.app import create_app
from emulator.auth import TokenState
from emulator.config import ServerOptions
from emulator.state import STATE_KEY, EmulatorState


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
