"""Where a gateway Chat call's CPU goes, by server thread: the floor, what the contract and one
upstream round trip add to it, and the gateway itself.

At saturation the gateway is bound by its main thread (the event loop, holding the GIL), so
this harness reads each thread's CPU from /proc and reports the main thread's milliseconds per
request next to the process total. The rows, each one worker against the same fake upstream:

* `echo`: the floor of `make bench` (bytes in, bytes out, stdlib loop);
* `echo, uvloop`: the same on uvloop, the gateway's loop;
* `contract echo`: what any server of this API pays before doing anything: the typed
  ChatRequest decoded, a typical ChatResponse encoded, the invocation metadata and deadline
  read and six trailing-metadata entries (request id, usage, cost) sent; on uvloop;
* `echo + 1 POST`: the echo making one upstream POST per call with the gateway's transport
  (`client_in_server.py`), on uvloop;
* `gateway`: `python -m server` (uvloop).

    python -m bench.perf.budget [--reps 2] [--seconds 6] [--perf]

`--perf` also samples each server's main thread with Linux `perf` (Debian: linux-perf) while it
is saturated, and prints the share of its CPU in each binary: the interpreter, the kernel,
grpc's core, protobuf, uvloop, the HTTP parser, ... (kernel time included, which py-spy cannot
see).

`--serve-contract PORT` is the contract echo's server side (started by the harness).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from bench.perf import run as harness
from bench.perf.echo_server import run_on, serve_unary
from bench.perf.load import grpc_frame
from bench.perf.upstream import MODEL, start_upstream

_TICKS = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds per thread id of a process."""
    out: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / _TICKS
    return out


async def _serve_contract(port: int) -> None:
    from vertex_gateway.v1 import chat_pb2, common_pb2

    reply = chat_pb2.ChatResponse(
        id="bench-unary-1",
        model=MODEL,
        model_version=MODEL,
        candidates=[
            chat_pb2.Candidate(
                message=chat_pb2.Message(
                    role=chat_pb2.ROLE_ASSISTANT,
                    parts=[chat_pb2.Part(text="The moon is about 384,400 km from Earth.")],
                ),
                finish_reason=common_pb2.FINISH_REASON_STOP,
                native_finish_reason="STOP",
            )
        ],
    )
    reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.total_tokens = 9, 12, 21
    count = iter(range(1 << 62))

    async def chat(request: Any, context: Any) -> Any:
        context.invocation_metadata()
        context.time_remaining()
        context.set_trailing_metadata(
            (
                ("x-request-id", f"0123456789ab-{next(count):x}"),
                ("vg-usage-input-tokens", "9"),
                ("vg-usage-output-tokens", "12"),
                ("vg-usage-reasoning-tokens", "0"),
                ("vg-usage-cached-input-tokens", "0"),
                ("vg-estimated-cost-usd", "0.00003270"),
            )
        )
        out = chat_pb2.ChatResponse()
        out.CopyFrom(reply)
        return out

    await serve_unary(
        port,
        grpc.unary_unary_rpc_method_handler(
            chat, chat_pb2.ChatRequest.FromString, chat_pb2.ChatResponse.SerializeToString
        ),
    )


_DSO_LINE = re.compile(r"^\s*([0-9.]+)%\s+(\S.*?)\s*$")
# Binaries worth naming; the rest are summed as "other".
_DSO_NAMES = {
    "libpython": "the interpreter",
    "[kernel": "kernel",
    "cygrpc": "grpc (core and Cython)",
    "_message": "protobuf (upb)",
    "libc.so": "libc (malloc, memcpy)",
    "loop.cpython": "uvloop",
    "_asyncio": "asyncio (C)",
    "parser.cpython": "llhttp (httptools)",
    "orjson": "orjson",
}


def dso_shares(report: str) -> list[tuple[str, float]]:
    """`perf report --sort dso` text as (what, percent of samples), named and largest first."""
    shares: dict[str, float] = {}
    for line in report.splitlines():
        match = _DSO_LINE.match(line)
        if match is None:
            continue
        dso = match.group(2)
        name = next((label for key, label in _DSO_NAMES.items() if key in dso), "other")
        shares[name] = shares.get(name, 0.0) + float(match.group(1))
    return sorted(shares.items(), key=lambda item: -item[1])


def _perf_record(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["perf", "record", "-q", "-e", "cpu-clock", "-F", "1999", "-t", str(pid), "-o", str(out),
         "--", "sleep", str(seconds)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _perf_shares(out: Path) -> list[tuple[str, float]]:
    report = subprocess.run(
        ["perf", "report", "-i", str(out), "--sort", "dso", "--stdio"],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    return dso_shares(report)


def saturate_chat(
    server: harness.Server, body: bytes, s: harness.Settings
) -> tuple[harness.LoadResult, float, float]:
    """Saturate the server's Chat method: the load result, the process's CPU ms per request and
    its main thread's (the thread a saturated gateway is bound by)."""
    pid = server.process.pid
    before = thread_cpu(pid)
    result, cpu, _ = harness.saturate(
        server, f"http://127.0.0.1:{server.port}{harness.CHAT}", body, s
    )
    after = thread_cpu(pid)
    harness.check_bytes(result, 10, server.name)
    served = result.succeeded * (s.duration + s.warmup) / s.duration
    main = (after.get(pid, 0.0) - before.get(pid, 0.0)) * 1000 / max(1.0, served)
    return result, cpu, main


def _measure(
    server: harness.Server, body: bytes, s: harness.Settings, perf_dir: Path | None = None
) -> str:
    pid = server.process.pid
    samples = None if perf_dir is None else perf_dir / f"{pid}.data"
    recorder = None if samples is None else _perf_record(pid, s.warmup + s.duration, samples)
    result, cpu, main = saturate_chat(server, body, s)
    row = f"| {server.name} | {result.rps:,.0f} | {cpu:.3f} | {main:.3f} |"
    if recorder is not None and samples is not None:
        recorder.wait()
        shares = _perf_shares(samples)
        row += " " + ", ".join(f"{name} {share:.0f}%" for name, share in shares if share >= 0.5)
        row += " |"
    return row


def main(argv: list[str] | None = None) -> int:
    """Run every row `--reps` times, interleaved, and print one table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve-contract", type=int, metavar="PORT")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--perf", action="store_true", help="sample each main thread with perf")
    args = parser.parse_args(argv)
    if args.perf and shutil.which("perf") is None:
        parser.error("--perf needs Linux perf on PATH (Debian: apt-get install linux-perf)")
    if args.serve_contract:
        run_on("uvloop", _serve_contract(args.serve_contract))
        return 0
    s = harness.Settings(args.seconds, 1, 8, 32, 1, 1, 1)
    body = grpc_frame(harness.chat_request())
    with tempfile.TemporaryDirectory() as tmp:
        upstream = start_upstream(Path(tmp), harness.free_port(), harness.free_port())
        url = (
            f"{upstream.base_url}/v1/projects/bench/locations/us-central1/publishers/google/"
            f"models/{MODEL}:generateContent"
        )
        key = json.dumps(harness.service_account(f"{upstream.base_url}/token"))
        perf_dir = Path(tmp) if args.perf else None
        extra = " main thread by binary (perf) |" if args.perf else ""
        print("| server (1 worker) | req/s | CPU ms/req | main thread ms/req |" + extra)
        print("| --- | ---: | ---: | ---: |" + (" --- |" if args.perf else ""), flush=True)
        try:
            for _ in range(args.reps):
                for row in ("echo", "echo, uvloop", "contract echo", "echo + 1 POST", "gateway"):
                    port = harness.free_port()
                    if row == "echo":
                        server = harness.spawn(
                            ["-m", "bench.perf.echo_server", str(port)], port, row
                        )
                    elif row == "echo, uvloop":
                        server = harness.spawn(
                            ["-m", "bench.perf.echo_server", str(port), "1", "uvloop"], port, row
                        )
                    elif row == "contract echo":
                        server = harness.spawn(
                            ["-m", "bench.perf.budget", "--serve-contract", str(port)], port, row
                        )
                    elif row == "echo + 1 POST":
                        server = harness.spawn(
                            ["-m", "bench.perf.client_in_server", "--serve", "http1", str(port),
                             url, "--loop", "uvloop"],
                            port, row,
                        )  # fmt: skip
                    else:
                        server = harness.start_gateway(upstream, 1, key)
                    try:
                        print(_measure(server, body, s, perf_dir), flush=True)
                    finally:
                        server.stop()
        finally:
            upstream.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
