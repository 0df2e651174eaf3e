"""A gateway backed by the emulator, served from a thread of its own on a loopback TCP port.

Out-of-process callers (grpcurl, nginx) need a gateway that keeps serving while a test blocks
on them, so the gateway gets its own event loop in a background thread instead of sharing
pytest's loop; tests stay plain synchronous code.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from emulator.admin import EmulatorAdmin
from emulator.process import EmulatorProcess
from server.app import Gateway, create_gateway
from server.config import load_config

STARTUP_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class RunningGateway:
    """A started gateway and the emulator behind it."""

    port: int
    admin: EmulatorAdmin

    @property
    def target(self) -> str:
        """``host:port`` for gRPC clients."""
        return f"127.0.0.1:{self.port}"


def gateway_env(emulator_url: str, key: dict[str, Any], **extra: str) -> dict[str, str]:
    """The environment of a gateway that sends every Vertex call to the emulator."""
    env = {
        "VG_LISTEN": "127.0.0.1:0",
        "VG_VERTEX_BASE_URL": emulator_url,
        "GOOGLE_CLOUD_PROJECT": key["project_id"],
        "VG_CREDENTIALS": "service_account",
        "VG_CREDENTIALS_JSON": json.dumps(key),
        "VG_SHUTDOWN_DRAIN_SECONDS": "0",
        "VG_SHUTDOWN_GRACE_SECONDS": "1",
        # Error tests fail calls on purpose; an open breaker would turn later calls into
        # UNAVAILABLE and couple the tests to their order.
        "VG_CIRCUIT_FAILURES": "0",
        # No Prometheus port: several gateways may run in one test session.
        "VG_METRICS_PORT": "0",
    }
    env.update(extra)
    return env


class _GatewayThread:
    """One event loop in a daemon thread that builds, serves and finally stops a gateway."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self._loop = asyncio.new_event_loop()
        self._started: Future[Gateway] = Future()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="polyglot-gateway", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            gateway = await create_gateway(load_config(env=self._env))
            await gateway.start()
        except BaseException as exc:
            self._started.set_exception(exc)
            raise
        self._started.set_result(gateway)
        await self._stop.wait()
        await gateway.shutdown()

    def start(self) -> Gateway:
        self._thread.start()
        return self._started.result(timeout=STARTUP_TIMEOUT_SECONDS)

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=STARTUP_TIMEOUT_SECONDS)


@contextmanager
def running_gateway(**extra_env: str) -> Iterator[RunningGateway]:
    """Start the emulator and a gateway in front of it; stop both on exit."""
    with EmulatorProcess() as emulator:
        admin = EmulatorAdmin(emulator.base_url)
        key = admin.create_service_account()
        runner = _GatewayThread(gateway_env(emulator.base_url, key, **extra_env))
        gateway = runner.start()
        try:
            yield RunningGateway(gateway.port, admin)
        finally:
            runner.stop()
