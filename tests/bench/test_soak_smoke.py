"""The soak harness runs end to end for a few seconds (its checks are reported, not asserted:
ten minutes are `make soak`'s job)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_soak_smoke(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'clients' / 'python'}"}
    run = subprocess.run(
        [sys.executable, "-m", "bench.soak.run", "--minutes", "0.1", "--concurrency", "3", "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    report = json.loads((tmp_path / "soak.json").read_text())
    assert sum(report["requests_ok"].values()) > 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert set(report["checks"]) >= {"rss growth under 10%", "no unexplained error"}
    assert report["exit_code"] == 0 and report["samples"]
