"""Veo translator against hand-written golden JSON (tests/golden/veo), and job names."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from vertex_gateway.v1 import video_pb2

from server.errors import GatewayError
from server.routing.registry import Registry
from server.translate import veo

GOLDEN = Path(__file__).parent.parent / "golden" / "veo"
REGISTRY = Registry()
OPERATION = "2d8c0a4e-1111-4c2b-9d3e-abcdefabcdef"
NAME = veo.VideoJobName("us-central1", "google", "veo-3.0-generate-001", OPERATION, 1793530000123)


def load(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text())


def spec(model: str) -> Any:
    found = REGISTRY.get(None, model)
    assert found is not None, model
    return found


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.glob("request_*.json")))
def test_request_golden(name: str) -> None:
    case = load(name)
    request = json_format.ParseDict(case["request"], video_pb2.GenerateVideoRequest())
    assert veo.to_predict_long_running(request, spec(case["model"])) == case["vertex"]


@pytest.mark.parametrize("case", load("invalid_requests.json"), ids=lambda c: str(c["request"]))
def test_invalid_requests_name_every_field(case: dict[str, Any]) -> None:
    request = json_format.ParseDict(case["request"], video_pb2.GenerateVideoRequest())
    request.model = case["model"]
    with pytest.raises(GatewayError) as err:
        veo.to_predict_long_running(request, spec(case["model"]))
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert sorted(v.field for v in err.value.field_violations) == sorted(case["fields"])


def test_unknown_enum_values_are_refused_first() -> None:
    request = video_pb2.GenerateVideoRequest(model="veo-3.0-generate-001", prompt="x")
    request.person_generation = 42  # type: ignore[assignment]
    with pytest.raises(GatewayError) as err:
        veo.to_predict_long_running(request, spec("veo-3.0-generate-001"))
    assert [v.field for v in err.value.field_violations] == ["person_generation"]


def test_a_veo_model_from_configuration_takes_the_newest_limits() -> None:
    from server.routing.registry import spec_from_entry

    added = spec_from_entry({"model": "google/veo-4.0-generate-preview", "family": "veo"}, "m")
    request = video_pb2.GenerateVideoRequest(model="veo-4", prompt="x", resolution="4k")
    body = veo.to_predict_long_running(request, added)
    assert body["parameters"] == {"sampleCount": 1, "resolution": "4k", "generateAudio": True}


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.glob("operation_*.json")))
def test_operation_golden(name: str) -> None:
    case = load(name)
    job = veo.to_video_job(case["operation"], NAME)
    expected = json_format.ParseDict(case["video_job"], video_pb2.VideoJob())
    assert json_format.MessageToDict(job) == json_format.MessageToDict(expected)


def test_inline_bytes_and_their_size() -> None:
    case = load("operation_done_inline.json")
    data = veo.inline_video(case["operation"], 0)
    assert (
        data[4:8] == b"ftyp"
        and len(data) == veo.to_video_job(case["operation"], NAME).videos[0].size_bytes
    )
    for raw in (b"", b"a", b"ab", b"abc", b"abcd" * 100):
        assert veo._b64_size(base64.b64encode(raw).decode()) == len(raw)


@pytest.mark.parametrize(
    "operation",
    [
        [],
        {"done": True},
        {"done": True, "response": {"videos": "x"}},
        {"done": True, "response": {"videos": [{"mimeType": "video/mp4"}]}},
        {"done": True, "response": {"videos": [7]}},
        {"done": True, "response": {"raiMediaFilteredCount": "many"}},
    ],
)
def test_malformed_operations_are_upstream_errors(operation: Any) -> None:
    with pytest.raises(GatewayError) as err:
        veo.to_video_job(operation, NAME)
    assert err.value.code == grpc.StatusCode.UNAVAILABLE


def test_bad_inline_base64_is_an_upstream_error() -> None:
    operation = {"done": True, "response": {"videos": [{"bytesBase64Encoded": "***"}]}}
    with pytest.raises(GatewayError) as err:
        veo.inline_video(operation, 0)
    assert err.value.code == grpc.StatusCode.UNAVAILABLE


def test_names_round_trip_and_address_the_operation() -> None:
    text = NAME.encode()
    assert text == load("operation_running.json")["video_job"]["name"]
    assert veo.parse_job_name(text) == NAME
    assert NAME.operation_name("projects/p/locations/us-central1") == (
        f"projects/p/locations/us-central1/publishers/google/models/veo-3.0-generate-001"
        f"/operations/{OPERATION}"
    )
    assert NAME.operation_name("").startswith("publishers/google/")
    assert veo.fetch_body(NAME, "") == {"operationName": NAME.operation_name("")}


def forged(raw: bytes, pad: str = "") -> str:
    return "videoJobs/" + base64.urlsafe_b64encode(raw).decode().rstrip("=") + pad


@pytest.mark.parametrize(
    "name",
    [
        "videoJobs/",
        "videojobs/" + NAME.encode().removeprefix("videoJobs/"),
        NAME.encode() + "=",
        NAME.encode() + "/x",
        NAME.encode().replace("videoJobs/", "videoJobs//"),
        forged(b"us-central1/google/veo-3.0-generate-001/op/1/2"),
        forged(b"us-central1/google/veo-3.0-generate-001/op"),
        forged(b"us-central1/google/veo..3/op/1"),
        forged(b"us-central1/google/../op/1"),
        forged(b"us-central1/google/veo-3.0-generate-001/a?b/1"),
        forged(b"us-central1/google/veo-3.0-generate-001/a#b/1"),
        forged(b"us-central1/google/veo-3.0-generate-001/a@b/1"),
        forged(b"us-central1/goo gle/veo-3.0-generate-001/op/1"),
        forged(b"us-central1/google/veo-3.0-generate-001/op/01"),
        forged(b"us-central1/google/veo-3.0-generate-001/op/-1"),
        forged("us-central1/google/v\u00e9o/op/1".encode()),
        forged(b"\xff\xfe/google/veo/op/1"),
        forged(b"Us-central1/google/veo-3.0-generate-001/op/1"),
    ],
)
def test_names_are_parsed_strictly(name: str) -> None:
    with pytest.raises(GatewayError) as err:
        veo.parse_job_name(name)
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in err.value.field_violations] == ["name"]


def test_the_operation_name_vertex_gives_must_be_of_the_model_called() -> None:
    model = spec("veo-3.0-generate-001")
    prefix = "projects/p/locations/us-central1/publishers/google/models/"
    name = veo.job_name_from({"name": f"{prefix}veo-3.0-generate-001/operations/{OPERATION}"},
                             model, "us-central1", 5)  # fmt: skip
    assert name == veo.VideoJobName("us-central1", "google", "veo-3.0-generate-001", OPERATION, 5)
    express = veo.job_name_from(
        {"name": f"publishers/google/models/veo-3.0-generate-001/operations/{OPERATION}"},
        model, "us-central1", 5,
    )  # fmt: skip
    assert express == name
    for bad in (
        {},
        {"name": 7},
        {"name": f"{prefix}veo-2.0-generate-001/operations/{OPERATION}"},
        {"name": f"projects/p/locations/europe-west4/publishers/google/models/"
                 f"veo-3.0-generate-001/operations/{OPERATION}"},
        {"name": f"{prefix}veo-3.0-generate-001/operations/a?b"},
    ):  # fmt: skip
        with pytest.raises(GatewayError) as err:
            veo.job_name_from(bad, model, "us-central1", 5)
        assert err.value.code == grpc.StatusCode.UNAVAILABLE
