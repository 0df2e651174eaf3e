"""Vertex list replies -> ModelService entries, the merge with configuration, and the cache."""

from __future__ import annotations

import asyncio
from typing import Any

from vertex_gateway.v1 import model_pb2

from server.backends.model_discovery import ModelDiscovery
from server.routing import catalog
from server.routing.registry import Registry
from server.routing.router import Router
from server.translate import model_listing
from server.translate.model_listing import DiscoveredModels
from server.vertex.client import Deadline
from server.vertex.urls import VertexTarget

M = model_pb2
P = "projects/p/locations/us-central1"
TUNED = {
    "name": f"{P}/models/11",
    "displayName": "tuned",
    "versionId": "3",
    "baseModelSource": {
        "modelGardenSource": {"publicModelName": "publishers/google/models/gemini-2.5-flash"}
    },
}
PLAIN = {"name": f"{P}/models/12", "displayName": "plain"}
ENDPOINT = {
    "name": f"{P}/endpoints/21",
    "displayName": "serving",
    "deployedModels": [{"id": "1", "model": f"{P}/models/11", "modelVersionId": "3"}],
}
SPLIT = {
    "name": f"{P}/endpoints/22",
    "deployedModels": [
        {"id": "1", "model": f"{P}/models/11", "displayName": "a"},
        {"id": "2", "model": f"{P}/models/12", "displayName": "b"},
    ],
}
FLASH = {
    "name": "publishers/google/models/gemini-2.5-flash",
    "versionId": "001",
    "launchStage": "GA",
}
GEMMA = {
    "name": "publishers/google/models/gemma-3-27b-it",
    "launchStage": "LAUNCH_STAGE_UNSPECIFIED",
}


def test_custom_model_entries() -> None:
    tuned = model_listing.custom_model_entry(TUNED, "us-central1")
    assert tuned is not None
    assert (tuned.id, tuned.name, tuned.display_name) == ("models/11", "models/models/11", "tuned")
    assert tuned.family == M.MODEL_FAMILY_TUNED and tuned.base_model == "google/gemini-2.5-flash"
    assert tuned.version == "3" and tuned.source == M.MODEL_SOURCE_VERTEX_CUSTOM
    plain = model_listing.custom_model_entry(PLAIN, "us-central1")
    assert plain is not None and plain.family == M.MODEL_FAMILY_OTHER and not plain.base_model


def test_endpoint_entries_take_the_base_model_of_a_single_deployment() -> None:
    custom = {"models/11": model_listing.custom_model_entry(TUNED, "us-central1")}
    entry = model_listing.endpoint_entry(ENDPOINT, custom, "us-central1")  # type: ignore[arg-type]
    assert entry is not None
    assert entry.id == "endpoints/21" and entry.family == M.MODEL_FAMILY_TUNED
    assert entry.base_model == "google/gemini-2.5-flash" and entry.version == "3"
    assert entry.routes[0].location == "us-central1"
    assert entry.description == "Vertex endpoint serving " + f"{P}/models/11"
    split = model_listing.endpoint_entry(SPLIT, custom, "us-central1")  # type: ignore[arg-type]
    assert split is not None and split.family == M.MODEL_FAMILY_OTHER and not split.base_model
    assert split.description == "Vertex endpoint serving a, b"


def test_malformed_items_are_skipped() -> None:
    for bad in (None, 3, {}, {"name": 5}, {"name": "endpoints/"}, {"name": f"{P}/models/1"}):
        assert model_listing.endpoint_entry(bad, {}, "x") is None
    for bad in (None, {"name": "publishers/google/gemini"}, {"name": "google/models/x"}):
        assert model_listing.publisher_entry(bad) is None
    assert model_listing.base_model({"baseModelSource": {"modelGardenSource": "x"}}) == ""


def test_catalog_metadata() -> None:
    gemma = model_listing.publisher_entry(GEMMA)
    assert gemma is not None and gemma.id == "google/gemma-3-27b-it" and not gemma.launch_stage
    assert gemma.source == M.MODEL_SOURCE_PUBLISHER_CATALOG and not gemma.capabilities


def router(allow: tuple[str, ...] = ()) -> Router:
    return Router(Registry(), default_location="us-central1", allow_models=allow)


def discovered() -> DiscoveredModels:
    return DiscoveredModels(
        "us-central1",
        endpoints=(ENDPOINT, SPLIT, "junk"),
        custom_models=(TUNED, PLAIN),
        catalog=(FLASH, GEMMA, FLASH),
    )


def test_merge_lists_each_model_once_and_enriches_the_registry() -> None:
    listed = catalog.all_models(router(), discovered())
    ids = [m.id for m in listed]
    assert len(ids) == len(set(ids))
    by_id = {m.id: m for m in listed}
    assert by_id["google/gemini-2.5-flash"].source == M.MODEL_SOURCE_REGISTRY
    assert by_id["google/gemini-2.5-flash"].version == "001"
    assert by_id["google/gemini-2.5-flash"].launch_stage == "GA"
    assert {"endpoints/21", "endpoints/22", "models/11", "models/12", "google/gemma-3-27b-it"} <= (
        set(ids)
    )
    # Discovered entries come after the configured ones.
    assert ids.index("endpoints/21") > ids.index("google/gemini-2.5-flash")


def test_an_allowed_endpoint_is_described_by_vertex() -> None:
    listed = catalog.all_models(router(("endpoints/21", "gemini-2.5-flash")), discovered())
    by_id = {m.id: m for m in listed}
    assert set(by_id) == {"endpoints/21", "google/gemini-2.5-flash"}
    assert by_id["endpoints/21"].source == M.MODEL_SOURCE_VERTEX_ENDPOINT


def test_pages_continue_after_the_last_model_sent_when_the_listing_changes() -> None:
    first = catalog.all_models(router())
    page = catalog.list_page(first, M.ListModelsRequest(page_size=5))
    grown = catalog.all_models(router(), discovered())  # a refresh between the two pages
    grown.insert(0, M.Model(id="zzz-new"))
    rest = catalog.list_page(
        grown, M.ListModelsRequest(page_size=5, page_token=page.next_page_token)
    )
    assert rest.models[0].id == first[5].id


class FakeClient:
    """get_json answers from a table after `delay` seconds, counting calls."""

    def __init__(self, pages: dict[str, Any], delay: float = 0.0) -> None:
        self.pages, self.delay, self.calls = pages, delay, 0

    def deadline(self, remaining: float | None) -> Deadline:
        return Deadline(remaining, 60.0)

    async def get_json(self, url: str, deadline: Deadline) -> Any:
        self.calls += 1
        await asyncio.sleep(self.delay)
        for suffix, page in self.pages.items():
            if suffix in url:
                return page
        return {}


def discovery(client: FakeClient, clock: list[float]) -> ModelDiscovery:
    target = VertexTarget("p", "us-central1", "v1", "http://vertex.test")
    return ModelDiscovery(client, target, ("google",), 60.0, clock=lambda: clock[0])  # type: ignore[arg-type]


async def test_concurrent_callers_share_one_round_and_the_result_is_kept() -> None:
    client = FakeClient({"/endpoints?": {"endpoints": [ENDPOINT]}}, delay=0.05)
    clock = [0.0]
    d = discovery(client, clock)
    results = await asyncio.gather(*(d.snapshot(5.0) for _ in range(5)))
    assert all(r is results[0] for r in results) and results[0].endpoints == (ENDPOINT,)
    assert client.calls == 3  # endpoints, models, google's catalog: once each
    clock[0] = 59.0
    assert await d.snapshot(5.0) is results[0] and client.calls == 3
    clock[0] = 61.0
    await d.snapshot(5.0)
    assert client.calls == 6


async def test_a_slow_round_does_not_hold_a_caller_past_its_deadline() -> None:
    client = FakeClient({"/endpoints?": {"endpoints": [ENDPOINT]}}, delay=0.5)
    clock = [0.0]
    d = discovery(client, clock)
    first = await d.snapshot(0.3)  # less than the round takes: what is known (nothing yet)
    assert first.endpoints == ()
    await asyncio.sleep(0.6)
    assert (await d.snapshot(0.3)).endpoints == (ENDPOINT,)
    await d.close()
