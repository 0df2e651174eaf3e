"""Run a Cloud Storage stand-in (``gcp-storage-emulator``, JSON API) on loopback, for tests and
for the Vertex emulator's batch jobs.

``with StorageEmulatorProcess() as gcs: gcs.base_url`` starts ``python -m gcp_storage_emulator
start --in-memory`` on a free port, waits until it answers, and stops it on exit (SIGTERM, then
SIGKILL). Pass ``gcs.base_url`` to the Vertex emulator as ``--storage-url`` (or in
``STORAGE_EMULATOR_HOST``, which google-cloud-storage also honours).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from types import TracebackType
from typing import IO, Any

from emulator.process import terminate

STARTUP_TIMEOUT_SECONDS = 20.0
DEFAULT_BUCKET = "emulator-bucket"
DEFAULT_PROJECT = "emulator-project"
_START_ATTEMPTS = 3
_PROBE_TIMEOUT_SECONDS = 1.0
# Loopback calls never go through a proxy, whatever ``http_proxy`` says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port(host: str) -> int:
    """A port that was free on ``host`` a moment ago (the storage emulator cannot pick its own)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class StorageEmulatorProcess:
    """A loopback Cloud Storage JSON API server in a child process, kept in memory.

    ``default_bucket`` is created at start (None: no bucket); :meth:`create_bucket` adds more.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        default_bucket: str | None = DEFAULT_BUCKET,
        env: dict[str, str] | None = None,
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
    ) -> None:
        self.host = host
        self.default_bucket = default_bucket
        self.env = env or {}
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the running server (the JSON API lives under ``/storage/v1``)."""
        if self.port is None:
            raise RuntimeError("the storage emulator is not running")
        return f"http://{self.host}:{self.port}"

    def start(self) -> StorageEmulatorProcess:
        """Start the server and wait (bounded) until it answers; retries if the port was taken."""
        deadline = time.monotonic() + self.startup_timeout
        problem = "no attempt made"
        for _ in range(_START_ATTEMPTS):
            port = free_port(self.host)
            self._spawn(port)
            problem = self._wait_until_ready(port, deadline)
            if not problem:
                self.port = port
                return self
            detail = self._stderr_tail()
            self.stop()
            if detail:
                problem = f"{problem}: {detail}"
            if time.monotonic() >= deadline:
                break
        raise RuntimeError(f"the storage emulator did not start ({problem})")

    def _spawn(self, port: int) -> None:
        command = [
            sys.executable,
            "-m",
            "gcp_storage_emulator",
            "start",
            "--in-memory",
            "--host",
            self.host,
            "--port",
            str(port),
            "-q",
        ]
        if self.default_bucket:
            command += ["--default-bucket", self.default_bucket]
        # Kept open while the child runs (its stderr, for start-up errors); closed in stop().
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(
            command,
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
        )

    def _wait_until_ready(self, port: int, deadline: float) -> str:
        """ "" once the server answers its health check, else what went wrong."""
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return f"it exited with status {self._process.returncode}"
            try:
                with _OPENER.open(
                    f"http://{self.host}:{port}/", timeout=_PROBE_TIMEOUT_SECONDS
                ) as resp:
                    if resp.status == 200:
                        return ""
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        return f"no answer within {self.startup_timeout} s"

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace").strip()[-500:]

    def create_bucket(
        self, name: str, *, project: str = DEFAULT_PROJECT, exist_ok: bool = True
    ) -> dict[str, Any]:
        """Create a bucket through the JSON API (``POST /storage/v1/b?project=…``); returns the
        bucket resource. An existing bucket is fine unless ``exist_ok`` is false (409 then)."""
        request = urllib.request.Request(
            f"{self.base_url}/storage/v1/b?{urllib.parse.urlencode({'project': project})}",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with _OPENER.open(request, timeout=10) as resp:
                result: dict[str, Any] = json.loads(resp.read())
                return result
        except urllib.error.HTTPError as exc:
            if exc.code == 409 and exist_ok:
                return {"name": name}
            raise RuntimeError(f"creating bucket {name!r} failed: HTTP {exc.code}") from exc

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL if it lingers) and forget its port."""
        process, self._process = self._process, None
        terminate(process)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self.port = None

    @property
    def returncode(self) -> int | None:
        """The exit status, or None while running (or before start)."""
        return self._process.poll() if self._process else None

    def __enter__(self) -> StorageEmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
