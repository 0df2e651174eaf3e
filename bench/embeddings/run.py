"""Embedding throughput for large inputs: through the gateway, and the emulator called directly.

Both paths end at the same emulator process, which computes the vectors (deterministic,
text-dependent, unit length) and is the slow part; the ratio shows what the gateway adds
(splitting to each model's limits, concurrent calls, JSON to protobuf). For each model:

* direct: the bodies the gateway would send (250 texts per `:predict` for text-embedding-005,
  one per call for gemini-embedding-001 and `:embedContent` for gemini-embedding-2), posted
  with aiohttp, 8 at a time (the gateway's default fan-out);
* gateway: one `Embed` call carrying all the texts, over gRPC, the gateway splitting it.

    python -m bench.embeddings.run [--texts 2000] [--single-texts 400] [--out bench/results]

Writes `embeddings.md` and `embeddings.json` to `--out`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import grpc.aio
from google.auth.transport.requests import Request
from google.oauth2 import service_account
from vertex_gateway.v1 import embedding_pb2, embedding_pb2_grpc

from bench.perf.run import free_port
from emulator.admin import EmulatorAdmin
from emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parents[2]
FAN_OUT = 8
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


@dataclass
class Row:
    """One measurement."""

    model: str
    path: str
    texts: int
    vertex_calls: int
    seconds: float

    @property
    def texts_per_second(self) -> float:
        """Throughput."""
        return self.texts / self.seconds if self.seconds else float("nan")


def corpus(n: int) -> list[str]:
    """Support-article-like texts of varied length."""
    words = [
        "router",
        "reset",
        "firmware",
        "wifi",
        "password",
        "cable",
        "modem",
        "light",
        "port",
        "signal",
    ]
    return [" ".join(words[(i + k) % len(words)] for k in range(8 + i % 24)) for i in range(n)]


def _predict_body(texts: list[str]) -> dict[str, Any]:
    return {"instances": [{"content": t, "task_type": "RETRIEVAL_DOCUMENT"} for t in texts]}


def _embed_content_body(text: str) -> dict[str, Any]:
    return {
        "content": {"parts": [{"text": text}]},
        "embedContentConfig": {"taskType": "RETRIEVAL_DOCUMENT"},
    }


async def direct(base: str, token: str, model: str, texts: list[str], per_call: int) -> Row:
    """The bodies the gateway would send, posted straight to the emulator."""
    prefix = f"{base}/v1/projects/bench/locations/us-central1/publishers/google/models/{model}"
    if model == "gemini-embedding-2":
        url, bodies = f"{prefix}:embedContent", [_embed_content_body(t) for t in texts]
    else:
        url = f"{prefix}:predict"
        bodies = [_predict_body(texts[i : i + per_call]) for i in range(0, len(texts), per_call)]
    gate = asyncio.Semaphore(FAN_OUT)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session:

        async def one(body: dict[str, Any]) -> None:
            async with gate, session.post(url, json=body, headers=headers) as resp:
                payload = await resp.json()
                if resp.status != 200:
                    raise RuntimeError(f"{model}: {resp.status} {payload}")

        started = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        seconds = time.perf_counter() - started
    return Row(model, "emulator direct", len(texts), len(bodies), seconds)


async def through_gateway(port: int, model: str, texts: list[str], admin: EmulatorAdmin) -> Row:
    """One Embed call with every text."""
    request = embedding_pb2.EmbedRequest(
        model=model,
        inputs=[embedding_pb2.EmbedInput(text=t) for t in texts],
        task_type=embedding_pb2.EMBEDDING_TASK_TYPE_RETRIEVAL_DOCUMENT,
    )
    admin.clear_requests()
    async with grpc.aio.insecure_channel(
        f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", 256 * 1024 * 1024)]
    ) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        started = time.perf_counter()
        reply = await stub.Embed(request, timeout=600)
        seconds = time.perf_counter() - started
    if len(reply.embeddings) != len(texts):
        raise RuntimeError(f"{model}: {len(reply.embeddings)} vectors for {len(texts)} texts")
    calls = len([r for r in admin.requests() if r["path"].endswith((":predict", ":embedContent"))])
    return Row(model, "gateway", len(texts), calls, seconds)


def _start_gateway(
    emulator: EmulatorProcess, key: dict[str, Any]
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}:{ROOT / 'clients' / 'python'}",
        "VG_EMULATOR": "off",
        "VG_LISTEN": f"127.0.0.1:{port}",
        "VG_VERTEX_BASE_URL": emulator.base_url,
        "VG_PROJECT": "bench",
        "VG_CREDENTIALS_JSON": json.dumps(key),
        "VG_LOG_LEVEL": "WARNING",
        "VG_MODEL_DISCOVERY": "false",
    }
    process = subprocess.Popen([sys.executable, "-m", "server"], env=env, cwd=ROOT)
    from bench.perf.run import _wait_serving

    _wait_serving(port, 30, health=True)
    return process, port


def render(rows: list[Row], facts: dict[str, Any]) -> str:
    """The Markdown report."""
    lines = [
        "| model | path | texts | Vertex calls | seconds | texts/s |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.model} | {r.path} | {r.texts:,} | {r.vertex_calls:,} | {r.seconds:.2f}"
            f" | {r.texts_per_second:,.0f} |"
        )
    lines.append("")
    for model, ratio in facts["gateway_over_direct"].items():
        lines.append(f"- {model}: the gateway reaches {ratio:.0%} of the direct throughput.")
    lines.append(
        f"\nMachine: {facts['cores']} cores; the emulator, the gateway and the client share them."
    )
    return "\n".join(lines) + "\n"


async def measure(texts: int, single_texts: int) -> tuple[list[Row], dict[str, Any]]:
    """Every row, each model through both paths."""
    rows: list[Row] = []
    with EmulatorProcess() as emulator:
        admin = EmulatorAdmin(emulator.base_url)
        key = admin.create_service_account("bench")
        creds = service_account.Credentials.from_service_account_info(key, scopes=SCOPES)
        await asyncio.to_thread(creds.refresh, Request())
        gateway, port = _start_gateway(emulator, key)
        try:
            for model, count, per_call in (
                ("text-embedding-005", texts, 250),
                ("gemini-embedding-001", single_texts, 1),
                ("gemini-embedding-2", single_texts, 1),
            ):
                sample = corpus(count)
                await through_gateway(port, model, sample[:per_call], admin)  # warm-up
                rows.append(await direct(emulator.base_url, creds.token, model, sample, per_call))
                rows.append(await through_gateway(port, model, sample, admin))
        finally:
            gateway.terminate()
            gateway.wait(timeout=30)
            admin.close()
    ratios = {}
    for model in dict.fromkeys(r.model for r in rows):
        d = next(r for r in rows if r.model == model and r.path == "emulator direct")
        g = next(r for r in rows if r.model == model and r.path == "gateway")
        ratios[model] = g.texts_per_second / d.texts_per_second
    facts = {"gateway_over_direct": ratios, "cores": os.cpu_count(), "machine": platform.machine()}
    return rows, facts


def main(argv: list[str] | None = None) -> int:
    """Run, print and write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=2000, help="texts for text-embedding-005")
    parser.add_argument(
        "--single-texts", type=int, default=400, help="texts for the one-per-call models"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    rows, facts = asyncio.run(measure(args.texts, args.single_texts))
    report = render(rows, facts)
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "embeddings.md").write_text(
        "# Embedding throughput (bench/embeddings)\n\n" + report
    )
    data = {"rows": [{**asdict(r), "texts_per_second": r.texts_per_second} for r in rows], **facts}
    (args.out / "embeddings.json").write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
