"""Body validation: the discovery-document walker and the Vertex-only rules, over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from emu_helpers import Emulator, user_body

UNKNOWN = "Invalid JSON payload received. Unknown name"
GEMINI_DOCS = (
    "Learn more: https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/gemini"
)


def bad_request(*violations: tuple[str | None, str]) -> dict[str, Any]:
    """The exact 400 body Vertex sends for transcoding errors."""
    return {
        "error": {
            "code": 400,
            "message": "\n".join(d for _, d in violations),
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [
                        {"description": d} if f is None else {"field": f, "description": d}
                        for f, d in violations
                    ],
                }
            ],
        }
    }


def semantic(message: str) -> dict[str, Any]:
    """The 400 body of Vertex's semantic checks (no details)."""
    return {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}


async def expect_400(emu: Emulator, body: Any, expected: dict[str, Any], **url: Any) -> None:
    status, answer, resp = await emu.post(emu.url(**url), body)
    assert status == 400, answer
    assert resp.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert answer == expected
    (record,) = await emu.records()
    assert record["status"] == 400 and record["schema_errors"]


async def test_unknown_nested_field(emu: Emulator) -> None:
    message = f"{UNKNOWN} \"foo_bar\" at 'generation_config': Cannot find field."
    body = user_body(generationConfig={"foo_bar": 1})
    await expect_400(emu, body, bad_request(("generation_config", message)))


async def test_unknown_top_level_field_has_no_location(emu: Emulator) -> None:
    message = f'{UNKNOWN} "thinking": Cannot find field.'
    await expect_400(emu, user_body(thinking=True), bad_request((None, message)))


async def test_snake_case_names_are_rejected_by_default(emu: Emulator) -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"inline_data": {"mimeType": "image/png", "data": "AAAA"}}]}
        ],
        "generation_config": {"temperature": 0.1},
    }
    await expect_400(
        emu,
        body,
        bad_request(
            (
                "contents[0].parts[0]",
                f"{UNKNOWN} \"inline_data\" at 'contents[0].parts[0]': Cannot find field.",
            ),
            (None, f'{UNKNOWN} "generation_config": Cannot find field.'),
        ),
    )


async def test_lenient_mode_accepts_snake_case(emu: Emulator) -> None:
    await emu.admin("POST", "config", json={"lenient_field_names": True})
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generation_config": {"max_output_tokens": 3},
    }
    status, answer, _ = await emu.post(emu.url(), body)
    assert status == 200
    # The snake_case setting was understood, not just tolerated.
    assert answer["candidates"][0]["finishReason"] == "MAX_TOKENS"


async def test_bad_enum_value(emu: Emulator) -> None:
    body = user_body(safetySettings=[{"category": "HARM_CATEGORY_NOPE", "threshold": "BLOCK_NONE"}])
    description = (
        "Invalid value at 'safety_settings[0].category' "
        '(type.googleapis.com/google.cloud.aiplatform.v1.HarmCategory), "HARM_CATEGORY_NOPE"'
    )
    await expect_400(emu, body, bad_request(("safety_settings[0].category", description)))


async def test_wrong_json_types(emu: Emulator) -> None:
    body = user_body(
        generationConfig={"temperature": "hot", "candidateCount": 1.5, "stopSequences": "x"}
    )
    await expect_400(
        emu,
        body,
        bad_request(
            (
                "generation_config.temperature",
                "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), \"hot\"",
            ),
            (
                "generation_config.candidate_count",
                "Invalid value at 'generation_config.candidate_count' (TYPE_INT32), 1.5",
            ),
            (
                "generation_config.stop_sequences",
                "Invalid value at 'generation_config.stop_sequences' (TYPE_STRING), \"x\"",
            ),
        ),
    )


async def test_list_for_a_single_field(emu: Emulator) -> None:
    message = f'{UNKNOWN} "generationConfig": Proto field is not repeating, cannot start list.'
    await expect_400(emu, user_body(generationConfig=[]), bad_request((None, message)))


async def test_schema_given_as_string(emu: Emulator) -> None:
    tools = [
        {
            "functionDeclarations": [
                {"name": "f", "parameters": {"type": "OBJECT", "properties": {"a": "object"}}}
            ]
        }
    ]
    field = "tools[0].function_declarations[0].parameters.properties[0].value"
    description = f"Invalid value at '{field}' (type.googleapis.com/google.cloud.aiplatform.v1.Schema), \"object\""
    await expect_400(emu, user_body(tools=tools), bad_request((field, description)))


async def test_bad_base64(emu: Emulator) -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "@@@"}}]}
        ]
    }
    field = "contents[0].parts[0].inline_data.data"
    description = f"Invalid value at '{field}' (TYPE_BYTES), Base64 decoding failed for \"@@@\""
    await expect_400(emu, body, bad_request((field, description)))


async def test_int64_and_duration_formats(emu: Emulator) -> None:
    body = {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {
                        "fileData": {"mimeType": "video/mp4", "fileUri": "gs://b/v.mp4"},
                        "videoMetadata": {"startOffset": "1.5s", "endOffset": "ten seconds"},
                    }
                ],
            }
        ]
    }
    field = "contents[0].parts[0].video_metadata.end_offset"
    description = f"Invalid value at '{field}' (type.googleapis.com/google.protobuf.Duration), \"ten seconds\""
    await expect_400(emu, body, bad_request((field, description)))


def function_call_history(with_id: bool) -> dict[str, Any]:
    call: dict[str, Any] = {"name": "get_weather", "args": {"city": "Paris"}}
    response: dict[str, Any] = {"name": "get_weather", "response": {"output": {"tempC": 18}}}
    if with_id:
        call["id"] = "call-1"
        response["id"] = "call-1"
    return {
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {"role": "model", "parts": [{"functionCall": call}]},
            {"role": "user", "parts": [{"functionResponse": response}]},
        ]
    }


async def test_function_call_id_rejected_on_v1(emu: Emulator) -> None:
    await expect_400(
        emu,
        function_call_history(with_id=True),
        bad_request(
            (
                "contents[1].parts[0].function_call",
                f"{UNKNOWN} \"id\" at 'contents[1].parts[0].function_call': Cannot find field.",
            ),
            (
                "contents[2].parts[0].function_response",
                f"{UNKNOWN} \"id\" at 'contents[2].parts[0].function_response': Cannot find field.",
            ),
        ),
    )


async def test_function_call_id_accepted_on_v1beta1_and_when_switched_off(emu: Emulator) -> None:
    body = function_call_history(with_id=True)
    status, answer, _ = await emu.post(emu.url(version="v1beta1"), body)
    assert status == 200, answer
    await emu.admin("POST", "config", json={"reject_function_call_id": False})
    assert (await emu.post(emu.url(), body))[0] == 200
    assert (await emu.post(emu.url(), function_call_history(with_id=False)))[0] == 200


@pytest.mark.parametrize("contents", [None, []])
async def test_empty_contents(emu: Emulator, contents: Any) -> None:
    body = {} if contents is None else {"contents": contents}
    message = (
        f"Unable to submit request because at least one contents field is required. {GEMINI_DOCS}"
    )
    await expect_400(emu, body, semantic(message))


async def test_bad_role(emu: Emulator) -> None:
    body = {"contents": [{"role": "system", "parts": [{"text": "Be brief."}]}]}
    message = (
        f"Unable to submit request because Please use a valid role: user, model.. {GEMINI_DOCS}"
    )
    await expect_400(emu, body, semantic(message))


async def test_content_without_parts(emu: Emulator) -> None:
    body = {"contents": [{"role": "user", "parts": []}]}
    message = (
        "Unable to submit request because it must include at least one parts field, which "
        f"describes the prompt input. {GEMINI_DOCS}"
    )
    await expect_400(emu, body, semantic(message))


async def test_part_with_two_data_members(emu: Emulator) -> None:
    body = {
        "contents": [
            {
                "role": "user",
                "parts": [{"text": "a", "inlineData": {"mimeType": "image/png", "data": "AAAA"}}],
            }
        ]
    }
    description = (
        "Invalid value at 'contents[0].parts[0]' (oneof), oneof field 'data' is already set. "
        "Cannot set 'inlineData'"
    )
    await expect_400(emu, body, bad_request(("contents[0].parts[0]", description)))


async def test_part_without_data(emu: Emulator) -> None:
    body = {"contents": [{"role": "user", "parts": [{"thought": True}]}]}
    message = (
        "Unable to submit request because it must have a text parameter. Add a text parameter "
        f"and try again. {GEMINI_DOCS}"
    )
    await expect_400(emu, body, semantic(message))


async def test_parameters_and_parameters_json_schema_together(emu: Emulator) -> None:
    declaration = {
        "name": "get_weather",
        "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}},
        "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    status, answer, _ = await emu.post(
        emu.url(), user_body(tools=[{"functionDeclarations": [declaration]}])
    )
    assert status == 400
    assert set(answer["error"]) == {"code", "message", "status"}
    assert answer["error"]["message"].startswith(
        "Unable to submit request because `get_weather` functionDeclaration"
    )
    assert "parameters_json_schema" in answer["error"]["message"]


async def test_response_json_schema_needs_json_mime_type(emu: Emulator) -> None:
    config: dict[str, Any] = {"responseJsonSchema": {"type": "object"}}
    status, answer, _ = await emu.post(emu.url(), user_body(generationConfig=config))
    assert status == 400
    assert answer["error"]["status"] == "INVALID_ARGUMENT"
    assert "`response_json_schema` requires `response_mime_type`" in answer["error"]["message"]
    config["responseMimeType"] = "application/json"
    assert (await emu.post(emu.url(), user_body(generationConfig=config)))[0] == 200


async def test_both_response_schemas(emu: Emulator) -> None:
    config = {
        "responseMimeType": "application/json",
        "responseSchema": {"type": "OBJECT"},
        "responseJsonSchema": {"type": "object"},
    }
    status, answer, _ = await emu.post(emu.url(), user_body(generationConfig=config))
    assert status == 400 and "both set" in answer["error"]["message"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"temperature": 2.5},
            "it has a temperature value of 2.5 but the supported range is from 0 (inclusive) to 2.0001 (exclusive)",
        ),
        (
            {"topP": 1.5},
            "it has a topP value of 1.5 but the supported range is from 0 (inclusive) to 1.0001 (exclusive)",
        ),
        (
            {"candidateCount": 9},
            "it has a candidateCount value of 9 but the supported range is from 1 (inclusive) to 9 (exclusive)",
        ),
        (
            {"maxOutputTokens": 0},
            "it has a maxOutputTokens value of 0 but the supported range is from 1 (inclusive) to 65537 (exclusive)",
        ),
        (
            {"stopSequences": list("abcdef")},
            "it has a stopSequences value of 6 but the supported range is from 1 (inclusive) to 6 (exclusive)",
        ),
    ],
)
async def test_generation_config_ranges(
    emu: Emulator, config: dict[str, Any], message: str
) -> None:
    full = f"Unable to submit request because {message}. Update the value and try again."
    await expect_400(emu, user_body(generationConfig=config), semantic(full))


async def test_max_output_tokens_limit_is_per_model(emu: Emulator) -> None:
    body = user_body(generationConfig={"maxOutputTokens": 10000})
    status, answer, _ = await emu.post(emu.url(model="gemini-2.0-flash-001"), body)
    assert status == 400 and "to 8193 (exclusive)" in answer["error"]["message"]
    assert (await emu.post(emu.url(model="gemini-2.5-pro"), body))[0] == 200


@pytest.mark.parametrize(
    "labels", [{"Team": "a"}, {"team": "A"}, {"1team": "a"}, {"team": "x" * 64}]
)
async def test_bad_labels(emu: Emulator, labels: dict[str, str]) -> None:
    status, answer, _ = await emu.post(emu.url(), user_body(labels=labels))
    assert status == 400 and "label" in answer["error"]["message"]


async def test_good_labels(emu: Emulator) -> None:
    labels = {"tenant": "acme", "cost-center": "r_and_d-7", "empty": ""}
    assert (await emu.post(emu.url(), user_body(labels=labels)))[0] == 200


async def test_several_errors_are_reported_together(emu: Emulator) -> None:
    body = user_body(generationConfig={"foo": 1, "bar": 2}, extra=3)
    status, answer, _ = await emu.post(emu.url(), body)
    assert status == 400
    violations = answer["error"]["details"][0]["fieldViolations"]
    assert len(violations) == 3
    assert answer["error"]["message"].count("\n") == 2


# vertex-wire.md §2.6, with the elided base64 values completed so that they decode.
COMPOSED_EXAMPLE = {
    "systemInstruction": {"parts": [{"text": "Answer in one sentence."}]},
    "contents": [
        {
            "role": "user",
            "parts": [
                {"text": "What is in this picture, and what's the weather there?"},
                {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQSk"}},
            ],
        },
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "CiQBVKhc7w==",
                }
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"output": {"tempC": 18}}}}
            ],
        },
    ],
    "tools": [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "parametersJsonSchema": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                    },
                }
            ]
        }
    ],
    "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
    "generationConfig": {
        "temperature": 0.2,
        "maxOutputTokens": 512,
        "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": False},
    },
    "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}],
    "labels": {"tenant": "acme"},
}


@pytest.mark.parametrize("method", ["generateContent", "streamGenerateContent", "countTokens"])
async def test_composed_example_is_accepted(emu: Emulator, method: str) -> None:
    body = dict(COMPOSED_EXAMPLE)
    if method == "countTokens":
        for key in ("toolConfig", "safetySettings", "labels"):
            body.pop(key)
    status, answer, _ = await emu.post(emu.url(method), body)
    assert status == 200, answer
    (record,) = await emu.records()
    assert record["schema_errors"] == []


async def test_non_json_body(emu: Emulator) -> None:
    async with emu.http.post(
        emu.url(), data=b'{"contents": [}', headers=emu.auth(**{"Content-Type": "application/json"})
    ) as resp:
        answer = await resp.json()
    assert resp.status == 400
    assert answer["error"]["message"].startswith("Invalid JSON payload received. Unexpected token.")
    assert answer["error"]["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"


async def test_wrong_content_type(emu: Emulator) -> None:
    async with emu.http.post(
        emu.url(),
        data=b"contents=hello",
        headers=emu.auth(**{"Content-Type": "application/x-www-form-urlencoded"}),
    ) as resp:
        answer = await resp.json()
    assert resp.status == 400
    assert answer["error"]["status"] == "INVALID_ARGUMENT"
    assert "Cannot bind query parameter" in answer["error"]["message"]


async def test_json_array_root(emu: Emulator) -> None:
    message = 'Invalid JSON payload received. Unknown name "": Root element must be a message.'
    await expect_400(emu, [1], bad_request((None, message)))


async def test_unknown_model_404(emu: Emulator) -> None:
    status, answer, _ = await emu.post(emu.url(model="gemini-9-ultra"), user_body())
    assert status == 404
    assert answer == {
        "error": {
            "code": 404,
            "message": (
                "Publisher Model `projects/test-project/locations/us-central1/publishers/google/models/gemini-9-ultra` "
                "was not found or your project does not have access to it. Please ensure you are using a valid "
                "model version. For more information, see: "
                "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions"
            ),
            "status": "NOT_FOUND",
        }
    }


async def test_unknown_method_is_googles_html_404(emu: Emulator) -> None:
    status, answer, resp = await emu.post(emu.url("fooBar"), user_body())
    assert status == 404
    assert resp.headers["Content-Type"].startswith("text/html")
    assert "Error 404 (Not Found)!!1" in answer and "fooBar" in answer


async def test_unknown_publisher_is_a_missing_model(emu: Emulator) -> None:
    url = emu.url().replace("publishers/google", "publishers/acme")
    status, answer, _ = await emu.post(url, user_body())
    assert status == 404 and answer["error"]["status"] == "NOT_FOUND"


async def test_endpoints_do_not_exist_yet(emu: Emulator) -> None:
    url = f"{emu.base_url}/v1/projects/p/locations/us-central1/endpoints/123:generateContent"
    status, answer, _ = await emu.post(url, user_body())
    assert status == 404
    assert (
        answer["error"]["message"]
        == "Endpoint `projects/p/locations/us-central1/endpoints/123` not found."
    )


@pytest.mark.parametrize("location", ["global", "us", "eu", "europe-west4"])
async def test_locations(emu: Emulator, location: str) -> None:
    assert (await emu.post(emu.url(location=location), user_body()))[0] == 200


async def test_bad_location(emu: Emulator) -> None:
    assert (await emu.post(emu.url(location="moon"), user_body()))[0] == 400
