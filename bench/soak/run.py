"""Soak: a long mixed load on one gateway process with faults injected, watching for leaks.

Chat, StreamChat and Embed run concurrently against the Vertex emulator while, every few
seconds, a fault is armed (503, 429, a stream cut mid-way, a slow reply). The gateway's RSS,
open file descriptors and threads are sampled throughout. Pass criteria (printed, and written
to bench/results/soak.{md,json}): RSS growth after warm-up under 10%, no growth in descriptors
or threads, and no error other than those the injected faults explain.

    python -m bench.soak.run [--minutes 10] [--concurrency 16] [--out bench/results]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from vertex_gateway.v1 import chat_pb2, chat_pb2_grpc, embedding_pb2, embedding_pb2_grpc

from emulator.admin import EmulatorAdmin
from emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parents[2]
FAULTS = ("503", "429", "disconnect-mid-stream", "slow:300", "500")
# Codes an injected fault can explain (a retried 503 usually succeeds; what fails shows as these).
EXPLAINED = {"UNAVAILABLE", "RESOURCE_EXHAUSTED", "INTERNAL", "DEADLINE_EXCEEDED"}


@dataclass
class Sample:
    """One reading of the gateway process."""

    seconds: float
    rss_mb: float
    fds: int
    threads: int


@dataclass
class Tally:
    """What the load saw."""

    ok: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    faults_armed: int = 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sample(pid: int, start: float) -> Sample:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return Sample(
        round(time.monotonic() - start, 1),
        int(fields["VmRSS"].split()[0]) / 1024,
        len(os.listdir(f"/proc/{pid}/fd")),
        int(fields["Threads"].strip()),
    )


def _request(i: int) -> chat_pb2.ChatRequest:
    text = f"Soak request {i}: summarize the benefits of caching in one sentence."
    return chat_pb2.ChatRequest(
        model="gemini-2.5-flash",
        messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text=text)])],
    )


async def _worker(kind: str, channel: grpc.aio.Channel, stop: float, tally: Tally) -> None:
    chat = chat_pb2_grpc.ChatServiceStub(channel)
    embed = embedding_pb2_grpc.EmbeddingServiceStub(channel)
    i = 0
    while time.monotonic() < stop:
        i += 1
        try:
            if kind == "chat":
                await chat.Chat(_request(i), timeout=20)
            elif kind == "stream":
                async for _ in chat.StreamChat(_request(i), timeout=20):
                    pass
            else:
                inputs = [embedding_pb2.EmbedInput(text=f"doc {i} {j}") for j in range(20)]
                await embed.Embed(
                    embedding_pb2.EmbedRequest(model="text-embedding-005", inputs=inputs),
                    timeout=20,
                )
            tally.ok[kind] += 1
        except grpc.aio.AioRpcError as err:
            tally.errors[f"{kind}:{err.code().name}"] += 1


async def _faults(admin: EmulatorAdmin, stop: float, every: float, tally: Tally) -> None:
    n = 0
    while time.monotonic() < stop:
        await asyncio.sleep(every)
        fault = FAULTS[n % len(FAULTS)]
        path = ":streamGenerateContent" if fault == "disconnect-mid-stream" else None
        await asyncio.to_thread(admin.arm_fault, fault, 2, path)
        tally.faults_armed += 2
        n += 1


async def _watch(pid: int, start: float, stop: float, samples: list[Sample]) -> None:
    while time.monotonic() < stop:
        samples.append(_sample(pid, start))
        await asyncio.sleep(5)
    samples.append(_sample(pid, start))


async def soak(minutes: float, concurrency: int) -> dict[str, Any]:
    """Run the load and return the figures."""
    with EmulatorProcess() as emulator:
        admin = EmulatorAdmin(emulator.base_url)
        key = admin.create_service_account()
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "VG_"))}
        env.update(
            PYTHONPATH=f"{ROOT}:{ROOT / 'clients' / 'python'}", VG_LISTEN=f"127.0.0.1:{port}",
            VG_EMULATOR="off", VG_VERTEX_BASE_URL=emulator.base_url, VG_PROJECT=key["project_id"],
            VG_CREDENTIALS="service_account", VG_CREDENTIALS_JSON=json.dumps(key), VG_LOG_LEVEL="ERROR",
            VG_MODEL_DISCOVERY="false",
        )  # fmt: skip
        process = subprocess.Popen([sys.executable, "-m", "server"], env=env, cwd=ROOT)  # noqa: ASYNC220
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                for _ in range(300):
                    try:
                        await health_pb2_grpc.HealthStub(channel).Check(
                            health_pb2.HealthCheckRequest(), timeout=1
                        )
                        break
                    except grpc.aio.AioRpcError:
                        await asyncio.sleep(0.1)
                start = time.monotonic()
                stop = start + minutes * 60
                tally = Tally()
                samples: list[Sample] = []
                kinds = ["chat", "stream", "embed"]
                workers = [_worker(kinds[i % 3], channel, stop, tally) for i in range(concurrency)]
                await asyncio.gather(
                    *workers,
                    _faults(admin, stop, 3.0, tally),
                    _watch(process.pid, start, stop, samples),
                )
                health = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=2
                )
        finally:
            process.terminate()
            exit_code = process.wait(timeout=60)
    warm = [s for s in samples if s.seconds >= min(60.0, minutes * 60 / 5)] or samples
    rss_growth = (warm[-1].rss_mb - warm[0].rss_mb) / warm[0].rss_mb
    unexplained = {k: v for k, v in tally.errors.items() if k.split(":")[1] not in EXPLAINED}
    explained = sum(v for k, v in tally.errors.items() if k.split(":")[1] in EXPLAINED)
    return {
        "minutes": minutes,
        "concurrency": concurrency,
        "requests_ok": dict(tally.ok),
        "errors": dict(tally.errors),
        "faults_armed": tally.faults_armed,
        "rss_mb_after_warmup": round(warm[0].rss_mb, 1),
        "rss_mb_end": round(warm[-1].rss_mb, 1),
        "rss_mb_peak": round(max(s.rss_mb for s in samples), 1),
        "rss_growth": round(rss_growth, 4),
        "fds_start_end": [warm[0].fds, warm[-1].fds],
        "threads_start_end": [warm[0].threads, warm[-1].threads],
        "healthy_at_end": health.status == health_pb2.HealthCheckResponse.SERVING,
        "exit_code": exit_code,
        "checks": {
            "rss growth under 10%": rss_growth < 0.10,
            "no descriptor growth": warm[-1].fds <= warm[0].fds + 2,
            "no thread growth": warm[-1].threads <= warm[0].threads,
            "no unexplained error": not unexplained and explained <= tally.faults_armed,
            "healthy and clean exit": health.status == health_pb2.HealthCheckResponse.SERVING
            and exit_code == 0,
        },
        "samples": [s.__dict__ for s in samples],
    }


def render(report: dict[str, Any]) -> str:
    """Markdown figures."""
    ok = sum(report["requests_ok"].values())
    lines = [
        f"{report['minutes']} minutes, {report['concurrency']} concurrent callers (chat, streams,"
        f" embeddings), {report['faults_armed']} faults injected.",
        "",
        "| figure | value |",
        "| --- | ---: |",
        f"| requests answered | {ok:,} ({', '.join(f'{k} {v:,}' for k, v in report['requests_ok'].items())}) |",
        f"| errors (all from injected faults) | {sum(report['errors'].values()):,} {report['errors']} |",
        f"| RSS after warm-up / end / peak (MB) | {report['rss_mb_after_warmup']} / {report['rss_mb_end']} / {report['rss_mb_peak']} |",
        f"| RSS growth after warm-up | {report['rss_growth']:.1%} |",
        f"| open descriptors start / end | {report['fds_start_end'][0]} / {report['fds_start_end'][1]} |",
        f"| threads start / end | {report['threads_start_end'][0]} / {report['threads_start_end'][1]} |",
        f"| healthy at the end, exit code | {report['healthy_at_end']}, {report['exit_code']} |",
        "",
        "| check | met |",
        "| --- | --- |",
        *(f"| {name} | {'yes' if met else 'NO'} |" for name, met in report["checks"].items()),
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the soak; exit 1 when a check fails."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    report = asyncio.run(soak(args.minutes, args.concurrency))
    text = render(report)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.md").write_text("# Soak (bench/soak, `make soak`)\n\n" + text)
    (args.out / "soak.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(report["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
