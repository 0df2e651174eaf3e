"""`python -m server` as `make serve` runs it: embedded emulator, grpcurl via reflection, SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from vertex_gateway.v1 import chat_pb2, chat_pb2_grpc

from emulator.admin import EmulatorAdmin

ROOT = Path(__file__).resolve().parents[2]
GRPCURL = str(Path(sys.executable).parent / "grpcurl")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    def __init__(self, *args: str, env_extra: dict[str, str] | None = None) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "VG_"))}
        env.update(
            PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'clients' / 'python'}",
            VG_LISTEN=f"127.0.0.1:{self.port}",
            VG_SHUTDOWN_DRAIN_SECONDS="0.5",
            VG_SHUTDOWN_GRACE_SECONDS="10",
        )
        env.update(env_extra or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", *args], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        self.target = f"127.0.0.1:{self.port}"
        channel = grpc.insecure_channel(self.target)
        stub = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + 60
        while True:
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    break
            except grpc.RpcError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start:\n" + "\n".join(self.lines))
            time.sleep(0.2)
        channel.close()
        match = next(
            (
                m
                for line in self.lines
                if (m := re.search(r"embedded Vertex emulator at (http://[\d.:]+)", line))
            ),
            None,
        )
        assert match, "\n".join(self.lines)
        self.emulator_url = match.group(1)

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def grpcurl(self, *args: str, data: dict | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [GRPCURL, "-plaintext", "-format-error"]
        if data is not None:
            cmd += ["-d", json.dumps(data)]
        return subprocess.run(
            [*cmd, self.target, *args], capture_output=True, text=True, timeout=30
        )

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    proc = ServerProcess()
    yield proc
    if proc.proc.poll() is None:
        proc.proc.kill()
        proc.proc.wait()


CHAT = {
    "model": "gemini-2.5-flash",
    "messages": [{"role": "ROLE_USER", "parts": [{"text": "Hello there"}]}],
}


def test_logs_one_line_about_the_embedded_emulator(server: ServerProcess) -> None:
    hits = [line for line in server.lines if "embedded Vertex emulator" in line]
    assert len(hits) == 1
    assert json.loads(hits[0])["level"] == "INFO"
    assert "BEGIN PRIVATE KEY" not in "\n".join(server.lines)


def test_grpcurl_lists_all_services(server: ServerProcess) -> None:
    out = server.grpcurl("list")
    assert out.returncode == 0, out.stderr
    services = set(out.stdout.split())
    assert services == {
        "vertex_gateway.v1.ChatService", "vertex_gateway.v1.EmbeddingService",
        "vertex_gateway.v1.ImageService", "vertex_gateway.v1.SpeechService",
        "vertex_gateway.v1.BatchService", "vertex_gateway.v1.FileService",
        "vertex_gateway.v1.ModelService", "vertex_gateway.v1.VideoService",
        "vertex_gateway.v1.TuningService", "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }  # fmt: skip
    described = server.grpcurl("describe", "vertex_gateway.v1.ChatService")
    assert "rpc StreamChat" in described.stdout


def test_grpcurl_chat(server: ServerProcess) -> None:
    out = server.grpcurl("vertex_gateway.v1.ChatService/Chat", data=CHAT)
    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout)
    candidate = reply["candidates"][0]
    assert candidate["message"]["parts"][0]["text"]
    assert candidate["finish_reason"] == "FINISH_REASON_STOP"  # grpcurl prints proto names
    assert reply["usage"]["total_tokens"] > 0


def test_grpcurl_stream_chat(server: ServerProcess) -> None:
    out = server.grpcurl("vertex_gateway.v1.ChatService/StreamChat", data=CHAT)
    assert out.returncode == 0, out.stderr
    messages = [json.loads(m) for m in re.split(r"(?<=\})\n(?=\{)", out.stdout.strip())]
    assert len(messages) >= 3
    assert messages[-1]["candidates"][0]["finish_reason"] == "FINISH_REASON_STOP"
    assert "usage" in messages[-1]


def test_grpcurl_error_shows_details(server: ServerProcess) -> None:
    out = server.grpcurl("vertex_gateway.v1.ChatService/Chat", data={**CHAT, "model": "nope-1"})
    assert out.returncode != 0
    assert '"code": 5' in out.stdout + out.stderr  # NOT_FOUND
    assert "nope-1" in out.stdout + out.stderr
    assert "MODEL_NOT_FOUND" in out.stdout + out.stderr


def test_sigterm_drains_in_flight_streams(server: ServerProcess) -> None:
    EmulatorAdmin(server.emulator_url).arm_fault(
        "slow-stream:300", path_contains=":streamGenerateContent"
    )
    channel = grpc.insecure_channel(server.target)
    stub = chat_pb2_grpc.ChatServiceStub(channel)
    request = chat_pb2.ChatRequest(
        model="gemini-2.5-flash",
        messages=[
            chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text="A long story")])
        ],
    )
    stream = stub.StreamChat(request, timeout=30)
    first = next(stream)
    assert first.candidates
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
    assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING  # health flips first
    rest = list(stream)  # the in-flight stream finishes during the grace period
    assert rest and rest[-1].candidates[0].finish_reason == 1
    assert server.proc.wait(timeout=30) == 0
    channel.close()
    assert any('"stopped"' in line or "stopped" in line for line in server.lines)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_each_event_loop_serves_and_stops(loop: str) -> None:
    """server.event_loop: the stdlib loop and uvloop (the default) both serve unary and
    streaming calls and stop cleanly on SIGTERM."""
    proc = ServerProcess(env_extra={"VG_EVENT_LOOP": loop})
    try:
        with grpc.insecure_channel(proc.target) as channel:
            stub = chat_pb2_grpc.ChatServiceStub(channel)
            request = chat_pb2.ChatRequest(
                model="gemini-2.5-flash",
                messages=[
                    chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text="Hi")])
                ],
            )
            assert stub.Chat(request, timeout=30).candidates[0].message.parts[0].text
            chunks = list(stub.StreamChat(request, timeout=30))
            assert chunks[-1].candidates[0].finish_reason == 1
    finally:
        assert proc.stop() == 0
    started = next(line for line in proc.lines if "vertex-gateway listening" in line)
    assert json.loads(started)["event_loop"] == loop


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_workers_share_the_port_and_all_stop_on_sigterm() -> None:
    """--workers 2: two forked servers (plus the shared embedded emulator) answer on one port;
    SIGTERM to the parent stops them all cleanly."""
    proc = ServerProcess("--workers", "2")
    try:
        children = _children(proc.proc.pid)
        workers = [c for c in children if "-m server" in _cmdline(c)]
        assert len(workers) == 2, [_cmdline(c) for c in children]
        for _ in range(6):  # new connections each time: the kernel spreads them over workers
            result = proc.grpcurl("vertex_gateway.v1.ChatService/Chat", data=CHAT)
            assert result.returncode == 0, result.stderr
            assert "emulator" in result.stdout
        assert proc.stop() == 0
        for pid in children:
            assert (
                not Path(f"/proc/{pid}").exists()
                or "zombie" in Path(f"/proc/{pid}/status").read_text()
            )
        assert sum("stopped" in line for line in proc.lines) == 2, proc.lines
    finally:
        if proc.proc.poll() is None:
            proc.proc.kill()
            proc.proc.wait()


def test_workers_need_a_fixed_port() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "VG_"))}
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{ROOT / 'clients' / 'python'}"
    run = subprocess.run(
        [sys.executable, "-m", "server", "--workers", "2", "--listen", "127.0.0.1:0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2
    assert "server.workers > 1 needs a fixed port" in run.stderr


async def test_sigterm_with_200_streams_in_flight() -> None:
    """Every in-flight stream ends whole, new calls are refused, health says NOT_SERVING, and
    the process exits 0."""
    proc = ServerProcess()
    try:
        EmulatorAdmin(proc.emulator_url).arm_fault(
            "slow-stream:200", times=200, path_contains=":streamGenerateContent"
        )
        request = chat_pb2.ChatRequest(
            model="gemini-2.5-flash",
            messages=[
                chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text="story")])
            ],
        )
        async with grpc.aio.insecure_channel(proc.target) as channel:
            stub = chat_pb2_grpc.ChatServiceStub(channel)
            streams = [stub.StreamChat(request, timeout=60) for _ in range(200)]
            firsts = await asyncio.gather(*(s.read() for s in streams))
            assert all(isinstance(f, chat_pb2.StreamChatResponse) for f in firsts)
            proc.proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.2)
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=2
            )
            assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING

            async def rest(stream: Any) -> list[Any]:
                out = []
                while (message := await stream.read()) != grpc.aio.EOF:
                    out.append(message)
                return out

            reading = asyncio.gather(*(rest(s) for s in streams))
            await asyncio.sleep(1.0)  # past the drain: the listener is closed to new calls
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.Chat(request, timeout=3)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            finished = await reading
            assert all(
                chunks and chunks[-1].candidates[0].finish_reason == 1 for chunks in finished
            )
        assert await asyncio.to_thread(proc.proc.wait, 30) == 0
    finally:
        if proc.proc.poll() is None:
            proc.proc.kill()
            proc.proc.wait()
