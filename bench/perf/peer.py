"""The peer: LiteLLM's proxy, in its own virtual environment, against the same fake upstream.

`make bench` installs the pinned version into .bench/litellm-venv. The proxy is configured
with the same Vertex model, a throwaway service-account key whose token_uri is the fake
upstream, and `api_base` pointing at it; LITELLM_LOCAL_MODEL_COST_MAP=True keeps it offline.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.perf.upstream import MODEL

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("VG_BENCH_LITELLM_VENV", ROOT / ".bench" / "litellm-venv"))
VERSION = "1.106.2"


def litellm_available() -> bool:
    """True when the pinned LiteLLM is installed in its venv."""
    return (VENV / "bin" / "litellm").exists()


@dataclass
class _Proc:
    """Looks like a bench Server for CPU/RSS accounting."""

    process: subprocess.Popen[bytes]

    def pids(self) -> list[int]:
        from bench.perf import procstat

        return procstat.tree(self.process.pid)


@dataclass
class LiteLLM:
    """A running proxy."""

    server: _Proc
    port: int
    version: str
    master_key: str

    def stop(self) -> None:
        """Stop the proxy."""
        self.server.process.terminate()
        try:
            self.server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.server.process.kill()


def start_litellm(work: Path, upstream: str, key_file: Path) -> LiteLLM:
    """Start the proxy (one worker) and wait until it answers."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = work / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: vertex_ai/{MODEL}\n"
        "      vertex_project: bench\n"
        "      vertex_location: us-central1\n"
        f"      vertex_credentials: {key_file}\n"
        f"      api_base: {upstream}\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "  drop_params: true\n"
    )
    # The proxy refuses to start without a master key; callers present it as a bearer token.
    master_key = "sk-bench-" + secrets.token_hex(16)
    env = {
        **os.environ,
        "LITELLM_MASTER_KEY": master_key,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "PYTHONPATH": "",
    }
    process = subprocess.Popen(
        [
            str(VENV / "bin" / "litellm"),
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(work / "litellm.log", "wb"),  # noqa: SIM115 - lives as long as the process
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (work / "litellm.log").read_text(errors="replace")[-1500:]
            raise RuntimeError(f"LiteLLM exited:\n{tail}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/liveliness", timeout=1):
                return LiteLLM(_Proc(process), port, VERSION, master_key)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("LiteLLM did not start in 120 s")
