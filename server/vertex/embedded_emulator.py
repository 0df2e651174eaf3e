"""Start the bundled Vertex emulator as a child process (the default with no Google project).

The server never imports the emulator: it runs `python -m emulator` and talks to it over HTTP,
exactly as it would to Vertex, with a real service-account key the emulator issues.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp

from server.config import CredentialsConfig, GatewayConfig

log = logging.getLogger(__name__)


@dataclass
class EmbeddedEmulator:
    """A running emulator child process."""

    process: subprocess.Popen[bytes]
    base_url: str
    service_account: dict[str, Any]

    def configure(self, config: GatewayConfig) -> GatewayConfig:
        """The configuration pointed at this emulator with its service-account key."""
        creds = CredentialsConfig(source="service_account", json=json.dumps(self.service_account))
        vertex = replace(
            config.vertex,
            project=str(self.service_account["project_id"]),
            base_url=self.base_url,
            credentials=creds,
        )
        return replace(config, vertex=vertex)

    def stop(self) -> None:
        """Terminate the child (bounded wait, then kill)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _spawn(host: str, port_file: Path) -> subprocess.Popen[bytes]:
    # Popen returns at once; it does not block the event loop.
    args = ["--host", host, "--port", "0", "--port-file", str(port_file)]
    return subprocess.Popen([sys.executable, "-m", "emulator", *args], stdout=subprocess.DEVNULL)


async def start_embedded_emulator(
    host: str = "127.0.0.1", timeout: float = 30.0
) -> EmbeddedEmulator:
    """Start `python -m emulator` on a free loopback port and obtain a service-account key."""
    port_file = Path(tempfile.mkdtemp(prefix="vertex-emulator-")) / "port"
    process = _spawn(host, port_file)
    deadline = time.monotonic() + timeout
    while not port_file.exists():
        if process.poll() is not None:
            raise RuntimeError(f"the embedded emulator exited with status {process.returncode}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the embedded emulator did not start in time")
        await asyncio.sleep(0.05)
    base_url = f"http://{host}:{int(port_file.read_text().strip())}"
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{base_url}/_emulator/service-accounts", json={}) as resp,
        ):
            resp.raise_for_status()
            key = await resp.json()
    except Exception:
        process.kill()
        raise
    return EmbeddedEmulator(process, base_url, key)
