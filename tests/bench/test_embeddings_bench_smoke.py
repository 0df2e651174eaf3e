"""The embedding benchmark runs end to end on a small input (no figure is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_embedding_bench_smoke(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'clients' / 'python'}"}
    run = subprocess.run(
        [sys.executable, "-m", "bench.embeddings.run", "--texts", "300", "--single-texts", "12",
         "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    report = json.loads((tmp_path / "embeddings.json").read_text())
    paths = {(r["model"], r["path"]) for r in report["rows"]}
    for model in ("text-embedding-005", "gemini-embedding-001", "gemini-embedding-2"):
        assert {(model, "gateway"), (model, "emulator direct")} <= paths
    gateway_calls = {
        r["model"]: r["vertex_calls"] for r in report["rows"] if r["path"] == "gateway"
    }
    assert gateway_calls["gemini-embedding-001"] == 12 and gateway_calls["text-embedding-005"] >= 2
