"""Tuning translator against hand-written golden JSON (tests/golden/tuning)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from vertex_gateway.v1 import tuning_pb2

from server.errors import GatewayError
from server.routing.registry import Capability, Registry, spec_from_entry
from server.translate import tuning

GOLDEN = Path(__file__).parent.parent / "golden" / "tuning"
REGISTRY = Registry()
T = tuning_pb2


def load(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text())


def spec(model: str) -> Any:
    found = REGISTRY.get(None, model)
    assert found is not None, model
    return found


def parse_example(data: dict[str, Any]) -> T.TuningExample:
    return json_format.ParseDict(data, T.TuningExample())


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.glob("line_*.json")))
def test_line_golden(name: str) -> None:
    case = load(name)
    assert tuning.example_line(parse_example(case["example"]), spec(case["model"])) == case["line"]


def test_a_file_line_is_parsed_as_proto3_json() -> None:
    case = load("line_text.json")
    raw = json.dumps(case["example"]).encode()
    assert tuning.example_line(tuning.parse_example(raw), spec("gemini-2.5-flash")) == case["line"]
    for bad in (b"{", b'{"messages": 3}', b'{"unknown": 1}', b"\xff"):
        with pytest.raises(ValueError, match="TuningExample"):
            tuning.parse_example(bad)


@pytest.mark.parametrize(
    "case", load("invalid_examples.json"), ids=lambda c: json.dumps(c["fields"])
)
def test_invalid_examples_name_every_field(case: dict[str, Any]) -> None:
    with pytest.raises(GatewayError) as err:
        tuning.example_line(parse_example(case["example"]), spec("gemini-2.5-flash"))
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert sorted(v.field for v in err.value.field_violations) == sorted(case["fields"])


def test_stage_names_the_index_of_each_bad_example() -> None:
    good = parse_example(load("line_text.json")["example"])
    bad = [parse_example(c["example"]) for c in load("invalid_examples.json")[:3]]
    lines, problems = tuning.stage(
        [good, *bad, good], spec("gemini-2.5-flash"), "training_examples"
    )
    assert len(lines) == 2
    assert [p.field for p in problems] == [
        "training_examples[1].messages",
        "training_examples[2].messages[0].role",
        "training_examples[3].messages[0].role",
    ]


def test_a_model_without_a_capability_refuses_examples_that_need_it() -> None:
    text_only = spec_from_entry(
        {"model": "acme/tiny", "family": "gemini", "capabilities": ["chat", "tuning"]}, "m"
    )
    example = parse_example(load("line_text.json")["example"])
    with pytest.raises(GatewayError) as err:
        tuning.example_line(example, text_only)
    assert [v.field for v in err.value.field_violations] == ["messages[2].parts[1].media"]
    assert Capability.TUNING in text_only.capabilities and not text_only.adapter_sizes


@pytest.mark.parametrize("name", ["create_body.json", "create_body_minimal.json"])
def test_create_body_golden(name: str) -> None:
    case = load(name)
    request = json_format.ParseDict(case["request"], T.CreateTuningJobRequest())
    body = tuning.to_tuning_job_body(
        request, spec(case["model"]), case["training_uri"], case["validation_uri"], case["staging"]
    )
    assert body == case["vertex"]


SETTINGS = [
    ({"epochCount": 0}, "gemini-2.5-flash", ["epoch_count"]),
    ({"epochCount": 101}, "gemini-2.5-flash", ["epoch_count"]),
    ({"learningRateMultiplier": 0}, "gemini-2.5-flash", ["learning_rate_multiplier"]),
    ({"learningRateMultiplier": 100.5}, "gemini-2.5-flash", ["learning_rate_multiplier"]),
    ({"learningRateMultiplier": "NaN"}, "gemini-2.5-flash", ["learning_rate_multiplier"]),
    ({"adapterSize": "ADAPTER_SIZE_SIXTEEN"}, "gemini-2.5-pro", ["adapter_size"]),
    ({"tunedModelDisplayName": "x" * 129}, "gemini-2.5-flash", ["tuned_model_display_name"]),
    ({"labels": {"vertex-gateway": "x", "Bad": "y"}}, "gemini-2.5-flash",
     ["labels['vertex-gateway']", "labels['Bad']"]),
    ({"trainingFile": "files/x", "validationFile": "files/y",
      "validationExamples": [{}]}, "gemini-2.5-flash",
     ["training_examples", "validation_examples"]),
    ({"trainingExamples": []}, "gemini-2.5-flash", ["training_examples"]),
]  # fmt: skip


@pytest.mark.parametrize(("change", "model", "fields"), SETTINGS)
def test_setting_problems(change: dict[str, Any], model: str, fields: list[str]) -> None:
    base = {"baseModel": model, "trainingExamples": [load("line_text.json")["example"]]}
    request = json_format.ParseDict({**base, **change}, T.CreateTuningJobRequest())
    found = [v.field for v in tuning.setting_problems(request, spec(model))]
    assert sorted(found) == sorted(fields)


def test_valid_settings_and_unknown_adapter_sizes() -> None:
    request = T.CreateTuningJobRequest(
        base_model="gemini-2.5-pro", epoch_count=100, learning_rate_multiplier=100,
        adapter_size=T.ADAPTER_SIZE_EIGHT, training_file="files/x",
    )  # fmt: skip
    assert tuning.setting_problems(request, spec("gemini-2.5-pro")) == []
    request.adapter_size = 77  # type: ignore[assignment]
    assert [v.field for v in tuning.setting_problems(request, spec("gemini-2.5-pro"))] == [
        "adapter_size"
    ]
    many = T.CreateTuningJobRequest(training_file="files/x")
    many.validation_examples.extend(T.TuningExample() for _ in range(5001))
    assert [v.field for v in tuning.setting_problems(many, spec("gemini-2.5-flash"))] == [
        "validation_examples"
    ]


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.glob("job_*.json")))
def test_job_golden(name: str) -> None:
    case = load(name)
    location = case["tuning_job"]["servedBy"]["location"]
    job = tuning.to_tuning_job(case["vertex"], location)
    expected = json_format.ParseDict(case["tuning_job"], T.TuningJob())
    assert json_format.MessageToDict(job) == json_format.MessageToDict(expected)


@pytest.mark.parametrize(
    "raw",
    [
        [],
        {"supervisedTuningSpec": {"hyperParameters": {"epochCount": "many"}}},
        {"tuningDataStats": {"supervisedTuningDataStats": {"tuningDatasetExampleCount": "x"}}},
        {"error": {"code": "bad"}},
    ],
)
def test_malformed_jobs_are_upstream_errors(raw: Any) -> None:
    with pytest.raises(GatewayError) as err:
        tuning.to_tuning_job(raw, "us-central1")
    assert err.value.code == grpc.StatusCode.UNAVAILABLE
