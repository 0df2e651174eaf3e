"""Resolve the caller's model string into a Route, enforcing the allow-list and capabilities."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

import grpc
from vertex_gateway.v1 import common_pb2

from server.callers import current_caller
from server.errors import FieldViolation, GatewayError, invalid_argument
from server.observability import labels

from .registry import ENDPOINT_PUBLISHER, Capability, ModelSpec, Registry, tuned_endpoint_spec

_ROUTE_CACHE = 4096
_MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$")
# Vertex endpoint ids (discovery `endpoints.create` endpointId): generated ones are int64
# numbers; chosen ones are up to 9 digits without a leading zero, or start with a letter and
# have up to 63 of a-z, 0-9 and '-', ending with a letter or digit.
_ENDPOINT_ID_RE = re.compile(r"^(?:[1-9][0-9]{0,18}|[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?)$")


@dataclass(frozen=True)
class Route:
    """Where a call goes."""

    requested: str  # what the caller sent
    spec: ModelSpec
    location: str

    @property
    def name(self) -> str:
        """The canonical `publisher/model` of the route."""
        return self.spec.key

    @functools.cached_property
    def family(self) -> str:
        """The model family's name, as metrics label it."""
        return self.spec.family.value

    @property
    def locations(self) -> tuple[str, ...]:
        """Where the call may go, in order: the route's location, then the model's fallbacks."""
        fallbacks = self.spec.fallback_locations
        return (self.location, *(x for x in fallbacks if x != self.location))

    @functools.cached_property
    def served(self) -> common_pb2.ServedBy:
        """The Vertex location and resource this route calls, as replies report it: one message
        per route (routes are cached), for copying into replies; never changed."""
        return common_pb2.ServedBy(location=self.location, vertex_model=vertex_resource(self.spec))

    def served_by(self) -> common_pb2.ServedBy:
        """A copy of `served`, to change."""
        served = common_pb2.ServedBy()
        served.CopyFrom(self.served)
        return served


# Vertex's reserved endpoint id for Model Garden models served through the OpenAI-compatible API.
OPENAPI_ENDPOINT = "openapi"


def vertex_resource(spec: ModelSpec) -> str:
    """The Vertex resource that serves a model: a self-deployed endpoint, or the publisher model
    (also for the shared `openapi` endpoint, which serves publisher models)."""
    if spec.endpoint and spec.endpoint != OPENAPI_ENDPOINT:
        return f"endpoints/{spec.endpoint}"
    return f"publishers/{spec.publisher}/models/{spec.id}"


class Router:
    """Aliases -> registry lookup -> allow-list -> capability."""

    def __init__(
        self,
        registry: Registry,
        *,
        default_location: str,
        aliases: Mapping[str, str] | None = None,
        allow_models: tuple[str, ...] = (),
    ) -> None:
        self._registry = registry
        self._default_location = default_location
        self._aliases = dict(aliases or {})
        self._allowed = {self._normalize(m) for m in allow_models} if allow_models else None
        self._routes: dict[tuple[str, Capability], Route] = {}

    @property
    def registry(self) -> Registry:
        """The registry routes come from."""
        return self._registry

    @property
    def default_location(self) -> str:
        """Where models without a location of their own are served."""
        return self._default_location

    @property
    def aliases(self) -> Mapping[str, str]:
        """Configured aliases, name -> model."""
        return dict(self._aliases)

    @property
    def allow_list(self) -> tuple[str, ...]:
        """The configured allow-list (normalized), empty when every model is allowed."""
        return tuple(sorted(self._allowed)) if self._allowed is not None else ()

    def allows_name(self, name: str) -> bool:
        """True when the allow-list (if any) names this model id (for models outside the
        registry: endpoints, custom and catalog models)."""
        return self._allowed is None or self._normalize(name) in self._allowed

    def allows(self, spec: ModelSpec) -> bool:
        """True when the allow-list (if any) admits this model."""
        return (
            self._allowed is None
            or bool({spec.key, spec.id} & self._allowed)
            or any(
                self._normalize(self._aliases.get(a, a)) in (spec.key, spec.id)
                for a in self._allowed
                if a in self._aliases
            )
        )

    def lookup(self, model: str) -> ModelSpec | None:
        """The model a string names (alias, id, publisher/id, endpoints/{id}), or None."""
        text = self._normalize(model)
        target = self._normalize(self._aliases.get(text, text))
        publisher, _, model_id = target.rpartition("/")
        spec = self._registry.get(publisher or None, model_id)
        if spec is None and publisher == ENDPOINT_PUBLISHER and valid_endpoint_id(model_id):
            return self.endpoint_spec(model_id)
        return spec

    def endpoint_spec(self, endpoint_id: str) -> ModelSpec:
        """What `endpoints/{endpoint_id}` stands for: the configured model served by that
        endpoint, else a tuned Gemini model on it. The id must be valid (`valid_endpoint_id`)."""
        for spec in self._registry.all():
            if spec.endpoint == endpoint_id:
                return spec
        return tuned_endpoint_spec(endpoint_id)

    @staticmethod
    def _normalize(model: str) -> str:
        text = model.strip()
        if text.startswith("publishers/"):  # publishers/google/models/gemini-2.5-flash
            parts = text.split("/")
            if len(parts) == 4 and parts[2] == "models":
                text = f"{parts[1]}/{parts[3]}"
        return text

    def resolve(self, model: str, capability: Capability, *, field: str = "model") -> Route:
        """The route for `model`, or an error naming the model and what is wrong."""
        key = (model, capability)
        route = self._routes.get(key)
        if route is None:
            route = self._resolve(model, capability, field)
            # The registry is fixed once the gateway is built, so a route found stays right; the
            # bound keeps callers' spellings from growing the cache without limit.
            if len(self._routes) < _ROUTE_CACHE:
                self._routes[key] = route
        labels.FAMILY.set(route.family)
        labels.MODEL.set(route.spec.key)
        caller = current_caller()
        if caller is not None and caller.models:
            self._check_caller(caller.caller, caller.models, model, route)
        return route

    def _check_caller(self, caller: str, models: tuple[str, ...], model: str, route: Route) -> None:
        allowed = {self._normalize(self._aliases.get(m, m)) for m in models} | set(models)
        spec = route.spec
        if not ({self._normalize(model), spec.key, spec.id} & allowed):
            raise GatewayError(
                grpc.StatusCode.PERMISSION_DENIED,
                f"caller {caller!r} may not use model {model!r}",
                "CALLER_MODEL_NOT_ALLOWED",
                metadata={"model": model, "caller": caller},
            )

    def _resolve(self, model: str, capability: Capability, field: str) -> Route:
        text = self._normalize(model)
        if not text:
            raise invalid_argument(field, "is required (an alias, a model id or publisher/model)")
        target = self._normalize(self._aliases.get(text, text))
        publisher, _, model_id = target.rpartition("/")
        if not _MODEL_RE.match(model_id) or (publisher and not _MODEL_RE.match(publisher)):
            raise invalid_argument(field, f"{model!r} is not a valid model name")
        spec = self._registry.get(publisher or None, model_id)
        if spec is None and publisher == ENDPOINT_PUBLISHER:
            # A project endpoint by name: its id goes into the URL, so it is checked here.
            if not valid_endpoint_id(model_id):
                raise invalid_argument(
                    field,
                    f"{model!r} is not a Vertex endpoint name (endpoints/ followed by a numeric"
                    " id, or a lowercase id of letters, digits and '-')",
                )
            spec = self.endpoint_spec(model_id)
        if spec is None:
            raise GatewayError(
                grpc.StatusCode.NOT_FOUND,
                f"model {model!r} is not known to this gateway (ListModels shows the models"
                " you can use)",
                "MODEL_NOT_FOUND",
                metadata={"model": model},
            )
        if self._allowed is not None and not ({text, spec.key, spec.id} & self._allowed):
            raise GatewayError(
                grpc.StatusCode.PERMISSION_DENIED,
                f"model {model!r} is not on this gateway's allow-list",
                "MODEL_NOT_ALLOWED",
                metadata={"model": model},
            )
        if capability not in spec.capabilities:
            description = (
                f"model {model!r} ({spec.family.value}) does not support {capability.value}"
            )
            raise GatewayError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{field}: {description}",
                "CAPABILITY_NOT_SUPPORTED",
                metadata={"model": model, "capability": capability.value},
                field_violations=[FieldViolation(field, description)],
            )
        return Route(model, spec, spec.location or self._default_location)


def valid_endpoint_id(endpoint_id: str) -> bool:
    """True for an id Vertex may give an endpoint (not `openapi`, the shared Model Garden
    endpoint, which serves publisher models rather than a model of its own)."""
    return endpoint_id != OPENAPI_ENDPOINT and _ENDPOINT_ID_RE.match(endpoint_id) is not None
