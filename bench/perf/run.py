"""`make bench`: the gateway side by side with the floor, LiteLLM's proxy and the upstream itself.

One run, one machine, one table (printed, and written as JSON and Markdown under bench/results/).
Every target of the performance issue is marked met or not. `--smoke` runs each measurement for
a moment, skips LiteLLM and asserts nothing: it keeps the harness from rotting (make test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from vertex_gateway.v1 import chat_pb2, chat_pb2_grpc, embedding_pb2

from bench.perf import procstat
from bench.perf.first_chunk import (
    H2Probe,
    alternate,
    grpc_message_complete,
    post_head,
    sse_event_complete,
)
from bench.perf.load import LoadResult, fixed_rate, grpc_frame, h2load
from bench.perf.machine import cpu_ticks, parallel_efficiency, steal_share
from bench.perf.peer import LiteLLM, litellm_available, start_litellm
from bench.perf.upstream import (
    EMBED_DIMS,
    EMBED_TEXTS,
    MODEL,
    STREAM_CHUNKS,
    Upstream,
    start_upstream,
)

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
CHAT = "/vertex_gateway.v1.ChatService/Chat"
EMBED = "/vertex_gateway.v1.EmbeddingService/Embed"
STREAM = "/vertex_gateway.v1.ChatService/StreamChat"
MODEL_PATH = f"/v1/projects/bench/locations/us-central1/publishers/google/models/{MODEL}"
STREAM_PATH = f"{MODEL_PATH}:streamGenerateContent?alt=sse"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_account(token_uri: str) -> dict[str, Any]:
    """A throwaway service-account key whose token endpoint is the fake upstream."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "bench",
        "private_key_id": "bench",
        "private_key": pem,
        "client_email": "bench@bench.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }


def embed_request() -> bytes:
    """An Embed request of 250 texts (one Vertex call for text-embedding-005)."""
    return embedding_pb2.EmbedRequest(
        model="text-embedding-005",
        inputs=[embedding_pb2.EmbedInput(text=f"support article {i}") for i in range(EMBED_TEXTS)],
    ).SerializeToString()


def chat_request() -> bytes:
    """The Chat request every gRPC run sends."""
    return chat_pb2.ChatRequest(
        model=MODEL,
        messages=[
            chat_pb2.Message(
                role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text="How far is the moon?")]
            )
        ],
    ).SerializeToString()


@dataclass
class Server:
    """A server under test (gateway or echo floor), started as a subprocess."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    start_seconds: float

    def pids(self) -> list[int]:
        """The process and its workers."""
        return procstat.tree(self.process.pid)

    def stop(self) -> int:
        """SIGTERM and wait; the exit status."""
        self.process.terminate()
        try:
            return self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return -9


def _wait_serving(port: int, timeout: float, health: bool) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                if health:
                    reply = health_pb2_grpc.HealthStub(channel).Check(
                        health_pb2.HealthCheckRequest(service=""), timeout=0.5
                    )
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                else:
                    grpc.channel_ready_future(channel).result(timeout=0.5)
                    return
        except (grpc.RpcError, grpc.FutureTimeoutError):
            time.sleep(0.02)
    raise RuntimeError(f"server on port {port} not serving after {timeout} s")


def spawn(args: list[str], port: int, name: str) -> Server:
    """`python *args` from the project root (a bench server listening on `port`), once serving."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'clients' / 'python'}"}
    process = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env)
    _wait_serving(port, 30, health=False)
    return Server(name, process, port, 0.0)


def start_gateway(upstream: Upstream, workers: int, key_json: str, root: Path = ROOT) -> Server:
    """The gateway against the fake upstream, with a service account whose tokens it serves
    (the checkout at `root`: `bench.perf.compare` runs other source trees)."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{root}:{root / 'clients' / 'python'}",
        "VG_EMULATOR": "off",
        "VG_PROJECT": "bench",
        "VG_LOCATION": "us-central1",
        "VG_VERTEX_BASE_URL": upstream.base_url,
        "VG_CREDENTIALS_JSON": key_json,
        "VG_LOG_LEVEL": "WARNING",
    }
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server",
            "--listen",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
        ],
        env=env,
        cwd=root,
    )
    _wait_serving(port, 30, health=True)
    return Server(f"gateway x{workers}", process, port, time.monotonic() - started)


def start_echo(workers: int, loop: str = "asyncio") -> Server:
    """The bare grpcio echo floor (on the stdlib loop unless `loop` says uvloop)."""
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.perf.echo_server", str(port), str(workers), loop],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    _wait_serving(port, 30, health=False)
    return Server(f"echo x{workers}", process, port, time.monotonic() - started)


# Information beside the target: the ceiling for a Python Chat handler that makes the upstream
# call, so each run shows how much of the floor is left to the gateway's own features.
LEAST_ROW = "least Chat handler x1 (information)"
LEAST_NOTE = (
    "; the wire work alone (`client_in_server` mode `least`, uvloop): the turns to a"
    " generateContent body, one POST with the gateway's transport, text, finish reason, counts"
    " and six trailers back; no checks, routing, retries, metrics or error handling"
)


def start_least(upstream: Upstream) -> Server:
    """The `least` Chat handler (bench/perf/client_in_server.py) against the fake upstream."""
    port = free_port()
    url = f"{upstream.base_url}{MODEL_PATH}:generateContent"
    args = ["-m", "bench.perf.client_in_server", "--loop", "uvloop", "--serve", "least"]
    return spawn([*args, str(port), url], port, "least x1")


@dataclass
class Row:
    """One line of the table."""

    name: str
    rps: float
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    cpu_ms_per_req: float = float("nan")
    peak_rss_mb: float = float("nan")
    note: str = ""


@dataclass
class Settings:
    """How long and how hard to measure."""

    duration: float
    warmup: float
    clients: int
    streams: int
    latency_seconds: float
    stream_concurrency: int
    ttfc_samples: int
    # Saturation rounds of the floor and the gateway's Chat at one worker, alternated, each
    # reported by its median round: on a shared 2-core machine one round of each can differ by
    # 10% from the next, and alternating spreads that drift over both alike.
    rounds: int = 1
    # Seconds of CPU-bound work per process in the machine's parallel-efficiency probe.
    cpu_probe_seconds: float = 1.0
    # Starts of a one-worker gateway timed to SERVING; the target takes their median.
    start_samples: int = 5


FULL = Settings(
    duration=10,
    warmup=2,
    clients=8,
    streams=32,
    latency_seconds=10,
    stream_concurrency=1000,
    ttfc_samples=300,
    rounds=3,
)
SMOKE = Settings(
    duration=1,
    warmup=0.2,
    clients=2,
    streams=4,
    latency_seconds=1,
    stream_concurrency=20,
    ttfc_samples=10,
    rounds=2,
    cpu_probe_seconds=0.05,
    start_samples=2,
)


@dataclass
class Report:
    """Everything measured in one run."""

    settings: Settings
    rows: list[Row] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)


class Measured(Protocol):
    """What saturate needs of a server: its processes, for CPU and RSS."""

    def pids(self) -> list[int]:
        """The process and its workers."""
        ...


def saturate(
    server: Measured | None,
    url: str,
    body: bytes | None,
    s: Settings,
    *,
    grpc_: bool = True,
    h1: bool = False,
    headers: list[str] | None = None,
    clients: int | None = None,
    streams: int | None = None,
) -> tuple[LoadResult, float, float]:
    """Saturation throughput, with CPU ms per request and peak RSS of the server's processes."""
    pids = server.pids() if server else []
    cpu_before = procstat.cpu_seconds(pids)
    result = h2load(
        url,
        body=body,
        grpc=grpc_,
        h1=h1,
        clients=clients or s.clients,
        streams=streams or s.streams,
        duration=s.duration,
        warmup=s.warmup,
        headers=headers,
    )
    cpu = procstat.cpu_seconds(pids) - cpu_before
    # CPU during warm-up is included; spread it over warm-up requests too (same rate).
    per_request = cpu * 1000 / max(1, result.succeeded * (s.duration + s.warmup) / s.duration)
    return result, per_request, procstat.peak_rss_mb(pids)


Run = tuple[LoadResult, float, float]


def median_run(runs: list[Run]) -> Run:
    """The round with the median requests/s (the lower middle one of an even count)."""
    return sorted(runs, key=lambda run: run[0].rps)[(len(runs) - 1) // 2]


def rounds_note(runs: list[Run]) -> str:
    """Every round's requests/s, in the order run, when there was more than one."""
    if len(runs) < 2:
        return ""
    return f"median of {len(runs)} alternating rounds: " + ", ".join(
        f"{run[0].rps:,.0f}" for run in runs
    )


def check_bytes(result: LoadResult, at_least: int, what: str) -> None:
    """Fail the run when replies were smaller than a correct one (errors have no body)."""
    if result.succeeded == 0 or result.bytes_in / result.succeeded < at_least:
        raise RuntimeError(
            f"{what}: {result.bytes_in} bytes for {result.succeeded} replies; a correct reply"
            f" has at least {at_least} (the server answered errors?)"
        )


async def _streams_in_order(port: int, count: int) -> tuple[int, int]:
    """`count` concurrent StreamChat calls; (complete streams, chunks delivered)."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        request = chat_pb2.ChatRequest.FromString(chat_request())

        async def one() -> int:
            seen = 0
            async for message in stub.StreamChat(request, timeout=120):
                for candidate in message.candidates:
                    for part in candidate.message.parts:
                        if part.text:
                            assert part.text == f"chunk {seen:03d} ", (part.text, seen)
                            seen += 1
            return seen

        results = await asyncio.gather(*(one() for _ in range(count)))
    return sum(1 for r in results if r == STREAM_CHUNKS), sum(results)


async def _ttfc_grpcio(port: int, samples: int) -> list[float]:
    """First chunks through the gateway read with Python's grpc.aio client (information)."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        request = chat_pb2.ChatRequest.FromString(chat_request())
        out = []
        for _ in range(samples):
            started = time.perf_counter()
            call = stub.StreamChat(request)
            await call.read()
            out.append((time.perf_counter() - started) * 1000)
            call.cancel()
        return out


async def _ttfc(port: int, upstream: Upstream, samples: int) -> tuple[list[float], list[float]]:
    """First chunks through the gateway and straight from the upstream, by one HTTP/2 client,
    the two alternating (see first_chunk.py)."""
    through = await H2Probe.connect("127.0.0.1", port)
    straight = await H2Probe.connect("127.0.0.1", upstream.h2_port)
    try:
        return await alternate(
            (
                through,
                post_head(STREAM, port, "application/grpc"),
                grpc_frame(chat_request()),
                grpc_message_complete(b"chunk 000"),
            ),
            (
                straight,
                post_head(STREAM_PATH, upstream.h2_port, "application/json"),
                b"{}",
                sse_event_complete(b"chunk 000"),
            ),
            samples,
        )
    finally:
        await through.close()
        await straight.close()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _relative(path: Path) -> str:
    """`path` from the repository root when it lies inside it (a committed table names no
    machine's checkout)."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def compile_bytecode(root: Path = ROOT) -> None:
    """Compile the gateway's bytecode, as its image does when it is built (deploy/Dockerfile),
    so start to SERVING is the image's. Without this, a shell that sets PYTHONDONTWRITEBYTECODE
    (the image sets it too, once its bytecode is compiled) compiles every source at each start:
    0.6-1.6 s against 0.4-0.55."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            "server",
            "emulator",
            "clients/python/vertex_gateway",
        ],
        cwd=root,
        check=True,
    )


def measure(workers: int, s: Settings, with_litellm: bool, work: Path) -> Report:
    """The whole run."""
    report = Report(s)
    compile_bytecode()
    report.facts["python"] = f"{platform.python_version()} ({_relative(Path(sys.executable))})"
    report.facts["parallel_efficiency_start"] = parallel_efficiency(s.cpu_probe_seconds)
    ticks = cpu_ticks()
    upstream = start_upstream(work / "nginx", free_port(), free_port())
    key = service_account(f"{upstream.base_url}/token")
    key_json = json.dumps(key)
    (work / "sa.json").write_text(key_json)
    body = grpc_frame(chat_request())
    direct_url = f"http://127.0.0.1:{upstream.h2_port}{MODEL_PATH}:generateContent"
    try:
        # The upstream alone.
        direct, _, _ = saturate(None, direct_url, b"{}", s, grpc_=False)
        report.rows.append(
            Row(
                "upstream direct (nginx, h2c)",
                direct.rps,
                direct.percentile(50),
                direct.percentile(99),
                note="the fake Vertex alone (its CPU is not counted)",
            )
        )

        counts = sorted({1, workers, 2}) if workers > 1 else [1, 2]
        unary_rps: dict[int, float] = {}
        for n in counts:
            echo = start_echo(n)
            gateway = start_gateway(upstream, n, key_json)
            least = start_least(upstream) if n == 1 else None
            try:
                time.sleep(0.3)
                if n == 1:
                    report.facts["idle_rss_mb"] = procstat.rss_mb(gateway.pids())
                    starts = [gateway.start_seconds, *_more_starts(upstream, key_json, s)]
                    report.facts["start_to_serving_all_s"] = [round(t, 2) for t in starts]
                    report.facts["start_to_serving_s"] = statistics.median(starts)
                floor_runs: list[Run] = []
                chat_runs: list[Run] = []
                least_runs: list[Run] = []
                for _ in range(s.rounds if n == 1 else 1):
                    floor_runs.append(
                        saturate(echo, f"http://127.0.0.1:{echo.port}{CHAT}", body, s)
                    )
                    check_bytes(floor_runs[-1][0], len(body), "echo")
                    chat_runs.append(
                        saturate(gateway, f"http://127.0.0.1:{gateway.port}{CHAT}", body, s)
                    )
                    check_bytes(chat_runs[-1][0], 60, "gateway Chat")
                    if least is not None:
                        least_runs.append(
                            saturate(least, f"http://127.0.0.1:{least.port}{CHAT}", body, s)
                        )
                        check_bytes(least_runs[-1][0], 60, "least Chat handler")
                measured = [
                    (f"floor: grpcio echo x{n}", floor_runs, f"echo_rps_x{n}", ""),
                    (f"gateway Chat x{n}", chat_runs, f"gateway_chat_rps_x{n}", ""),
                ]
                if least_runs:
                    measured.append((LEAST_ROW, least_runs, "least_chat_rps_x1", LEAST_NOTE))
                for name, runs, fact, about in measured:
                    result, cpu, rss = median_run(runs)
                    report.rows.append(
                        Row(
                            name,
                            result.rps,
                            result.percentile(50),
                            result.percentile(99),
                            cpu,
                            rss,
                            note=rounds_note(runs) + about,
                        )
                    )
                    report.facts[fact] = result.rps
                unary_rps[n] = report.facts[f"gateway_chat_rps_x{n}"]
                if n == 1:
                    _uvloop_floor(report, body, s)
                    _single_worker_extras(
                        report, gateway, upstream, body, direct_url, unary_rps[1], s
                    )
            finally:
                echo.stop()
                gateway.stop()
                if least is not None:
                    least.stop()
        report.facts["two_worker_ratio"] = (
            unary_rps[2] / unary_rps[1] if unary_rps.get(1) else float("nan")
        )

        if with_litellm:
            _litellm_rows(report, upstream, work, s)
    finally:
        upstream.stop()
    report.facts["steal_share"] = steal_share(ticks, cpu_ticks())
    report.facts["parallel_efficiency_end"] = parallel_efficiency(s.cpu_probe_seconds)
    _targets(report)
    return report


def _more_starts(upstream: Upstream, key_json: str, s: Settings) -> list[float]:
    """Seconds from spawn to SERVING of further one-worker gateways, each stopped once serving:
    one start is one sample of the host, and a stall of a second or more happens on this one."""
    times = []
    for _ in range(s.start_samples - 1):
        gateway = start_gateway(upstream, 1, key_json)
        times.append(gateway.start_seconds)
        gateway.stop()
    return times


def _uvloop_floor(report: Report, body: bytes, s: Settings) -> None:
    """The same echo on uvloop: not a target's floor (the issue's floor is plain asyncio), shown
    because the gateway serves on uvloop."""
    echo = start_echo(1, "uvloop")
    try:
        result, cpu, rss = saturate(echo, f"http://127.0.0.1:{echo.port}{CHAT}", body, s)
        check_bytes(result, len(body), "echo on uvloop")
        report.rows.append(
            Row(
                "echo x1 on uvloop (information)",
                result.rps,
                result.percentile(50),
                result.percentile(99),
                cpu,
                rss,
                note="not the floor; the gateway's loop",
            )
        )
        report.facts["echo_uvloop_rps_x1"] = result.rps
    finally:
        echo.stop()


def _single_worker_extras(
    report: Report,
    gateway: Server,
    upstream: Upstream,
    body: bytes,
    direct_url: str,
    saturation: float,
    s: Settings,
) -> None:
    # Latency at a fixed moderate rate: 25% of this run's saturation, gateway and upstream alike,
    # in alternating rounds whose requests are pooled, so that a slow spell of the host falls on
    # both sides alike.
    rate = max(10.0, saturation * 0.25)
    script = fixed_rate(rate, s.latency_seconds / s.rounds)
    through: list[float] = []
    straight: list[float] = []
    for _ in range(s.rounds):
        gw = h2load(
            f"http://127.0.0.1:{gateway.port}{CHAT}",
            body=body,
            grpc=True,
            clients=1,
            streams=256,
            timing_script=script,
        )
        check_bytes(gw, 60, "gateway Chat at a fixed rate")
        through += gw.latencies_ms
        up = h2load(direct_url, body=b"{}", clients=1, streams=256, timing_script=script)
        straight += up.latencies_ms
    gw_p99, up_p99 = _pct(through, 99), _pct(straight, 99)
    report.facts.update(
        latency_rate_rps=rate,
        latency_rounds=s.rounds,
        gateway_p50_ms=_pct(through, 50),
        gateway_p99_ms=gw_p99,
        direct_p50_ms=_pct(straight, 50),
        direct_p99_ms=up_p99,
        added_p99_ms=gw_p99 - up_p99,
    )
    # StreamChat throughput (100 chunks per stream).
    result, cpu, rss = saturate(
        gateway, f"http://127.0.0.1:{gateway.port}{STREAM}", body, s, clients=4, streams=16
    )
    check_bytes(result, STREAM_CHUNKS * 20, "gateway StreamChat")
    report.rows.append(
        Row(
            "gateway StreamChat x1 (100 chunks)",
            result.rps,
            result.percentile(50),
            result.percentile(99),
            cpu,
            rss,
            "streams/s",
        )
    )
    # Embed: 250 texts per call, 768 float32 values each in the reply.
    embed_body = grpc_frame(embed_request())
    result, cpu, rss = saturate(
        gateway, f"http://127.0.0.1:{gateway.port}{EMBED}", embed_body, s, clients=4, streams=4
    )
    check_bytes(result, EMBED_TEXTS * EMBED_DIMS * 4, "gateway Embed")
    report.rows.append(
        Row(
            "gateway Embed x1 (250 texts)",
            result.rps,
            result.percentile(50),
            result.percentile(99),
            cpu,
            rss,
            "calls/s",
        )
    )
    # 1,000 concurrent streams, every chunk checked in order.
    complete, chunks = asyncio.run(_streams_in_order(gateway.port, s.stream_concurrency))
    report.facts.update(
        concurrent_streams=s.stream_concurrency,
        concurrent_streams_complete=complete,
        concurrent_chunks=chunks,
        concurrent_peak_rss_mb=procstat.peak_rss_mb(gateway.pids()),
    )
    # Time to first chunk, one stream at a time, gateway and upstream alternating, one client.
    gw_ttfc, up_ttfc = asyncio.run(_ttfc(gateway.port, upstream, s.ttfc_samples))
    grpcio_ttfc = asyncio.run(_ttfc_grpcio(gateway.port, s.ttfc_samples))
    report.facts.update(
        ttfc_gateway_p50_ms=_pct(gw_ttfc, 50),
        ttfc_gateway_p99_ms=_pct(gw_ttfc, 99),
        ttfc_direct_p50_ms=_pct(up_ttfc, 50),
        ttfc_direct_p99_ms=_pct(up_ttfc, 99),
        ttfc_added_p99_ms=_pct(gw_ttfc, 99) - _pct(up_ttfc, 99),
        ttfc_gateway_grpcio_client_p99_ms=_pct(grpcio_ttfc, 99),
    )


def _litellm_rows(report: Report, upstream: Upstream, work: Path, s: Settings) -> None:
    if not litellm_available():
        report.facts["litellm"] = "not installed"
        return
    try:
        peer: LiteLLM = start_litellm(work, upstream.base_url, work / "sa.json")
    except RuntimeError as exc:
        report.facts["litellm_error"] = str(exc)[-800:]
        print(f"LiteLLM could not be measured: {exc}", file=sys.stderr)
        return
    try:
        body = json.dumps(
            {"model": MODEL, "messages": [{"role": "user", "content": "How far is the moon?"}]}
        ).encode()
        headers = ["content-type: application/json", f"authorization: Bearer {peer.master_key}"]
        url = f"http://127.0.0.1:{peer.port}/v1/chat/completions"
        result, cpu, rss = saturate(
            peer.server, url, body, s, grpc_=False, h1=True, headers=headers, clients=32, streams=1
        )
        check_bytes(result, 60, "LiteLLM")
        report.rows.append(
            Row(
                "LiteLLM proxy chat (1 worker)",
                result.rps,
                result.percentile(50),
                result.percentile(99),
                cpu,
                rss,
                f"litellm {peer.version}",
            )
        )
        report.facts["litellm_chat_rps"] = result.rps
        stream_body = json.dumps(
            {
                "model": MODEL,
                "stream": True,
                "messages": [{"role": "user", "content": "How far is the moon?"}],
            }
        ).encode()
        result, cpu, rss = saturate(
            peer.server,
            url,
            stream_body,
            s,
            grpc_=False,
            h1=True,
            headers=headers,
            clients=32,
            streams=1,
        )
        check_bytes(result, STREAM_CHUNKS * 20, "LiteLLM stream")
        report.rows.append(
            Row(
                "LiteLLM proxy stream (100 chunks)",
                result.rps,
                result.percentile(50),
                result.percentile(99),
                cpu,
                rss,
                "streams/s",
            )
        )
        report.facts["litellm_stream_rps"] = result.rps
    finally:
        peer.stop()


def _targets(report: Report) -> None:
    f = report.facts
    gw = f.get("gateway_chat_rps_x1", float("nan"))

    def target(name: str, value: float, limit: float, higher: bool, unit: str) -> None:
        met = value >= limit if higher else value <= limit
        report.targets.append(
            {
                "target": name,
                "value": round(value, 2),
                "limit": limit,
                "unit": unit,
                "met": bool(met),
            }
        )

    target(
        "Chat unary / echo floor (1 worker)",
        gw / f.get("echo_rps_x1", float("nan")),
        0.5,
        True,
        "ratio",
    )
    if "litellm_chat_rps" in f:
        target(
            "Chat unary / LiteLLM proxy (1 worker)", gw / f["litellm_chat_rps"], 15, True, "ratio"
        )
    target(
        "p99 added latency at 25% of saturation",
        f.get("added_p99_ms", float("nan")),
        2.0,
        False,
        "ms",
    )
    target(
        f"StreamChat {f.get('concurrent_streams')} concurrent x {STREAM_CHUNKS} chunks complete, in order",
        f.get("concurrent_streams_complete", 0) / max(1, f.get("concurrent_streams", 1)),
        1.0,
        True,
        "fraction",
    )
    target(
        "server RSS during the concurrent streams",
        f.get("concurrent_peak_rss_mb", float("nan")),
        300,
        False,
        "MB",
    )
    target(
        "time to first chunk added (p99)",
        f.get("ttfc_added_p99_ms", float("nan")),
        5.0,
        False,
        "ms",
    )
    target("idle RSS per worker", f.get("idle_rss_mb", float("nan")), 80, False, "MB")
    target(
        f"start to SERVING (median of {len(f.get('start_to_serving_all_s', []))} starts)",
        f.get("start_to_serving_s", float("nan")),
        2.0,
        False,
        "s",
    )
    target(
        "2 workers / 1 worker, Chat unary",
        f.get("two_worker_ratio", float("nan")),
        1.0,
        True,
        "ratio",
    )


def render(report: Report) -> str:
    """The Markdown table."""
    lines = [
        "| run | req/s | p50 ms | p99 ms | CPU ms/req | peak RSS MB | note |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in report.rows:
        lines.append(
            f"| {r.name} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.cpu_ms_per_req:.3f} | {r.peak_rss_mb:.0f} | {r.note} |"
        )
    lines += ["", "| target | value | limit | met |", "| --- | ---: | ---: | --- |"]
    for t in report.targets:
        lines.append(
            f"| {t['target']} | {t['value']} {t['unit']} | {t['limit']} | {'yes' if t['met'] else 'NO'} |"
        )
    f = report.facts
    lines += [
        "",
        f"Latency at a fixed {f.get('latency_rate_rps', 0):.0f} req/s (25% of the gateway's saturation;"
        f" {f.get('latency_rounds', 1)} alternating rounds, requests pooled), p50/p99 ms:"
        f" gateway {f.get('gateway_p50_ms', 0):.2f}/{f.get('gateway_p99_ms', 0):.2f},"
        f" upstream direct {f.get('direct_p50_ms', 0):.2f}/{f.get('direct_p99_ms', 0):.2f}.",
        f"Time to first chunk p50/p99 ms, one HTTP/2 client for both (`bench/perf/first_chunk.py`):"
        f" gateway {f.get('ttfc_gateway_p50_ms', 0):.2f}/{f.get('ttfc_gateway_p99_ms', 0):.2f},"
        f" upstream direct {f.get('ttfc_direct_p50_ms', 0):.2f}/{f.get('ttfc_direct_p99_ms', 0):.2f};"
        f" through the gateway with Python's grpc.aio client (information: its own thread"
        f" hand-offs included) p99 {f.get('ttfc_gateway_grpcio_client_p99_ms', 0):.2f}."
        f" Start to SERVING {f.get('start_to_serving_s', 0):.2f} s (median of"
        f" {', '.join(f'{t:.2f}' for t in f.get('start_to_serving_all_s', []))});"
        f" idle RSS {f.get('idle_rss_mb', 0):.0f} MB.",
        f"Chat unary x1 against the echo on uvloop (information, not a target):"
        f" {f.get('gateway_chat_rps_x1', 0) / max(1.0, f.get('echo_uvloop_rps_x1', 0)):.2f}."
        f" The least Chat handler (the wire work alone, no features) against the floor:"
        f" {f.get('least_chat_rps_x1', 0) / max(1.0, f.get('echo_rps_x1', 0)):.2f};"
        f" the gateway against it: {f.get('gateway_chat_rps_x1', 0) / max(1.0, f.get('least_chat_rps_x1', 0)):.2f}.",
        f"Machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}); h2load shares"
        " the cores with the servers, so multi-worker figures are bounded by the load generator too."
        " Parallel efficiency (`bench/perf/machine.py`: CPU-bound work on every core at once"
        f" against one alone) {f.get('parallel_efficiency_start', float('nan')):.2f} at the start"
        f" and {f.get('parallel_efficiency_end', float('nan')):.2f} at the end; the host took"
        f" {f.get('steal_share', float('nan')):.0%} of the cores' busy time (steal). Below 1, or"
        " with steal, the cores share the host with other guests: that slows the floor more than"
        " the gateway, and lengthens every latency tail.",
        f"Python: {f.get('python', platform.python_version())} for the harness, the floor and the"
        " gateway (`make bench` makes LiteLLM's venv from the same interpreter; see bench/README.md).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--smoke", action="store_true", help="a few seconds, no LiteLLM, no targets asserted"
    )
    parser.add_argument("--workers", type=int, default=2, help="largest worker count to compare")
    parser.add_argument("--no-litellm", action="store_true", help="leave LiteLLM out")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="where to write perf.json and perf.md"
    )
    args = parser.parse_args(argv)
    settings = SMOKE if args.smoke else FULL
    with tempfile.TemporaryDirectory(prefix="vg-bench-") as tmp:
        report = measure(args.workers, settings, not (args.smoke or args.no_litellm), Path(tmp))
    table = render(report)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "perf.md").write_text(table + "\n")
    (args.out / "perf.json").write_text(
        json.dumps(
            {
                "settings": report.settings.__dict__,
                "rows": [r.__dict__ for r in report.rows],
                "facts": report.facts,
                "targets": report.targets,
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
