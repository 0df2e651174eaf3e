"""Fixtures: one in-process emulator on a free loopback port for the whole session.

Tests talk to it over real HTTP with aiohttp; each test starts from a reset emulator. Batch
prediction tests use a second in-process emulator (``batch_emu``) wired to a Cloud Storage
emulator child process (``storage``); both start only when a test asks for them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from emu_batch_helpers import TEST_STEP_SECONDS, BatchEmulator
from emu_helpers import API_KEY, Emulator, mint_token

from emulator.app import create_app
from emulator.auth import TokenState
from emulator.config import ServerOptions
from emulator.state import STATE_KEY, EmulatorState
from emulator.storage_process import StorageEmulatorProcess


async def _serve(options: ServerOptions) -> AsyncIterator[tuple[str, EmulatorState]]:
    app = create_app(options)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}", app[STATE_KEY]
    await runner.cleanup()


@pytest_asyncio.fixture(scope="session")
async def _server() -> AsyncIterator[tuple[str, EmulatorState]]:
    async for served in _serve(ServerOptions(api_keys=(API_KEY,))):
        yield served


@pytest.fixture(scope="session")
def storage() -> Iterator[StorageEmulatorProcess]:
    """A Cloud Storage emulator (JSON API, in memory) with the default bucket."""
    with StorageEmulatorProcess() as process:
        yield process


@pytest_asyncio.fixture(scope="session")
async def _batch_server(
    storage: StorageEmulatorProcess,
) -> AsyncIterator[tuple[str, EmulatorState]]:
    options = ServerOptions(api_keys=(API_KEY,), storage_url=storage.base_url)
    async for served in _serve(options):
        yield served


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


@pytest_asyncio.fixture
async def batch_emu(
    _batch_server: tuple[str, EmulatorState],
    _http: aiohttp.ClientSession,
    _tokens: dict[str, str],
    storage: StorageEmulatorProcess,
) -> BatchEmulator:
    """A freshly reset emulator with Cloud Storage, a fast batch pace and a bearer token."""
    base_url, state = _batch_server
    state.reset()
    token = _tokens.get("batch", "")
    if state.tokens.state(token) is not TokenState.VALID:
        token = _tokens["batch"] = await mint_token(base_url, _http)
        state.reset()
    state.config.update({"batch_step_seconds": TEST_STEP_SECONDS})
    return BatchEmulator(base_url, state, _http, token, storage_url=storage.base_url)
