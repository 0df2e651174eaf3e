"""The Node client (clients/node) against a real gateway: its own `node --test` suite and its
example, run by Node against `python -m server` with the embedded emulator on a TCP port."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
NODE_CLIENT = ROOT / "clients" / "node"
STARTUP_SECONDS = 60.0

NODE = shutil.which("node")
NPM = shutil.which("npm")
pytestmark = pytest.mark.skipif(not (NODE and NPM), reason="Node.js and npm are not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_env() -> dict[str, str]:
    """This process's environment without gateway or Google settings that would leak in."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "VG_"))}


@dataclass(frozen=True)
class Gateway:
    """A running `python -m server`: its gRPC target, emulator and the caller key it accepts."""

    target: str
    emulator_url: str
    api_key: str

    def node_env(self) -> dict[str, str]:
        """What the Node tests and example read to find and call this gateway."""
        return {
            **_clean_env(),
            "VG_ADDRESS": self.target,
            "VG_API_KEY": self.api_key,
            "VG_EMULATOR_URL": self.emulator_url,
            "NO_COLOR": "1",
        }


def _ensure_node_modules() -> None:
    """`npm ci` from the lock file when node_modules is missing or older than the lock."""
    installed = NODE_CLIENT / "node_modules" / ".package-lock.json"
    lock = NODE_CLIENT / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    assert NPM is not None
    run = subprocess.run(
        [NPM, "ci", "--no-audit", "--no-fund"],
        cwd=NODE_CLIENT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, f"npm ci failed:\n{run.stdout}\n{run.stderr}"


def _wait_until_serving(target: str, proc: subprocess.Popen[str], lines: list[str]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gateway did not start:\n" + "\n".join(lines))
            time.sleep(0.1)


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    """`python -m server` with caller keys on, upstream retries off (what the Node tests see
    is what the emulator answered) and the breaker off (tests fail models on purpose)."""
    _ensure_node_modules()
    port = _free_port()
    api_key = secrets.token_urlsafe(24)
    env = {
        **_clean_env(),
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'clients' / 'python'}",
        "VG_LISTEN": f"127.0.0.1:{port}",
        "VG_CALLER_KEYS": f"node-client-tests={hashlib.sha256(api_key.encode()).hexdigest()}",
        "VG_MAX_ATTEMPTS": "1",
        "VG_CIRCUIT_FAILURES": "0",
        "VG_SHUTDOWN_DRAIN_SECONDS": "0",
        "VG_SHUTDOWN_GRACE_SECONDS": "2",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "server"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())

    threading.Thread(target=pump, daemon=True).start()
    try:
        target = f"127.0.0.1:{port}"
        _wait_until_serving(target, proc, lines)
        found = (re.search(r"embedded Vertex emulator at (http://[\d.:]+)", x) for x in lines)
        match = next((m for m in found if m), None)
        assert match, "no embedded emulator in the gateway's log:\n" + "\n".join(lines)
        yield Gateway(target, match.group(1), api_key)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _tap_count(output: str, name: str) -> int:
    match = re.search(rf"^# {name} (\d+)$", output, re.MULTILINE)
    assert match, f"no '# {name}' in Node's output:\n{output}"
    return int(match.group(1))


def test_node_client_suite_passes_against_the_gateway(gateway: Gateway) -> None:
    assert NODE is not None
    run = subprocess.run(
        [NODE, "--test", "--test-reporter=tap", "test/"],
        cwd=NODE_CLIENT, env=gateway.node_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"node --test failed:\n{output}"
    assert _tap_count(output, "fail") == 0, output
    assert _tap_count(output, "cancelled") == 0, output
    assert _tap_count(output, "skipped") == 0, f"a Node test was skipped:\n{output}"
    assert _tap_count(output, "pass") == _tap_count(output, "tests") > 0, output
    passed = set(re.findall(r"^\s*ok \d+ - (.+)$", output, re.MULTILINE))
    for needed in (
        "Chat returns a complete reply with usage",
        "StreamChat streams the same words as Chat, usage on the last message",
        "Embed returns one vector per input",
        "ListModels pages and filters by capability",
        "an unknown model is NOT_FOUND with ErrorInfo, in Chat and StreamChat",
        "empty messages are INVALID_ARGUMENT with a BadRequest field violation",
        "Vertex rate limiting: RetryInfo and QuotaFailure are decoded",
    ):
        assert needed in passed, f"{needed!r} did not pass:\n{output}"


def test_node_example_chats_then_streams(gateway: Gateway) -> None:
    assert NODE is not None
    run = subprocess.run(
        [NODE, "examples/chat.js", "Why is the sky blue?"],
        cwd=NODE_CLIENT, env=gateway.node_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, f"examples/chat.js failed:\n{run.stdout}\n{run.stderr}"
    chat = re.search(r"^Chat \(google/gemini-2\.5-flash, FINISH_REASON_STOP\):\n(.+)$",
                     run.stdout, re.MULTILINE)  # fmt: skip
    stream = re.search(r"^StreamChat: (.+)\n\(FINISH_REASON_STOP, \d+ tokens\)$",
                       run.stdout, re.MULTILINE)  # fmt: skip
    assert chat and stream, run.stdout
    assert "sky blue" in chat.group(1)
    assert stream.group(1) == chat.group(1)  # the emulator answers a request the same way


def test_node_example_reports_error_details(gateway: Gateway) -> None:
    assert NODE is not None
    run = subprocess.run(
        [NODE, "examples/chat.js", "hi"],
        cwd=NODE_CLIENT, env={**gateway.node_env(), "VG_MODEL": "no-such-model"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stderr.startswith("NOT_FOUND MODEL_NOT_FOUND: model 'no-such-model'"), run.stderr
