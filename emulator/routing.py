"""Vertex URL parsing and the registry of (publisher, method) handlers.

Adding a method or a publisher is one :meth:`MethodRegistry.register` call.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from emulator.vertex import VertexCall

_PATH = re.compile(
    r"^/(?P<version>v1|v1beta1)/"
    r"(?:projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/)?"
    r"(?:publishers/(?P<publisher>[^/]+)/models/(?P<model>[^/:]+)|endpoints/(?P<endpoint>[^/:]+))"
    r"(?::(?P<method>[A-Za-z]+)|/(?P<path_method>chat/completions))$"
)

# URL-path methods (``endpoints/{id}/chat/completions``) register under this method name.
CHAT_COMPLETIONS = "chat/completions"

ENDPOINT = "<endpoint>"


@dataclass(frozen=True)
class VertexTarget:
    """The resource and method a Vertex URL names."""

    version: str
    method: str
    project: str | None = None
    location: str | None = None
    publisher: str | None = None
    model: str | None = None
    endpoint: str | None = None

    @property
    def express(self) -> bool:
        """True for the project-less API-key paths (``/v1/publishers/...``)."""
        return self.project is None

    @property
    def resource(self) -> str:
        """The resource name Vertex quotes in errors."""
        prefix = "" if self.express else f"projects/{self.project}/locations/{self.location}/"
        if self.endpoint is not None:
            return f"{prefix}endpoints/{self.endpoint}"
        return f"{prefix}publishers/{self.publisher}/models/{self.model}"


def parse_path(path: str) -> VertexTarget | None:
    """Parse a Vertex model or endpoint method URL; None if it is not one."""
    match = _PATH.match(path)
    if match is None:
        return None
    groups = match.groupdict()
    path_method = groups.pop("path_method")
    if path_method is not None:
        if groups["endpoint"] is None:
            return None
        groups["method"] = path_method
    target = VertexTarget(**groups)
    if target.endpoint is not None and target.express:
        return None
    return target


Handler = Callable[["VertexCall"], Awaitable[web.StreamResponse]]
# A body check for methods outside the discovery document (Claude's Messages API, the
# OpenAI-compatible endpoint): the problems found, each a human-readable message; [] = valid.
BodyValidator = Callable[[VertexTarget, Any], list[str]]
# The error response the real service sends for those problems (e.g. Anthropic's 400 shape).
BodyRejecter = Callable[[list[str]], web.StreamResponse]


@dataclass(frozen=True)
class MethodSpec:
    """How one method of one publisher is served."""

    publisher: str
    method: str
    handler: Handler
    rpc: str
    request_method: str | None = None
    streaming: bool = False
    validator: BodyValidator | None = None
    rejecter: BodyRejecter | None = None

    def rpc_name(self, version: str) -> str:
        """Fully qualified RPC name, e.g. ``google.cloud.aiplatform.v1.PredictionService.GenerateContent``."""
        return f"google.cloud.aiplatform.{version}.{self.rpc}"


class MethodRegistry:
    """Handlers by (publisher, method); endpoints register under :data:`ENDPOINT`."""

    def __init__(self) -> None:
        self._specs: dict[tuple[str, str], MethodSpec] = {}

    def register(
        self,
        publisher: str,
        method: str,
        handler: Handler,
        *,
        rpc: str,
        request_method: str | None = None,
        streaming: bool = False,
        validator: BodyValidator | None = None,
        rejecter: BodyRejecter | None = None,
    ) -> None:
        """Serve ``method`` for ``publisher``; ``request_method`` names the discovery method whose
        request schema validates the body. Methods the discovery document does not describe pass
        ``validator`` (and ``rejecter`` for the error the real service sends) instead; with
        both, the validator checks what the schema leaves free (``:predict``'s instances and
        parameters) once the transcoder accepted the body. With neither, the body is not
        validated."""
        self._specs[(publisher, method)] = MethodSpec(
            publisher, method, handler, rpc, request_method, streaming, validator, rejecter
        )

    def lookup(self, target: VertexTarget) -> MethodSpec | None:
        """The handler for ``target``, if any."""
        owner = ENDPOINT if target.endpoint is not None else str(target.publisher)
        return self._specs.get((owner, target.method))

    def serves_method(self, method: str) -> bool:
        """True if some publisher serves ``method`` (so an unknown publisher is a 404 model)."""
        return any(m == method for (owner, m) in self._specs if owner != ENDPOINT)

    def rpc_for(self, method: str) -> MethodSpec | None:
        """Any registration of ``method``, to name the RPC in auth errors."""
        return next((s for (_, m), s in self._specs.items() if m == method), None)


REGISTRY_KEY: web.AppKey[MethodRegistry] = web.AppKey("emulator_registry", MethodRegistry)
