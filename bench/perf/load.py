"""h2load runs and what they measured: throughput at saturation, latency at a fixed rate.

gRPC requests are pre-framed (a 5-byte length prefix plus the serialized message) and sent as
HTTP/2 POSTs with `content-type: application/grpc`. h2load sees only HTTP status and bytes, so
each run also checks the bytes received per request against what a correct reply weighs: a
gRPC error (HTTP 200 with an error trailer) carries no body and would show up there.
h2load 1.52 has no request-rate option, so a fixed rate comes from a timing script (one line
per request, its offset in milliseconds), which is open-loop: requests go out on schedule
whether or not earlier ones have finished.
"""

from __future__ import annotations

import re
import statistics
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

GRPC_HEADERS = ["-H", "content-type: application/grpc", "-H", "te: trailers"]


def grpc_frame(message: bytes) -> bytes:
    """The length-prefixed gRPC message frame."""
    return b"\x00" + struct.pack(">I", len(message)) + message


@dataclass
class LoadResult:
    """One h2load run."""

    requests: int
    succeeded: int
    seconds: float
    bytes_in: int
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.succeeded / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Latency percentile in ms (q in 0..100)."""
        if not self.latencies_ms:
            return float("nan")
        values = sorted(self.latencies_ms)
        k = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
        return values[k]

    @property
    def mean_ms(self) -> float:
        """Mean latency."""
        return statistics.fmean(self.latencies_ms) if self.latencies_ms else float("nan")


def _parse(output: str, log_file: Path) -> LoadResult:
    done = re.search(r"finished in ([\d.]+)(ms|s),", output)
    reqs = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded", output)
    traffic = re.search(r"traffic: .*?\((\d+)\) total", output)
    if not (done and reqs and traffic):
        raise RuntimeError(f"unexpected h2load output:\n{output}")
    seconds = float(done.group(1)) / (1000 if done.group(2) == "ms" else 1)
    latencies = []
    for line in log_file.read_text().splitlines():
        fields = line.split("\t")
        if (len(fields) >= 3 and fields[1] in ("200", "2xx")) or (
            len(fields) >= 3 and fields[1].isdigit() and 200 <= int(fields[1]) < 300
        ):
            latencies.append(int(fields[2]) / 1000.0)
    return LoadResult(
        int(reqs.group(1)), int(reqs.group(2)), seconds, int(traffic.group(1)), latencies
    )


def h2load(
    url: str,
    *,
    body: bytes | None = None,
    grpc: bool = False,
    h1: bool = False,
    clients: int = 1,
    streams: int = 1,
    requests: int | None = None,
    duration: float | None = None,
    warmup: float | None = None,
    threads: int = 1,
    timing_script: list[float] | None = None,
    headers: list[str] | None = None,
) -> LoadResult:
    """Run h2load and parse what it measured (latencies from its per-request log)."""
    with tempfile.TemporaryDirectory() as tmp:
        log_file = Path(tmp) / "log.tsv"
        args = [
            "h2load",
            "-c",
            str(clients),
            "-m",
            str(streams),
            "-t",
            str(threads),
            "--log-file",
            str(log_file),
        ]
        if h1:
            args.append("--h1")
        if body is not None:
            data = Path(tmp) / "body.bin"
            data.write_bytes(body)
            args += ["-d", str(data)]
        if grpc:
            args += GRPC_HEADERS
        for header in headers or []:
            args += ["-H", header]
        if timing_script is not None:
            script = Path(tmp) / "timing.tsv"
            script.write_text("".join(f"{t:.3f}\t{url}\n" for t in timing_script))
            args += ["--timing-script-file", str(script)]
        else:
            if duration is not None:
                args += ["-D", f"{int(duration * 1000)}ms"]
                if warmup:
                    args += ["--warm-up-time", f"{int(warmup * 1000)}ms"]
            else:
                args += ["-n", str(requests or 1000)]
            args.append(url)
        run = subprocess.run(args, capture_output=True, text=True, timeout=600)
        if run.returncode != 0:
            raise RuntimeError(f"h2load failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
        return _parse(run.stdout, log_file)


def fixed_rate(rate: float, seconds: float) -> list[float]:
    """Offsets (ms) for `rate` requests per second during `seconds`."""
    count = max(1, int(rate * seconds))
    return [i * 1000.0 / rate for i in range(count)]
