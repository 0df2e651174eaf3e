"""Run the emulator as a subprocess (for tests and for the gateway's embedded default)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import emulator

STARTUP_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 5.0
_PROJECT_ROOT = Path(emulator.__file__).resolve().parent.parent


def terminate(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM a child, then SIGKILL if it lingers (bounded waits)."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT_SECONDS)


class EmulatorProcess:
    """``with EmulatorProcess() as emu: emu.base_url`` starts ``python -m emulator`` on a free
    loopback port and stops it on exit.

    ``extra_args`` are passed on the command line (e.g. ``["--api-key", "k"]``); ``env`` adds
    environment variables; ``storage_url`` (a ``StorageEmulatorProcess.base_url``) becomes
    ``--storage-url`` for batch prediction.
    """

    def __init__(
        self,
        extra_args: Sequence[str] = (),
        *,
        host: str = "127.0.0.1",
        env: dict[str, str] | None = None,
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
        storage_url: str | None = None,
    ) -> None:
        self.extra_args = list(extra_args)
        if storage_url is not None:
            self.extra_args += ["--storage-url", storage_url]
        self.host = host
        self.env = env or {}
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the running emulator."""
        if self.port is None:
            raise RuntimeError("the emulator is not running")
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmulatorProcess:
        """Start the process and wait (bounded) until it has written its port file."""
        self._tempdir = tempfile.TemporaryDirectory(prefix="vertex-emulator-")
        port_file = Path(self._tempdir.name) / "port"
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(_PROJECT_ROOT), env.get("PYTHONPATH")])
        )
        command = [
            sys.executable,
            "-m",
            "emulator",
            "--host",
            self.host,
            "--port",
            "0",
            "--port-file",
            str(port_file),
            *self.extra_args,
        ]
        self._process = subprocess.Popen(
            command, cwd=_PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self.stop()
                raise RuntimeError("the emulator exited during start-up")
            if port_file.exists():
                self.port = int(port_file.read_text(encoding="ascii").strip())
                return self
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"the emulator did not start within {self.startup_timeout} s")

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL if it lingers) and clean up."""
        process, self._process = self._process, None
        terminate(process)
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None
        self.port = None

    @property
    def returncode(self) -> int | None:
        """The exit status, or None while running (or before start)."""
        return self._process.poll() if self._process else None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
