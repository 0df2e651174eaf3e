"""What a request on a new upstream connection costs the gateway's transport, when the upstream
is named by a host name (as Vertex is), for one or more source trees in alternating rounds.

A local server answers every request with `Connection: close`, so each request opens a
connection to `http://localhost:PORT`. Before the transport kept host-name answers
(`server/vertex/dns.py`), every new connection asked the system resolver again, in a worker
thread; with `localhost` that is only /etc/hosts, so a real resolver (a Kubernetes pod's
search domains, say) costs more than this shows.

    python -m bench.http_client.new_connections [TREE ...] [--rounds 3] [--requests 2000]

A TREE is a checkout of the gateway or a git revision (as `make bench-compare` takes them);
the default is the working tree.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.perf.compare import resolve

_REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)
        writer.write(_REPLY)
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _measure(requests: int) -> tuple[float, float]:
    from server.vertex.http1 import Http1Transport  # from the tree on sys.path

    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    url = f"http://localhost:{server.sockets[0].getsockname()[1]}/x"
    transport = Http1Transport()
    try:
        for _ in range(requests // 10):  # warm-up
            await transport.post(url, {}, b"{}", 5)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(requests):
            reply = await transport.post(url, {}, b"{}", 5)
            assert reply.status == 200, reply
        return (
            (time.perf_counter() - wall) / requests * 1e6,
            (time.process_time() - cpu) / requests * 1e6,
        )
    finally:
        await transport.close()
        server.close()


def _child(tree: str, requests: int) -> None:
    sys.path[:0] = [tree, str(Path(tree) / "clients" / "python")]
    wall, cpu = asyncio.run(_measure(requests))
    print(f"{wall} {cpu}")


def main(argv: list[str] | None = None) -> int:
    """Alternate the trees; print each one's median wall and CPU microseconds per request."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("trees", nargs="*", metavar="TREE", default=["."])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.requests)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        trees = [(spec, resolve(spec, Path(tmp))) for spec in args.trees]
        results: dict[str, list[tuple[float, float]]] = {spec: [] for spec, _ in trees}
        for _ in range(args.rounds):
            for spec, path in trees:
                out = subprocess.run(
                    [sys.executable, "-m", "bench.http_client.new_connections",
                     "--child", str(path), "--requests", str(args.requests)],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                wall, cpu = (float(x) for x in out.stdout.split())
                results[spec].append((wall, cpu))
    print("| tree | wall us/request | CPU us/request (client and server) |")
    print("| --- | ---: | ---: |")
    for spec, rows in results.items():
        wall = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        print(f"| {spec} | {wall:.0f} | {cpu:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
