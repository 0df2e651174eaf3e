"""`python -m server`: run the gateway until SIGTERM/SIGINT, then shut down gracefully."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from server.app import create_gateway
from server.config import ConfigError, GatewayConfig, load_config, validate
from server.logs import setup_logging
from server.observability import metrics, request_ids
from server.vertex.auth import resolve_source
from server.vertex.embedded_emulator import EmbeddedEmulator, start_embedded_emulator
from server.workers import run_workers

log = logging.getLogger("vertex_gateway")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line flags (override the environment and the YAML file)."""
    parser = argparse.ArgumentParser(prog="python -m server", description=__doc__)
    parser.add_argument("--config", help="YAML configuration file (default: $VG_CONFIG_FILE)")
    parser.add_argument("--listen", help="host:port to listen on (default 0.0.0.0:50051)")
    parser.add_argument(
        "--emulator", choices=("auto", "on", "off"), help="use the embedded Vertex emulator"
    )
    parser.add_argument(
        "--workers", type=int, help="pre-forked server processes sharing the port (default 1)"
    )
    return parser.parse_args(argv)


async def _embedded(config: GatewayConfig) -> tuple[GatewayConfig, EmbeddedEmulator | None]:
    if not config.wants_emulator():
        return config, None
    embedded = await start_embedded_emulator()
    log.info(
        "no Google project or credentials configured: serving against the embedded Vertex"
        " emulator at %s (set GOOGLE_CLOUD_PROJECT and credentials to use Vertex AI)",
        embedded.base_url,
    )
    return embedded.configure(config), embedded


async def serve(config: GatewayConfig, *, own_emulator: bool = True, worker: int = 0) -> None:
    """Run until a termination signal arrives."""
    embedded: EmbeddedEmulator | None = None
    if own_emulator:
        config, embedded = await _embedded(config)
    try:
        gateway = await create_gateway(config)
        await gateway.start()
        if config.server.metrics_port:
            port = metrics.serve(config.server.metrics_host, config.server.metrics_port + worker)
            if port:
                log.info("metrics at http://%s:%d/metrics", config.server.metrics_host, port)
        # Everything built at start-up lives as long as the process: move it out of the cyclic
        # collector's sight, so full collections scan only what requests allocate (shorter
        # pauses, so a flatter latency tail).
        gc.freeze()
        log.info(
            "vertex-gateway listening",
            extra={
                "listen": config.server.listen,
                "port": gateway.port,
                "project": config.vertex.project,
                "location": config.vertex.location,
                "credentials": resolve_source(config.vertex.credentials),
                "vertex_base_url": config.vertex.base_url or "https://*aiplatform.googleapis.com",
                "event_loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
            },
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("shutting down: health NOT_SERVING, then draining in-flight calls")
        await gateway.shutdown()
        log.info("stopped")
    finally:
        if embedded is not None:
            embedded.stop()


def _run(config: GatewayConfig, main: Coroutine[Any, Any, None]) -> None:
    """Run a server coroutine on the configured event loop (server.event_loop)."""
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if config.server.event_loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    try:
        config = load_config(path=args.config)
        if args.listen:
            config = replace(config, server=replace(config.server, listen=args.listen))
        if args.emulator:
            config = replace(config, emulator=args.emulator)
        if args.workers is not None:
            config = replace(config, server=replace(config.server, workers=args.workers))
            validate(config)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.server.log_level, config.server.log_format)
    if config.server.workers > 1:
        return _main_workers(config)
    try:
        _run(config, serve(config))
    except (ValueError, RuntimeError) as exc:
        log.error("cannot start: %s", exc)
        return 1
    return 0


def _main_workers(config: GatewayConfig) -> int:
    # The embedded emulator (a subprocess) is shared by the workers; it is started before the
    # fork, and no gRPC object exists yet in this process.
    try:
        config, embedded = asyncio.run(_embedded(config))
    except (ValueError, RuntimeError) as exc:
        log.error("cannot start: %s", exc)
        return 1

    def worker(index: int) -> int:
        try:
            request_ids.reseed()
            _run(config, serve(config, own_emulator=False, worker=index))
        except (ValueError, RuntimeError) as exc:
            log.error("worker %d cannot start: %s", index, exc)
            return 1
        return 0

    try:
        return run_workers(config.server.workers, worker)
    finally:
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    sys.exit(main())
