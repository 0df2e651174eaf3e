"""Pre-fork serving: N worker processes share the listening port through SO_REUSEPORT.

The parent forks before any gRPC object exists (gRPC's core does not survive a fork once it
runs), so each worker builds its own server, event loop and HTTP pool. The kernel spreads new
connections over the workers; a maximum connection age (server.max_connection_age_seconds)
makes a long-lived sidecar connection reconnect, and so rebalance, from time to time.
SIGTERM or SIGINT to the parent is passed to every worker, each drains as a single process
does, and the parent exits when all have. A worker that dies on its own is restarted, unless
it dies at start (a bad port, say), which stops the whole server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable

log = logging.getLogger("vertex_gateway")

# A worker that exits this soon after it was started failed to start: do not restart it.
START_GRACE_SECONDS = 5.0


def run_workers(count: int, run_worker: Callable[[int], int]) -> int:
    """Fork `count` workers running `run_worker(index)`; return the exit status for the parent."""
    children: dict[int, tuple[int, float]] = {}  # pid -> (index, start time)
    stopping = False
    status = 0

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 1
            try:
                code = run_worker(index)
            finally:
                os._exit(code)
        children[pid] = (index, time.monotonic())

    def stop_all(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    for index in range(count):
        spawn(index)
    log.info("vertex-gateway started %d workers", count, extra={"workers": count})
    while children:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            break
        if pid not in children:
            continue
        index, started = children.pop(pid)
        code = os.waitstatus_to_exitcode(wait_status)
        if stopping:
            status = status or (code if code > 0 else 0)
            continue
        log.error("worker %d exited with status %d", index, code, extra={"worker": index})
        if time.monotonic() - started < START_GRACE_SECONDS:
            status = code if code > 0 else 1
            stop_all(signal.SIGTERM, None)
        else:
            spawn(index)
    return status
