"""The model listing under an allow-list."""

from __future__ import annotations

import grpc
import pytest
from vertex_gateway.v1 import model_pb2

from server.errors import GatewayError
from server.routing import catalog
from server.routing.registry import Registry
from server.routing.router import Router


def router() -> Router:
    return Router(
        Registry(),
        default_location="europe-west4",
        aliases={"fast": "gemini-2.5-flash", "claude": "anthropic/claude-sonnet-4-5@20250929"},
        allow_models=("gemini-2.5-flash", "fast", "acme/private-model"),
    )


def test_allow_list_limits_the_listing() -> None:
    listed = catalog.all_models(router())
    assert [(m.id, m.source) for m in listed] == [
        ("google/gemini-2.5-flash", model_pb2.MODEL_SOURCE_REGISTRY),
        ("fast", model_pb2.MODEL_SOURCE_ALIAS),
        ("acme/private-model", model_pb2.MODEL_SOURCE_ALLOW_LIST),
    ]
    assert listed[0].routes[0].location == "europe-west4"


def test_get_model_refuses_models_off_the_allow_list() -> None:
    r = router()
    listing = catalog.all_models(r)
    with pytest.raises(GatewayError) as info:
        catalog.get_model(r, listing, "gemini-2.5-pro")
    assert info.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert catalog.get_model(r, listing, "models/fast").alias_target == "google/gemini-2.5-flash"
