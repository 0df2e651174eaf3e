"""Routing by registry: aliases, exact ids, allow-list, capabilities, global-only models."""

import grpc
import pytest

from server.errors import GatewayError
from server.routing.registry import Capability, Registry
from server.routing.router import Router


def router(**kw: object) -> Router:
    return Router(Registry(), default_location="us-central1", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "model",
    [
        "gemini-2.5-flash",
        "google/gemini-2.5-flash",
        "publishers/google/models/gemini-2.5-flash",
        " gemini-2.5-flash ",
    ],
)
def test_spellings_of_one_model(model: str) -> None:
    route = router().resolve(model, Capability.CHAT)
    assert route.name == "google/gemini-2.5-flash" and route.location == "us-central1"


def test_no_substring_routing() -> None:
    with pytest.raises(GatewayError) as info:
        router().resolve("my-gemini-2.5-flash-clone", Capability.CHAT)
    assert info.value.code == grpc.StatusCode.NOT_FOUND


def test_alias_and_global_location() -> None:
    route = router(aliases={"smart": "gemini-3-pro-preview"}).resolve("smart", Capability.CHAT)
    assert route.spec.id == "gemini-3-pro-preview" and route.location == "global"


def test_allow_list() -> None:
    r = router(allow_models=("gemini-2.5-flash",), aliases={"fast": "gemini-2.5-flash"})
    assert r.resolve("fast", Capability.CHAT).spec.id == "gemini-2.5-flash"
    with pytest.raises(GatewayError) as info:
        r.resolve("gemini-2.5-pro", Capability.CHAT)
    assert info.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "gemini-2.5-pro" in info.value.message


def test_capability_error_names_model_and_capability() -> None:
    with pytest.raises(GatewayError) as info:
        router().resolve("imagen-4.0-generate-001", Capability.CHAT)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "imagen-4.0-generate-001" in info.value.message and "chat" in info.value.message
