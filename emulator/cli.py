"""``python -m emulator``: parse options, serve until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from emulator.app import create_app
from emulator.config import ServerOptions, normalize_storage_url

API_KEYS_ENV = "VERTEX_EMULATOR_API_KEYS"
# Where Cloud Storage is when --storage-url is not given (google-cloud-storage reads it too).
STORAGE_ENV = "STORAGE_EMULATOR_HOST"
SHUTDOWN_GRACE_SECONDS = 2.0
log = logging.getLogger("emulator")


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="python -m emulator", description="Vertex AI emulator")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument("--port-file", type=Path, help="write the bound port number to this file")
    parser.add_argument(
        "--allow-anonymous", action="store_true", help="accept Vertex requests with no credentials"
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help=f"accept this API key (repeatable; also ${API_KEYS_ENV}, comma-separated)",
    )
    parser.add_argument(
        "--lenient-field-names",
        action="store_true",
        help="accept snake_case field names, as Vertex itself does",
    )
    parser.add_argument(
        "--storage-url",
        metavar="URL",
        help=f"Cloud Storage JSON API base URL for batch prediction (default: ${STORAGE_ENV})",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
    )
    return parser


def options_from_args(argv: Sequence[str] | None = None) -> ServerOptions:
    """Turn command-line arguments (and the API-key variable) into :class:`ServerOptions`."""
    args = build_parser().parse_args(argv)
    env_keys = [k.strip() for k in os.environ.get(API_KEYS_ENV, "").split(",") if k.strip()]
    return ServerOptions(
        host=args.host,
        port=args.port,
        port_file=args.port_file,
        allow_anonymous=args.allow_anonymous,
        api_keys=tuple(dict.fromkeys([*args.api_key, *env_keys])),
        lenient_field_names=args.lenient_field_names,
        log_level=args.log_level,
        storage_url=normalize_storage_url(args.storage_url or os.environ.get(STORAGE_ENV)),
    )


def write_port_file(path: Path, port: int) -> None:
    """Write ``port`` so that a reader never sees a partial file (write a temp file, rename)."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(f"{port}\n", encoding="ascii")
    os.replace(temp, path)


async def serve(options: ServerOptions) -> None:
    """Serve until SIGTERM or SIGINT."""
    debug = options.log_level == "debug"
    runner = web.AppRunner(
        create_app(options),
        shutdown_timeout=SHUTDOWN_GRACE_SECONDS,
        access_log=logging.getLogger("aiohttp.access") if debug else None,
    )
    await runner.setup()
    site = web.TCPSite(runner, options.host, options.port)
    await site.start()
    host, port = runner.addresses[0][:2]
    # Port file first: whoever sees the line may rely on the file too.
    if options.port_file is not None:
        write_port_file(options.port_file, port)
    print(f"vertex emulator listening on http://{host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    options = options_from_args(argv)
    logging.basicConfig(
        level=options.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(message)s",
    )
    asyncio.run(serve(options))
    return 0
