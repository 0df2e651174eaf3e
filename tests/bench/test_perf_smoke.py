"""The benchmark harness runs end to end for a moment (no figure is asserted: speed targets are
shown by `make bench`, never by timed assertions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run_module(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'clients' / 'python'}"}
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_bench_smoke_runs_every_measurement(tmp_path: Path) -> None:
    run = _run_module("bench.perf.run", "--smoke", "--out", str(tmp_path))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    report = json.loads((tmp_path / "perf.json").read_text())
    names = [row["name"] for row in report["rows"]]
    for expected in (
        "upstream direct",
        "floor: grpcio echo x1",
        "echo x1 on uvloop",
        "gateway Chat x1",
        "least Chat handler x1",
        "gateway StreamChat x1",
        "gateway Embed x1",
        "gateway Chat x2",
    ):
        assert any(name.startswith(expected) for name in names), names
    assert all(row["rps"] > 0 for row in report["rows"])
    chat = next(row for row in report["rows"] if row["name"] == "gateway Chat x1")
    assert chat["note"].startswith("median of 2 alternating rounds"), chat
    least = next(row for row in report["rows"] if row["name"].startswith("least Chat handler"))
    assert least["note"].startswith("median of 2 alternating rounds"), least
    # Every stream of the concurrency check arrived whole and in order (correctness, not speed).
    facts = report["facts"]
    assert facts["concurrent_streams_complete"] == facts["concurrent_streams"]
    targets = {t["target"] for t in report["targets"]}
    assert {"start to SERVING (median of 2 starts)", "idle RSS per worker"} <= targets, targets
    assert len(facts["start_to_serving_all_s"]) == 2
    # The machine's state at both ends of the run (how much its cores are its own).
    assert 0 < facts["parallel_efficiency_start"] < 2 and 0 < facts["parallel_efficiency_end"] < 2
    assert 0 <= facts["steal_share"] < 1
    # Both sides of the added-latency figures were measured, by one client each time.
    assert facts["latency_rounds"] == 2
    for name in ("ttfc_gateway_p99_ms", "ttfc_direct_p99_ms", "ttfc_gateway_grpcio_client_p99_ms"):
        assert facts[name] > 0, name
    assert "| gateway Chat x1 |" in (tmp_path / "perf.md").read_text()


def test_budget_smoke_measures_every_row() -> None:
    """`make bench-budget` (per-thread CPU of the floor, the contract, one POST, the gateway)."""
    run = _run_module("bench.perf.budget", "--reps", "1", "--seconds", "0.5")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    rows = [line.split("|")[1].strip() for line in run.stdout.splitlines() if line.startswith("| ")]
    assert rows[2:] == ["echo", "echo, uvloop", "contract echo", "echo + 1 POST", "gateway x1"]


def test_compare_smoke_runs_a_revision_against_the_working_tree() -> None:
    """`make bench-compare`: a git revision (exported) and a checkout, one short round each."""
    run = _run_module(
        "bench.perf.compare", "HEAD", ".", "--rounds", "1", "--seconds", "0.5", "--warmup", "0.2"
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    rows = [line.split("|")[1].strip() for line in run.stdout.splitlines() if line.startswith("| ")]
    assert rows[2:] == ["HEAD", "."], run.stdout
    assert "+0.0%" in run.stdout


def test_compare_refuses_what_is_neither_a_checkout_nor_a_revision() -> None:
    run = _run_module("bench.perf.compare", "no-such-revision-or-dir")
    assert run.returncode != 0
    assert "neither a checkout of the gateway nor a git revision" in run.stderr


def test_new_connection_bench_runs_on_the_working_tree() -> None:
    """`bench.http_client.new_connections`: requests on new connections to a named host."""
    run = _run_module("bench.http_client.new_connections", "--rounds", "1", "--requests", "20")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    row = run.stdout.strip().splitlines()[-1]
    assert row.startswith("| . |"), run.stdout
