"""Unit tests of the emulator's pure parts: counting, the schema walker, rules, faults, config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator.catalog import find_model, is_valid_location
from emulator.cli import options_from_args, write_port_file
from emulator.config import RuntimeConfig
from emulator.counting import count_prompt, count_tokens, truncate_tokens
from emulator.discovery import camel_to_snake, document, snake_to_camel
from emulator.faults import FaultBook, FaultKind, parse_fault
from emulator.gemini import plan_reply, text_deltas, unary_response
from emulator.routing import parse_path
from emulator.rules import RuleContext, check


def test_token_rule() -> None:
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("  ") == 0
    assert truncate_tokens("one two, three", 2) == "one two"
    assert truncate_tokens("one two", 5) == "one two"


def test_prompt_count_covers_system_tools_and_media() -> None:
    body = {
        "systemInstruction": {"parts": [{"text": "Be terse."}]},
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "Hi"},
                    {"fileData": {"mimeType": "video/mp4", "fileUri": "gs://b/o"}},
                ],
            }
        ],
        "tools": [{"functionDeclarations": [{"name": "f"}]}],
    }
    count = count_prompt(body)
    assert count.by_modality["VIDEO"] == 258
    assert count.by_modality["TEXT"] == count_tokens("Be terse.") + 1 + count_tokens('{"name":"f"}')


def test_names() -> None:
    assert camel_to_snake("parametersJsonSchema") == "parameters_json_schema"
    assert snake_to_camel("inline_data") == "inlineData"


def test_walker_on_v1beta1_and_formats() -> None:
    doc = document("v1beta1")
    schema = doc.request_schema("generateContent")
    assert schema == "GoogleCloudAiplatformV1beta1GenerateContentRequest"
    body: dict[str, Any] = {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"functionCall": {"name": "f", "id": "x", "args": {"any": [1, {"k": None}]}}}
                ],
            }
        ],
        "generationConfig": {"seed": "12", "responseModalities": ["TEXT"], "candidateCount": "2"},
    }
    assert doc.validate(schema, body, lenient_names=False).errors == []
    bad = {"generationConfig": {"seed": "twelve", "responseModalities": ["SMELL"]}}
    errors = doc.validate(schema, bad, lenient_names=False).errors
    assert [e.field for e in errors] == [
        "generation_config.seed",
        "generation_config.response_modalities[0]",
    ]
    assert "google.cloud.aiplatform.v1beta1.GenerationConfig.Modality" in errors[1].description


def test_walker_lenient_normalises_names() -> None:
    doc = document("v1")
    schema = doc.request_schema("generateContent")
    assert schema is not None
    result = doc.validate(
        schema, {"generation_config": {"max_output_tokens": 5}}, lenient_names=True
    )
    assert result.errors == [] and result.normalized == {"generationConfig": {"maxOutputTokens": 5}}


def test_walker_int64_and_map_values() -> None:
    doc = document("v1")
    schema = doc.request_schema("generateContent")
    assert schema is not None
    body = {"labels": {"a": "b", "c": 5}, "generationConfig": {"maxOutputTokens": 2**31}}
    errors = doc.validate(schema, body, lenient_names=False).errors
    assert [e.field for e in errors] == ["labels[1].value", "generation_config.max_output_tokens"]


def test_rules_collect_everything() -> None:
    body = {
        "contents": [{"role": "tool", "parts": []}],
        "generationConfig": {"temperature": -1},
        "labels": {"Bad": "ok"},
    }
    found = check(body, RuleContext(version="v1", method="generateContent"))
    assert [v.field for v in found] == [
        "contents[0].role",
        "contents[0].parts",
        "generation_config.temperature",
        "labels[0].key",
    ]
    assert not any(v.parse_level for v in found)


def test_count_tokens_needs_contents_or_instances() -> None:
    ctx = RuleContext(version="v1", method="countTokens")
    assert check({"instances": [{"x": 1}]}, ctx) == []
    assert [v.field for v in check({}, ctx)] == ["contents"]


@pytest.mark.parametrize(
    ("spec", "kind", "status", "delay"),
    [
        ("429", FaultKind.STATUS, 429, 0),
        ("429-array", FaultKind.STATUS_ARRAY, 429, 0),
        ("slow:150", FaultKind.SLOW, 0, 150),
        ("slow-stream:20", FaultKind.SLOW_STREAM, 0, 20),
        ("disconnect-mid-stream", FaultKind.DISCONNECT, 0, 0),
        ("stream-error-raw", FaultKind.STREAM_ERROR_RAW, 0, 0),
        ("malformed-json", FaultKind.MALFORMED_JSON, 0, 0),
    ],
)
def test_fault_specs(spec: str, kind: FaultKind, status: int, delay: int) -> None:
    fault = parse_fault(spec)
    assert (fault.kind, fault.status, fault.delay_ms) == (kind, status, delay)


@pytest.mark.parametrize("spec", ["", "418", "slow:", "slow:-1", "boom"])
def test_bad_fault_specs(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_fault(spec)


def test_fault_book_order() -> None:
    book = FaultBook()
    book.arm(parse_fault("500"), 1, "/a")
    book.arm(parse_fault("503"), 1, None)
    assert book.take("/b") == parse_fault("503")
    assert book.take("/a") == parse_fault("500")
    assert book.take("/a") is None


def test_runtime_config_update_is_all_or_nothing() -> None:
    config = RuntimeConfig()
    with pytest.raises(ValueError):
        config.update({"token_ttl_seconds": 5, "reject_function_call_id": "no"})
    assert config.token_ttl_seconds == 3600
    config.update({"token_ttl_seconds": 5})
    assert config.token_ttl_seconds == 5


def test_paths_and_locations() -> None:
    target = parse_path(
        "/v1/projects/p/locations/eu/publishers/google/models/gemini-2.5-pro:countTokens"
    )
    assert target is not None and target.method == "countTokens" and not target.express
    express = parse_path("/v1beta1/publishers/google/models/gemini-2.5-pro:generateContent")
    assert (
        express is not None
        and express.express
        and express.resource == "publishers/google/models/gemini-2.5-pro"
    )
    assert parse_path("/v1/endpoints/1:predict") is None
    assert parse_path("/v2/publishers/google/models/m:generateContent") is None
    assert is_valid_location("asia-northeast1") and not is_valid_location("Mars")


def test_text_deltas_concatenate() -> None:
    text = "A fairly long sentence, with punctuation, that should split into several deltas."
    deltas = text_deltas(text)
    assert len(deltas) >= 3 and "".join(deltas) == text
    assert text_deltas("Hi") == ["Hi"]
    assert text_deltas("") == []


def test_plan_is_deterministic() -> None:
    model = find_model("google", "gemini-2.5-flash")
    assert model is not None
    body = {"contents": [{"role": "user", "parts": [{"text": "same"}]}]}
    first, second = unary_response(plan_reply(body, model)), unary_response(plan_reply(body, model))
    first.pop("createTime")
    second.pop("createTime")
    assert first == second


def test_cli_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VERTEX_EMULATOR_API_KEYS", "b, c,,a")
    options = options_from_args(
        ["--api-key", "a", "--allow-anonymous", "--port-file", str(tmp_path / "p")]
    )
    assert options.api_keys == ("a", "b", "c") and options.allow_anonymous
    write_port_file(tmp_path / "p", 1234)
    assert (tmp_path / "p").read_text() == "1234\n"
    assert [p.name for p in tmp_path.iterdir()] == ["p"]
