"""Vertex's list replies -> ModelService entries. Pure functions, no I/O.

Endpoints (`ListEndpoints`), the project's model registry (`ListModels`) and the publisher
catalogs (`v1beta1 ListPublisherModels`). An entry says what the gateway can do with the model:
an endpoint serving a tuned Gemini model is callable by name (`endpoints/{id}`; the routing
catalog gives it chat capabilities); other endpoints, custom models and catalog models the
registry does not know are listed so callers can see them, without capabilities (add one under
`models:` in the configuration to use it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vertex_gateway.v1 import common_pb2, model_pb2

from .tolerant import tolerant


@dataclass(frozen=True)
class DiscoveredModels:
    """What Vertex's list APIs returned, as raw JSON objects, for one location."""

    location: str
    endpoints: tuple[Any, ...] = ()
    custom_models: tuple[Any, ...] = ()
    catalog: tuple[Any, ...] = ()


def _tail(name: Any, collection: str) -> str | None:
    """The id after `.../{collection}/` in a resource name, or None."""
    if not isinstance(name, str):
        return None
    head, sep, tail = name.rpartition(f"{collection}/")
    return tail if sep and tail and "/" not in tail and (not head or head.endswith("/")) else None


def base_model(model: Mapping[str, Any]) -> str:
    """`publisher/id` of the publisher model a custom model was tuned from, or ""."""
    source = model.get("baseModelSource")
    garden = source.get("modelGardenSource") if isinstance(source, dict) else None
    name = garden.get("publicModelName") if isinstance(garden, dict) else None
    if not isinstance(name, str) or not name.startswith("publishers/"):
        return ""
    parts = name.split("/")
    return f"{parts[1]}/{parts[3]}" if len(parts) == 4 and parts[2] == "models" else ""


def _family(base: str) -> model_pb2.ModelFamily.ValueType:
    """Tuned Gemini models are their own family; any other custom model is "other"."""
    return (
        model_pb2.MODEL_FAMILY_TUNED
        if base.startswith("google/gemini")
        else model_pb2.MODEL_FAMILY_OTHER
    )


@tolerant
def custom_model_entry(model: Any, location: str) -> model_pb2.Model | None:
    """A model from the project's Vertex model registry, id `models/{id}`."""
    if not isinstance(model, dict):
        return None
    model_id = _tail(model.get("name"), "models")
    if model_id is None:
        return None
    base = base_model(model)
    ident = f"models/{model_id}"
    return model_pb2.Model(
        name=f"models/{ident}",
        id=ident,
        display_name=str(model.get("displayName") or model_id),
        description=str(model.get("description") or ""),
        family=_family(base),
        version=str(model.get("versionId") or ""),
        base_model=base,
        source=model_pb2.MODEL_SOURCE_VERTEX_CUSTOM,
    )


@tolerant
def endpoint_entry(
    endpoint: Any, custom: Mapping[str, model_pb2.Model], location: str
) -> model_pb2.Model | None:
    """An endpoint in the project, id `endpoints/{id}`; `custom` (by `models/{id}`) supplies
    the base model of what is deployed on it."""
    if not isinstance(endpoint, dict):
        return None
    endpoint_id = _tail(endpoint.get("name"), "endpoints")
    if endpoint_id is None:
        return None
    deployed = [d for d in endpoint.get("deployedModels") or [] if isinstance(d, dict)]
    names = [str(d.get("displayName") or d.get("model") or d.get("id") or "") for d in deployed]
    description = str(endpoint.get("description") or "")
    if not description:
        description = (
            f"Vertex endpoint serving {', '.join(names)}"
            if names
            else "Vertex endpoint with no model deployed"
        )
    entry = model_pb2.Model(
        name=f"models/endpoints/{endpoint_id}",
        id=f"endpoints/{endpoint_id}",
        display_name=str(endpoint.get("displayName") or endpoint_id),
        description=description,
        family=model_pb2.MODEL_FAMILY_OTHER,
        routes=[common_pb2.ServedBy(location=location, vertex_model=f"endpoints/{endpoint_id}")],
        source=model_pb2.MODEL_SOURCE_VERTEX_ENDPOINT,
    )
    if len(deployed) == 1:
        model_id = _tail(deployed[0].get("model"), "models")
        known = custom.get(f"models/{model_id}") if model_id else None
        entry.version = str(deployed[0].get("modelVersionId") or "")
        if known is not None and known.base_model:
            entry.base_model = known.base_model
            entry.family = known.family
    return entry


@tolerant
def publisher_entry(model: Any) -> model_pb2.Model | None:
    """A catalog model, id `publisher/id`."""
    if not isinstance(model, dict) or not isinstance(model.get("name"), str):
        return None
    parts = model["name"].split("/")
    if len(parts) != 4 or parts[0] != "publishers" or parts[2] != "models":
        return None
    publisher, model_id = parts[1], parts[3]
    entry = model_pb2.Model(
        name=f"models/{publisher}/{model_id}",
        id=f"{publisher}/{model_id}",
        display_name=model_id,
        family=model_pb2.MODEL_FAMILY_OTHER,
        publisher=publisher,
        source=model_pb2.MODEL_SOURCE_PUBLISHER_CATALOG,
    )
    enrich(entry, model)
    return entry


def catalog_key(model: Any) -> str | None:
    """`publisher/id` of a catalog model."""
    entry = publisher_entry(model)
    return entry.id if entry is not None else None


def enrich(entry: model_pb2.Model, catalog: Mapping[str, Any]) -> None:
    """Version and launch stage from the publisher's catalog entry for the same model."""
    version = catalog.get("versionId")
    if isinstance(version, str) and version and not entry.version:
        entry.version = version
    stage = catalog.get("launchStage")
    if isinstance(stage, str) and stage and stage != "LAUNCH_STAGE_UNSPECIFIED":
        entry.launch_stage = stage
