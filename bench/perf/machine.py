"""How much CPU this machine gives right now: every core busy at once against one alone.

A virtual machine's cores may share physical cores with other guests. When they do, two
CPU-bound processes run slower each than one alone, and the benchmark's figures move: the
floor (h2load, grpc's threads and the echo's loop keep both cores busy) drops more than the
gateway (bound by its one event-loop thread). `make bench` records this figure at the start and
at the end of its run, and the CPU time the host took from the run (steal), so that a reader can
tell a run on a crowded host from one on a quiet one.

    python -m bench.perf.machine
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# A fixed amount of pure-Python work, timed inside the child so start-up is not counted.
_CHILD = """
import sys, time
n = int(sys.argv[1])
start = time.perf_counter()
x = 0
for i in range(n):
    x += i
print(time.perf_counter() - start)
"""
_ITERATIONS_PER_SECOND = 25_000_000  # about one second's loop on this project's machines


def _timed(processes: int, iterations: int) -> list[float]:
    """Seconds each of `processes` concurrent children took for the same work."""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(iterations)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(processes)
    ]
    times = []
    for child in children:
        out, _ = child.communicate(timeout=120)
        if child.returncode != 0:
            raise RuntimeError(f"the CPU probe failed with status {child.returncode}")
        times.append(float(out))
    return times


def parallel_efficiency(seconds: float = 0.5, cores: int | None = None) -> float:
    """One process's time for a fixed CPU-bound job over the mean time of the same job run on
    every core at once: about 1.0 when the cores are the machine's own, lower when they share
    physical cores with something else."""
    cores = cores or os.cpu_count() or 1
    iterations = max(1_000, int(seconds * _ITERATIONS_PER_SECOND))
    alone = min(_timed(1, iterations) + _timed(1, iterations))
    together = _timed(cores, iterations)
    return alone / (sum(together) / len(together))


def cpu_ticks() -> tuple[int, int]:
    """Clock ticks of all cores so far: (stolen, ran). Stolen is time the hypervisor ran
    something else while this machine's cores had work; ran is user, system and interrupt time."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return steal, user + nice + system + irq + softirq


def steal_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Of the time the cores had work between two `cpu_ticks()`, the share the host took."""
    stolen, ran = after[0] - before[0], after[1] - before[1]
    return stolen / max(1, stolen + ran)


if __name__ == "__main__":
    print(f"{os.cpu_count()} cores, parallel efficiency {parallel_efficiency():.2f}")
