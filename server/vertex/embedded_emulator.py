"""Start the bundled Vertex emulator as a child process (the default with no Google project),
with a Cloud Storage stand-in (`gcp-storage-emulator`) beside it for files and batches.

The server never imports the emulator: it runs `python -m emulator` and talks to it over HTTP,
exactly as it would to Vertex, with a real service-account key the emulator issues.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from server.config import CredentialsConfig, GatewayConfig

log = logging.getLogger(__name__)


LOCAL_BUCKET = "vertex-gateway-local"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class EmbeddedEmulator:
    """The running emulator child processes."""

    process: subprocess.Popen[bytes]
    base_url: str
    service_account: dict[str, Any]
    storage: subprocess.Popen[bytes] | None = None
    storage_url: str | None = None

    def configure(self, config: GatewayConfig) -> GatewayConfig:
        """The configuration pointed at this emulator with its service-account key (and at the
        local storage, unless a bucket is configured)."""
        creds = CredentialsConfig(source="service_account", json=json.dumps(self.service_account))
        vertex = replace(
            config.vertex,
            project=str(self.service_account["project_id"]),
            base_url=self.base_url,
            credentials=creds,
        )
        config = replace(config, vertex=vertex)
        if self.storage_url is not None and config.storage.bucket is None:
            storage = replace(config.storage, bucket=LOCAL_BUCKET, base_url=self.storage_url)
            config = replace(config, storage=storage)
        return config

    def stop(self) -> None:
        """Terminate the children (bounded wait, then kill)."""
        _stop(self.process)
        if self.storage is not None:
            _stop(self.storage)


def _spawn(host: str, port_file: Path, storage_url: str | None) -> subprocess.Popen[bytes]:
    # Popen returns at once; it does not block the event loop.
    args = ["--host", host, "--port", "0", "--port-file", str(port_file)]
    if storage_url:
        args += ["--storage-url", storage_url]
    return subprocess.Popen([sys.executable, "-m", "emulator", *args], stdout=subprocess.DEVNULL)


def _spawn_storage(args: list[str]) -> subprocess.Popen[bytes]:
    # Popen returns at once; it does not block the event loop.
    return subprocess.Popen(
        [sys.executable, "-m", "gcp_storage_emulator", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def start_storage(host: str, timeout: float) -> tuple[subprocess.Popen[bytes], str]:
    """`gcp-storage-emulator` in memory on a free loopback port, with the local bucket."""
    port = _free_port(host)
    args = ["start", "--in-memory", "--host", host, "--port", str(port), "--default-bucket",
            LOCAL_BUCKET, "-q"]  # fmt: skip
    import aiohttp  # here: a gateway serving Google's Vertex never loads it (idle RSS)

    process = _spawn_storage(args)
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"{url}/storage/v1/b/{LOCAL_BUCKET}") as resp:
                    if resp.status == 200:
                        return process, url
            except aiohttp.ClientError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                _stop(process)
                raise RuntimeError("the local Cloud Storage stand-in did not start")
            await asyncio.sleep(0.1)


async def start_embedded_emulator(
    host: str = "127.0.0.1", timeout: float = 30.0
) -> EmbeddedEmulator:
    """Start `python -m emulator` on a free loopback port and obtain a service-account key."""
    storage, storage_url = await start_storage(host, timeout)
    port_file = Path(tempfile.mkdtemp(prefix="vertex-emulator-")) / "port"
    process = _spawn(host, port_file, storage_url)
    deadline = time.monotonic() + timeout
    while not port_file.exists():
        if process.poll() is not None:
            _stop(storage)
            raise RuntimeError(f"the embedded emulator exited with status {process.returncode}")
        if time.monotonic() > deadline:
            process.kill()
            _stop(storage)
            raise RuntimeError("the embedded emulator did not start in time")
        await asyncio.sleep(0.05)
    base_url = f"http://{host}:{int(port_file.read_text().strip())}"
    import aiohttp

    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{base_url}/_emulator/service-accounts", json={}) as resp,
        ):
            resp.raise_for_status()
            key = await resp.json()
    except Exception:
        process.kill()
        _stop(storage)
        raise
    return EmbeddedEmulator(process, base_url, key, storage, storage_url)
