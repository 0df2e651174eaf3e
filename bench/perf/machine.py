"""How much CPU this machine gives right now: every core busy at once against one alone.

A virtual machine's cores may share physical cores with other guests. When they do, two
CPU-bound processes run slower each than one alone, and the benchmark's figures move: the
floor (h2load, grpc's threads and the echo's loop keep both cores busy) drops more than the
gateway (bound by its one event-loop thread). `make bench` records this figure at the start and
at the end of its run so that a reader can tell a run on a crowded host from one on a quiet one.

    python -m bench.perf.machine
"""

from __future__ import annotations

import os
import subprocess
import sys

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


if __name__ == "__main__":
    print(f"{os.cpu_count()} cores, parallel efficiency {parallel_efficiency():.2f}")
