"""The admin API under ``/_emulator/`` (never recorded, never authenticated)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from emulator.errors import json_response
from emulator.faults import parse_fault
from emulator.service_accounts import generate_private_key
from emulator.state import state_of

PREFIX = "/_emulator"


def _admin_error(message: str, status: int = 400) -> web.Response:
    return json_response({"error": message}, status=status)


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object")
    return value


async def create_service_account(request: web.Request) -> web.Response:
    """Mint a service-account key file whose ``token_uri`` is this emulator's ``/token``."""
    try:
        body = await _json_body(request)
    except ValueError as exc:
        return _admin_error(str(exc))
    project_id = body.get("project_id", "emulator-project")
    client_email = body.get("client_email")
    if not isinstance(project_id, str) or not (
        client_email is None or isinstance(client_email, str)
    ):
        return _admin_error("project_id and client_email must be strings")
    private_key = await asyncio.to_thread(generate_private_key)
    key = state_of(request).accounts.register(
        private_key,
        base_url=f"{request.scheme}://{request.host}",
        project_id=project_id,
        client_email=client_email,
    )
    return json_response(key)


async def config(request: web.Request) -> web.Response:
    """Read (GET) or change (POST) the runtime configuration."""
    state = state_of(request)
    if request.method == "POST":
        try:
            state.config.update(await _json_body(request))
        except ValueError as exc:
            return _admin_error(str(exc))
    return json_response(state.config.to_json())


async def revoke_tokens(request: web.Request) -> web.Response:
    """Make every access token issued so far stop working."""
    return json_response({"revoked": state_of(request).tokens.revoke_all()})


async def faults(request: web.Request) -> web.Response:
    """Arm (POST), list (GET) or disarm all (DELETE) faults."""
    state = state_of(request)
    if request.method == "DELETE":
        state.faults.clear()
    elif request.method == "POST":
        try:
            body = await _json_body(request)
            fault = parse_fault(str(body.get("fault", "")))
        except ValueError as exc:
            return _admin_error(str(exc))
        times, path_contains = body.get("times", 1), body.get("path_contains")
        if type(times) is not int or times < 1:
            return _admin_error("times must be a positive integer")
        if path_contains is not None and not isinstance(path_contains, str):
            return _admin_error("path_contains must be a string or null")
        state.faults.arm(fault, times, path_contains)
    return json_response(state.faults.to_json())


async def requests_log(request: web.Request) -> web.Response:
    """List (GET) or clear (DELETE) the recorded requests."""
    state = state_of(request)
    if request.method == "DELETE":
        state.records.clear()
    return json_response(state.records.to_json())


async def audit(request: web.Request) -> web.Response:
    """Validated bodies sent with a given User-Agent prefix since start, and their failures."""
    prefix = request.query.get("user_agent_prefix", "vertex-gateway")
    return json_response(state_of(request).records.audit(prefix))


async def stats(request: web.Request) -> web.Response:
    """Request and token counters."""
    return json_response(state_of(request).stats.to_json())


async def reset(request: web.Request) -> web.Response:
    """Clear requests, faults and counters and restore the default config."""
    state = state_of(request)
    state.reset()
    return json_response({"config": state.config.to_json()})


async def resources(request: web.Request) -> web.Response:
    """Add generated custom models and endpoints to a project and location (paging tests)."""
    try:
        body = await _json_body(request)
    except ValueError as exc:
        return _admin_error(str(exc))
    project, location = body.get("project"), body.get("location")
    models, endpoints = body.get("models", 0), body.get("endpoints", 0)
    if not isinstance(project, str) or not isinstance(location, str):
        return _admin_error("project and location must be strings")
    if type(models) is not int or type(endpoints) is not int or models < 0 or endpoints < 0:
        return _admin_error("models and endpoints must be non-negative integers")
    store = state_of(request).resources
    store.add_generated(project, location, models=models, endpoints=endpoints)
    return json_response(
        {
            "models": len(store.models(project, location)),
            "endpoints": len(store.endpoints(project, location)),
        }
    )


async def health(request: web.Request) -> web.Response:
    """Liveness."""
    return json_response({"status": "ok"})


def add_routes(app: web.Application) -> None:
    """Mount the admin API on ``app``."""
    app.router.add_post(f"{PREFIX}/service-accounts", create_service_account)
    app.router.add_route("GET", f"{PREFIX}/config", config)
    app.router.add_route("POST", f"{PREFIX}/config", config)
    app.router.add_post(f"{PREFIX}/revoke-tokens", revoke_tokens)
    for method in ("GET", "POST", "DELETE"):
        app.router.add_route(method, f"{PREFIX}/faults", faults)
    for method in ("GET", "DELETE"):
        app.router.add_route(method, f"{PREFIX}/requests", requests_log)
    app.router.add_get(f"{PREFIX}/audit", audit)
    app.router.add_get(f"{PREFIX}/stats", stats)
    app.router.add_post(f"{PREFIX}/reset", reset)
    app.router.add_get(f"{PREFIX}/health", health)
    app.router.add_post(f"{PREFIX}/resources", resources)
