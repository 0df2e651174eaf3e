"""aiohttp vs httpx as the gateway's upstream HTTP client: ``.venv/bin/python bench/http_client/run.py``.

Starts the fake upstream (upstream.py: plain, TLS, and paced like a model) pinned to
core 1, runs every client measurement (client.py) in its own process pinned to core 0, and
writes bench/results/http_client.{json,md}. See README.md beside this file.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results"
CLIENT_CORE, UPSTREAM_CORE = 0, 1

# The variants compared (flags are documented in client.py).
TUNED = {"aiohttp": "aiohttp:bytes,raw,split", "httpx": "httpx:sniffio,bytes,raw,split"}
DEFAULTS = {"aiohttp": "aiohttp", "httpx": "httpx"}
ABLATION = [  # (variant, mode): one knob at a time, to compare with the defaults
    *((f"aiohttp:{f}", "unary") for f in ("bytes", "raw", "noac", "nott", "rfs")),
    ("aiohttp:split", "stream"),
    ("httpx:sniffio", "unary"),
    ("httpx:split", "stream"),
    ("httpx:deflim", "unary"),
    ("httpx:deflim", "stream"),
]


@dataclass(frozen=True)
class Case:
    section: str
    label: str
    variant: str
    mode: str  # unary | stream
    upstream: str = "http"  # http | https | paced (50 ms unary latency, SSE event every 1 ms)
    concurrency: int = 64
    reps: int = 3


def plan(n: int, reps: int) -> list[Case]:
    cases = []
    for mode in ("unary", "stream"):
        for lib in ("aiohttp", "httpx"):
            cases.append(Case("main", f"{lib} tuned", TUNED[lib], mode, concurrency=n, reps=reps))
            cases.append(
                Case("main", f"{lib} defaults", DEFAULTS[lib], mode, concurrency=n, reps=reps)
            )
            tls = Case("tls", f"{lib} tuned", TUNED[lib], mode, "https", n, reps)
            cases.append(tls)
    for lib in ("aiohttp", "httpx"):
        for mode, c in (("unary", 8), ("stream", 8), ("unary", 256)):
            cases.append(Case("concurrency", f"{lib} tuned", TUNED[lib], mode, "http", c, 1))
        cases.append(Case("paced", f"{lib} tuned", TUNED[lib], "unary", "paced", 256, 1))
        cases.append(Case("paced", f"{lib} tuned", TUNED[lib], "stream", "paced", 64, 1))
    for variant, mode in ABLATION:
        cases.append(Case("ablation", variant, variant, mode, concurrency=n, reps=1))
    return cases


def make_cert(folder: Path) -> tuple[Path, Path]:
    """A throw-away self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def cpu_model() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.machine()
    names = [line.split(":", 1)[1].strip() for line in info.splitlines() if "model name" in line]
    return names[0] if names else platform.machine()


def pinned(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") else []


def start_upstream(extra: list[str]) -> tuple[subprocess.Popen[str], int]:
    cmd = [*pinned(UPSTREAM_CORE), sys.executable, str(HERE / "upstream.py"), *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if line[:1] != ["PORT"]:
        proc.kill()
        raise RuntimeError(f"upstream did not start: {cmd}")
    return proc, int(line[1])


def run_client(case: Case, port: int, cafile: Path | None, seconds: float) -> dict[str, Any]:
    cmd = [
        *pinned(CLIENT_CORE), sys.executable, str(HERE / "client.py"),
        "--variant", case.variant, "--mode", case.mode, "--port", str(port),
        "--concurrency", str(case.concurrency), "--seconds", str(seconds),
        "--requests", str(100_000 if case.mode == "unary" else 20_000),
    ]  # fmt: skip
    if cafile:
        cmd += ["--cafile", str(cafile)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=4 * seconds + 60)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


METRICS = ("rps", "events_per_s", "cpu_s_per_1k", "p50_ms", "p99_ms")


def summarise(case: Case, runs: list[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = asdict(case)
    for metric in METRICS:
        values = [r[metric] for r in runs if r[metric] is not None]
        row[metric] = round(statistics.median(values), 2) if values else None
    row["new_connections_max"] = max(r["new_connections"] for r in runs)
    row["upstream_cpu_max"] = max(r["upstream_cpu_utilisation"] for r in runs)
    row["client_cpu_min"] = min(r["cpu_utilisation"] for r in runs)
    row["rps_all"] = [r["rps"] for r in runs]
    return row


VERDICTS = (  # name, section, variant kind, N (None: --concurrency)
    ("tuned", "main", "tuned", None),
    ("defaults", "main", "defaults", None),
    ("tls", "tls", "tuned", None),
    ("n8", "concurrency", "tuned", 8),
)


def ratio(rows: list[dict[str, Any]], section: str, mode: str, kind: str, n: int) -> float:
    """aiohttp's requests/s divided by httpx's for one row pair."""
    rps = {
        r["label"]: float(r["rps"])
        for r in rows
        if (r["section"], r["mode"], r["concurrency"]) == (section, mode, n)
    }
    return round(rps[f"aiohttp {kind}"] / rps[f"httpx {kind}"], 1)


def write_markdown(out: TextIO, meta: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    out.write("# aiohttp vs httpx as the upstream client (bench/http_client)\n\n")
    out.write(
        f"Generated by `.venv/bin/python bench/http_client/run.py` on {meta['date']}: "
        f"Python {meta['python']}, aiohttp {meta['aiohttp']}, httpx {meta['httpx']} "
        f"(httpcore {meta['httpcore']}), {meta['cpu']}. Client pinned to core {CLIENT_CORE}, "
        f"upstream to core {UPSTREAM_CORE}; {meta['seconds']} s measured per run after a "
        "warm-up; medians of the repetitions shown (each metric's own median; req/s range in brackets).\n\n"
    )
    titles = {
        "main": "Main figures (plain HTTP/1.1, keep-alive)",
        "tls": "Over TLS (HTTPS, as to Vertex)",
        "concurrency": "Other concurrencies N (1 repetition)",
        "paced": "Paced upstream: unary after 50 ms, SSE events 1 ms apart (1 repetition)",
        "ablation": "aiohttp / httpx knobs one at a time (1 repetition; compare with defaults)",
    }
    head = (
        "| client | mode | upstream | N | reps | req/s | events/s | CPU-s / 1k req "
        "| p50 ms | p99 ms | new conns | upstream CPU |\n|" + "---|" * 12 + "\n"
    )
    for section, title in titles.items():
        out.write(f"## {title}\n\n{head}")
        for r in (r for r in rows if r["section"] == section):
            eps = f"{r['events_per_s']:,.0f}" if r["events_per_s"] else "-"
            rps = f"{r['rps']:,.0f}"
            if r["reps"] > 1:
                rps += f" ({min(r['rps_all']):,.0f}-{max(r['rps_all']):,.0f})"
            out.write(
                f"| {r['label']} | {r['mode']} | {r['upstream']} | {r['concurrency']} "
                f"| {r['reps']} | {rps} | {eps} | {r['cpu_s_per_1k']:.3f} "
                f"| {r['p50_ms']} | {r['p99_ms']} | {r['new_connections_max']} "
                f"| {r['upstream_cpu_max']:.0%} |\n"
            )
        out.write("\n")
    v = meta["verdict"]
    out.write(
        "## Verdict\n\n"
        f"aiohttp, tuned vs tuned: {v['unary_tuned']}x the unary requests/s and "
        f"{v['stream_tuned']}x the streaming requests/s of httpx at N={meta['concurrency']} "
        f"(TLS: {v['unary_tls']}x / {v['stream_tls']}x; defaults vs defaults: "
        f"{v['unary_defaults']}x / {v['stream_defaults']}x; at N=8, httpx's best case: "
        f"{v['unary_n8']}x / {v['stream_n8']}x). Tuned aiohttp settings: "
        f"`{TUNED['aiohttp']}` (see client.py and README.md).\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.5, help="measured time per run")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {UPSTREAM_CORE})  # keep this orchestrator off the client's core
    started = time.monotonic()
    cases = plan(args.concurrency, args.reps)
    runs: dict[Case, list[dict[str, Any]]] = {c: [] for c in cases}
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = make_cert(Path(tmp))
        upstreams = {
            "http": start_upstream([]),
            "https": start_upstream(["--cert", str(cert), "--key", str(key)]),
            "paced": start_upstream(["--delay-ms", "50", "--event-gap-ms", "1"]),
        }
        try:
            for rep in range(args.reps):  # interleave the repetitions to spread out drift
                for case in (c for c in cases if rep < c.reps):
                    _, port = upstreams[case.upstream]
                    ca = cert if case.upstream == "https" else None
                    result = run_client(case, port, ca, args.seconds)
                    runs[case].append(result)
                    print(f"{case.section:11} {case.variant:32} {case.mode:6} {case.upstream:9} "
                          f"N={case.concurrency:<3} {result['rps']:>8} req/s "
                          f"{result['cpu_s_per_1k']:.3f} CPU-s/1k", flush=True)  # fmt: skip
        finally:
            for proc, _ in upstreams.values():
                proc.terminate()
                proc.wait(10)
    rows = [summarise(c, runs[c]) for c in cases]
    meta: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "httpx": httpx.__version__,
        "httpcore": __import__("httpcore").__version__,
        "cpu": f"{cpu_model()} x{os.cpu_count()}",
        "seconds": args.seconds,
        "concurrency": args.concurrency,
        "pinned": bool(pinned(0)),
        "elapsed_s": round(time.monotonic() - started, 1),
        "verdict": {
            f"{mode}_{name}": ratio(rows, section, mode, kind, n or args.concurrency)
            for mode in ("unary", "stream")
            for name, section, kind, n in VERDICTS
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    raw = [{**asdict(c), **r} for c in cases for r in runs[c]]
    payload = {"meta": meta, "tuned": TUNED, "summary": rows, "runs": raw}
    (RESULTS / "http_client.json").write_text(json.dumps(payload, indent=1) + "\n")
    with (RESULTS / "http_client.md").open("w") as out:
        write_markdown(out, meta, rows)
    print(json.dumps(meta["verdict"]), f"in {meta['elapsed_s']} s")


if __name__ == "__main__":
    main()
