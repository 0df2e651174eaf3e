"""Assemble the aiohttp application: admin API, token endpoint, and the Vertex catch-all."""

from __future__ import annotations

from aiohttp import web

from emulator import admin_routes
from emulator.config import ServerOptions
from emulator.handlers import register_defaults
from emulator.oauth import handle_token
from emulator.routing import REGISTRY_KEY, MethodRegistry
from emulator.state import STATE_KEY, EmulatorState
from emulator.vertex import handle_vertex

# Inline media makes real requests large; Vertex itself takes up to 500 MB.
MAX_BODY_BYTES = 64 * 1024 * 1024


async def _stop_jobs(app: web.Application) -> None:
    """Batch and tuning jobs run in background tasks: stop them with the server."""
    app[STATE_KEY].batch_jobs.stop_all()
    app[STATE_KEY].tuning_jobs.stop_all()


def create_app(options: ServerOptions | None = None) -> web.Application:
    """A ready-to-serve emulator application."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[STATE_KEY] = EmulatorState(options or ServerOptions())
    app.on_shutdown.append(_stop_jobs)
    registry = MethodRegistry()
    register_defaults(registry)
    app[REGISTRY_KEY] = registry
    admin_routes.add_routes(app)
    app.router.add_post("/token", handle_token)
    app.router.add_route("*", "/{tail:.*}", handle_vertex)
    return app
