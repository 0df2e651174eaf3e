"""The gateway's Chat at saturation, one source tree against another, in alternating rounds.

A change on the gateway's hot path moves its figures by a few percent, about as much as one
round differs from the next on a shared machine, so two `make bench` runs made minutes apart
cannot tell whether it helped. This harness serves each tree in turn (A, B, A, B, ...) against
one fake upstream, so a slow spell of the machine falls on all of them, and reports each tree's
medians: requests/s, the process's CPU ms per request, and its main thread's CPU ms per
request (at saturation the gateway is bound by that thread: the event loop, holding the GIL).

    python -m bench.perf.compare [--rounds 5] [--seconds 6] TREE [TREE ...]

A TREE is a directory holding a checkout of the gateway (`.` is the working tree), or a git
revision of this repository, exported with `git archive` into a temporary directory (the
generated stubs are committed, so an export runs as it is). `make bench-compare
TREES="HEAD~1 ."` runs it on the benchmark's interpreter.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.perf import run as harness
from bench.perf.budget import saturate_chat
from bench.perf.load import grpc_frame
from bench.perf.upstream import Upstream, start_upstream


@dataclass
class Round:
    """One saturation round of one tree."""

    rps: float
    cpu_ms: float  # the process's CPU per request
    main_ms: float  # its main thread's CPU per request


@dataclass
class Tree:
    """A source tree under comparison and its rounds."""

    label: str
    path: Path
    rounds: list[Round] = field(default_factory=list)


def resolve(spec: str, scratch: Path) -> Path:
    """The directory of TREE `spec`: itself when it holds a checkout, else the git revision of
    this repository it names, exported under `scratch`."""
    path = Path(spec)
    if (path / "server" / "__main__.py").is_file():
        return path.resolve()
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}"],
        cwd=harness.ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if found.returncode != 0:
        raise SystemExit(f"{spec!r} is neither a checkout of the gateway nor a git revision")
    commit = found.stdout.strip()
    out = scratch / commit[:12]
    if not out.is_dir():
        out.mkdir(parents=True)
        archive = subprocess.Popen(
            ["git", "archive", "--format=tar", commit], cwd=harness.ROOT, stdout=subprocess.PIPE
        )
        subprocess.run(["tar", "-x", "-C", str(out)], stdin=archive.stdout, check=True)
        if archive.wait() != 0:
            raise SystemExit(f"git archive {commit} failed")
    return out


def measure(tree: Tree, upstream: Upstream, key: str, body: bytes, s: harness.Settings) -> Round:
    """One round: the tree's gateway (one worker) saturated with Chat calls."""
    server = harness.start_gateway(upstream, 1, key, root=tree.path)
    try:
        result, cpu, main = saturate_chat(server, body, s)
    finally:
        server.stop()
    return Round(result.rps, cpu, main)


def render(trees: list[Tree]) -> str:
    """The comparison as Markdown: each figure the median of the tree's rounds, requests/s also
    against the first tree, then every round's requests/s in the order run."""
    base = statistics.median(r.rps for r in trees[0].rounds)
    lines = [
        "| tree | req/s | vs first | CPU ms/req | main thread ms/req | rounds (req/s) |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for tree in trees:
        rps = statistics.median(r.rps for r in tree.rounds)
        cpu = statistics.median(r.cpu_ms for r in tree.rounds)
        main = statistics.median(r.main_ms for r in tree.rounds)
        spread = ", ".join(f"{r.rps:,.0f}" for r in tree.rounds)
        lines.append(
            f"| {tree.label} | {rps:,.0f} | {rps / base - 1:+.1%} | {cpu:.3f} | {main:.3f} |"
            f" {spread} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Compare the trees and print one table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("trees", nargs="+", metavar="TREE")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--warmup", type=float, default=1.5)
    args = parser.parse_args(argv)
    s = harness.Settings(args.seconds, args.warmup, 8, 32, 1, 1, 1)
    body = grpc_frame(harness.chat_request())
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        trees = [Tree(spec, resolve(spec, scratch / "trees")) for spec in args.trees]
        upstream = start_upstream(scratch / "upstream", harness.free_port(), harness.free_port())
        key = json.dumps(harness.service_account(f"{upstream.base_url}/token"))
        try:
            for n in range(args.rounds):
                for tree in trees:
                    r = measure(tree, upstream, key, body, s)
                    tree.rounds.append(r)
                    print(
                        f"round {n + 1}: {tree.label}: {r.rps:,.0f} req/s, {r.cpu_ms:.3f} ms/req,"
                        f" main thread {r.main_ms:.3f}",
                        file=sys.stderr, flush=True,
                    )  # fmt: skip
        finally:
            upstream.stop()
    print(render(trees))
    return 0


if __name__ == "__main__":
    sys.exit(main())
