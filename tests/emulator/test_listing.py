"""The list APIs: endpoints, custom models, publisher models; paging; auth; schema-valid replies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from emu_helpers import Emulator

from emulator.discovery import document

PARENT = "projects/test-project/locations/us-central1"


async def get(emu: Emulator, path: str, **query: Any) -> tuple[int, Any]:
    async with emu.http.get(f"{emu.base_url}/{path}", params=query, headers=emu.auth()) as resp:
        text = await resp.text()
    try:
        return resp.status, json.loads(text)
    except ValueError:
        return resp.status, text


def assert_schema(version: str, schema: str, body: Any) -> None:
    doc = document(version)
    prefix = "GoogleCloudAiplatformV1" if version == "v1" else "GoogleCloudAiplatformV1beta1"
    result = doc.validate(prefix + schema, body, lenient_names=False)
    assert result.errors == [], result.errors


async def test_endpoints_are_listed_with_their_deployed_models(emu: Emulator) -> None:
    status, body = await get(emu, f"v1/{PARENT}/endpoints")
    assert status == 200
    assert_schema("v1", "ListEndpointsResponse", body)
    names = [e["name"] for e in body["endpoints"]]
    assert names == [f"{PARENT}/endpoints/{i}" for i in ("4001", "4002", "4003")]
    tuned = body["endpoints"][0]["deployedModels"][0]
    assert tuned["model"] == f"{PARENT}/models/1001"
    assert "nextPageToken" not in body


async def test_models_carry_their_base_model(emu: Emulator) -> None:
    status, body = await get(emu, f"v1/{PARENT}/models")
    assert status == 200
    assert_schema("v1", "ListModelsResponse", body)
    by_id = {m["name"].rsplit("/", 1)[1]: m for m in body["models"]}
    assert by_id["1001"]["baseModelSource"]["modelGardenSource"]["publicModelName"] == (
        "publishers/google/models/gemini-2.5-flash"
    )
    assert "baseModelSource" not in by_id["2002"]


async def test_paging_returns_every_resource_once(emu: Emulator) -> None:
    await emu.admin(
        "POST",
        "resources",
        json={"project": "test-project", "location": "us-central1", "endpoints": 247},
    )
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        query = {"pageSize": "100", **({"pageToken": token} if token else {})}
        status, body = await get(emu, f"v1/{PARENT}/endpoints", **query)
        assert status == 200
        seen += [e["name"] for e in body["endpoints"]]
        pages += 1
        token = body.get("nextPageToken", "")
        if not token:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 250


async def test_a_token_from_another_listing_is_refused(emu: Emulator) -> None:
    await emu.admin(
        "POST",
        "resources",
        json={"project": "test-project", "location": "us-central1", "models": 5},
    )
    _, body = await get(emu, f"v1/{PARENT}/models", pageSize="2")
    status, err = await get(emu, f"v1/{PARENT}/endpoints", pageToken=body["nextPageToken"])
    assert status == 400 and err["error"]["status"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize(("size", "status"), [("-1", 400), ("abc", 400), ("0", 200), ("5000", 200)])
async def test_page_size_bounds(emu: Emulator, size: str, status: int) -> None:
    got, _ = await get(emu, f"v1/{PARENT}/endpoints", pageSize=size)
    assert got == status


async def test_publisher_catalog_on_v1beta1_only(emu: Emulator) -> None:
    status, body = await get(emu, "v1beta1/publishers/google/models")
    assert status == 200
    assert_schema("v1beta1", "ListPublisherModelsResponse", body)
    names = {m["name"] for m in body["publisherModels"]}
    assert "publishers/google/models/gemini-2.5-flash" in names
    assert "publishers/google/models/imagen-4.0-generate-001" in names
    flash = next(m for m in body["publisherModels"] if m["name"].endswith("/gemini-2.5-flash"))
    assert flash["launchStage"] == "GA"
    status, _ = await get(emu, "v1/publishers/google/models")
    assert status == 404


async def test_lists_need_credentials(emu: Emulator) -> None:
    async with emu.http.get(f"{emu.base_url}/v1/{PARENT}/endpoints") as resp:
        assert resp.status == 401
        body = await resp.json()
    assert "ListEndpoints" in json.dumps(body)


async def test_lists_are_recorded(emu: Emulator) -> None:
    await get(emu, f"v1/{PARENT}/models")
    records = await emu.records()
    assert records[-1]["method"] == "GET" and records[-1]["path"].endswith("/models")


async def test_reset_restores_the_seed(emu: Emulator) -> None:
    await emu.admin(
        "POST",
        "resources",
        json={"project": "test-project", "location": "us-central1", "models": 4},
    )
    await emu.admin("POST", "reset")
    _, body = await get(emu, f"v1/{PARENT}/models")
    assert len(body["models"]) == 3
