"""Semantic rules of the OpenAI-compatible endpoint, checked once the body fits the ``openai``
types and the model is known. Like Vertex's semantic checks, only the first problem is reported.

Wording: Vertex's own range template where Vertex translates the field into a GenerationConfig
value (``maxOutputTokens``, ``candidateCount``, ...); OpenAI's wording for the chat-format rules
(tool-call pairing, images, schemas, unsupported parameters). Which ones are verified and which
are modelled is listed in ``emulator/README.md``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

import jsonschema

from emulator.openai_models import OpenModel
from emulator.openai_prompt import content_parts, count_prompt_tokens, decode_data_url

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]+$")
MAX_NAME_LENGTH = 64
MAX_STOP_SEQUENCES = 5
IMAGE_MIME_TYPES = (
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
    "image/heic",
    "image/heif",
)
PDF_MIME_TYPE = "application/pdf"
_IMAGE_EXAMPLE = "'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='"
_PDF_EXAMPLE = "'data:application/pdf;base64,SGVsbG8sIFdvcmxkIQ=='"

TOOL_REPLY_MISSING = (
    "An assistant message with 'tool_calls' must be followed by tool messages responding to "
    "each 'tool_call_id'. The following tool_call_ids did not have response messages: {ids}"
)
TOOL_WITHOUT_CALL = (
    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
    "with 'tool_calls'."
)
TOOL_ID_NOT_FOUND = (
    "Invalid parameter: 'tool_call_id' of '{id}' not found in 'tool_calls' of previous message."
)


def range_message(name: str, value: Any, low: str, high: str) -> str:
    """Vertex's range template (the same words its GenerationConfig checks use)."""
    return (
        f"Unable to submit request because it has a {name} value of {value} but the supported "
        f"range is from {low} (inclusive) to {high} (exclusive). Update the value and try again."
    )


def _listing(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _shown(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _decodes(text: str) -> bool:
    try:
        return bool(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return False


# --- the rules ---------------------------------------------------------------------------------

Rule = Callable[[dict[str, Any], OpenModel], list[str]]


def messages_not_empty(body: dict[str, Any], model: OpenModel) -> list[str]:
    """At least one message."""
    if body.get("messages") == []:
        return [
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got "
            "an empty array instead."
        ]
    return []


def _image_problem(url: str, path: str) -> str | None:
    """OpenAI's wording for a bad image (``path`` names the ``image_url`` object)."""
    if url.startswith(("https://", "gs://")):
        return None
    expected = (
        f"Invalid '{path}'. Expected a base64-encoded data URL with an image MIME type "
        f"(e.g. {_IMAGE_EXAMPLE})"
    )
    decoded = decode_data_url(url)
    if decoded is None:
        return (
            f"Invalid '{path}.url'. Expected an https:// or gs:// URL or a base64-encoded data "
            f"URL with an image MIME type (e.g. {_IMAGE_EXAMPLE}), but got a value with an "
            "unsupported scheme."
        )
    mime, data = decoded
    if mime not in IMAGE_MIME_TYPES:
        return f"{expected}, but got unsupported MIME type '{mime}'."
    if not data:
        return f"{expected}, but got an invalid base64-encoded value."
    return None


def _file_problem(file: dict[str, Any], path: str) -> str | None:
    if "file_id" in file:
        return (
            f"Unsupported parameter: '{path}.file_id' is not supported on Vertex AI. Send the "
            f"document inline as '{path}.file_data'."
        )
    data_url = file.get("file_data")
    if not isinstance(data_url, str):
        return f"Missing required parameter: '{path}.file_data'."
    decoded = decode_data_url(data_url)
    expected = (
        f"Invalid file data: '{path}.file_data'. Expected a base64-encoded data URL with an "
        f"application/pdf MIME type (e.g. {_PDF_EXAMPLE})"
    )
    if decoded is None:
        return f"{expected}, but got a value that is not a data URL."
    mime, data = decoded
    if mime != PDF_MIME_TYPE:
        return f"{expected}, but got unsupported MIME type '{mime}'."
    if not data:
        return f"{expected}, but got an invalid base64 string."
    return None


def _unsupported_content(kind: str) -> str:
    return f"Invalid content type. {kind} is only supported by certain models."


def media_parts(body: dict[str, Any], model: OpenModel) -> list[str]:
    """Images only for vision models (and well formed), PDFs only where documents are accepted."""
    images = 0
    for i, message in enumerate(body.get("messages") or []):
        if not isinstance(message, dict):
            continue
        for j, part in content_parts(message):
            path = f"messages[{i}].content[{j}]"
            kind = part.get("type")
            if kind == "image_url":
                if not model.vision:
                    return [_unsupported_content("image_url")]
                images += 1
                url = part.get("image_url", {}).get("url", "")
                problem = _image_problem(str(url), f"{path}.image_url")
                if problem:
                    return [problem]
            elif kind == "file":
                if not model.documents:
                    return [_unsupported_content("file")]
                problem = _file_problem(part.get("file", {}), f"{path}.file")
                if problem:
                    return [problem]
            elif kind == "input_audio":
                if not model.audio:
                    return [_unsupported_content("input_audio")]
                if not _decodes(str(part.get("input_audio", {}).get("data", ""))):
                    return [
                        f"Invalid '{path}.input_audio.data': expected base64-encoded audio data."
                    ]
    if model.max_images is not None and images > model.max_images:
        return [
            f"Unable to submit request because it has {images} images but model "
            f"`{model.name}` accepts at most {model.max_images} images per request. Remove "
            "some images and try again."
        ]
    return []


def tool_messages_pair_up(body: dict[str, Any], model: OpenModel) -> list[str]:
    """Tool results answer the tool calls of the assistant message right before them, all of them."""
    open_ids: list[str] = []
    answered: set[str] = set()
    replies = 0
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        if message.get("role") == "tool":
            if not open_ids:
                return [TOOL_WITHOUT_CALL]
            call_id = str(message.get("tool_call_id", ""))
            if call_id not in open_ids:
                return [TOOL_ID_NOT_FOUND.format(id=call_id)]
            answered.add(call_id)
            replies += 1
            continue
        missing = [c for c in open_ids if c not in answered]
        if open_ids and missing:
            return [TOOL_REPLY_MISSING.format(ids=", ".join(missing))]
        open_ids, answered, replies = [], set(), 0
        if message.get("role") == "assistant":
            calls = message.get("tool_calls") or []
            open_ids = [str(c.get("id", "")) for c in calls if isinstance(c, dict)]
    missing = [c for c in open_ids if c not in answered]
    if replies and missing:
        return [TOOL_REPLY_MISSING.format(ids=", ".join(missing))]
    return []


def assistant_has_content(body: dict[str, Any], model: OpenModel) -> list[str]:
    """An assistant message carries content or tool calls."""
    for message in body.get("messages") or []:
        if (
            isinstance(message, dict)
            and message.get("role") == "assistant"
            and message.get("content") is None
            and not message.get("tool_calls")
        ):
            return ["Invalid value for 'content': expected a string, got null."]
    return []


def _name_problem(name: Any, path: str) -> str | None:
    if not isinstance(name, str):
        return None
    if len(name) > MAX_NAME_LENGTH:
        return (
            f"Invalid '{path}': string too long. Expected a string with maximum length "
            f"{MAX_NAME_LENGTH}, but got a string with length {len(name)} instead."
        )
    if not NAME_PATTERN.match(name):
        return (
            f"Invalid '{path}': string does not match pattern. Expected a string that matches "
            "the pattern '^[a-zA-Z0-9_-]+$'."
        )
    return None


def schema_problem(schema: Any, what: str) -> str | None:
    """``None`` when ``schema`` is a usable JSON Schema, else OpenAI's "Invalid schema" message."""
    if not isinstance(schema, dict):
        return f"Invalid schema for {what}: schema must be a JSON object."
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        return f"Invalid schema for {what}: {exc.message}."
    return None


def declared_functions(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``function`` objects of the declared function tools, in order."""
    out = []
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and tool.get("type") == "function":
            function = tool.get("function")
            if isinstance(function, dict):
                out.append(function)
    return out


def tools_are_usable(body: dict[str, Any], model: OpenModel) -> list[str]:
    """Function tools only, with OpenAI-valid names and JSON Schema parameters."""
    for i, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool, dict):
            continue
        if tool.get("type") != "function":
            return [
                f"Unsupported value: 'tools[{i}].type' does not support '{tool.get('type')}' "
                "with this model. Supported values are: 'function'."
            ]
        function = tool.get("function", {})
        problem = _name_problem(function.get("name"), f"tools[{i}].function.name")
        if problem:
            return [problem]
        if "parameters" in function:
            parameters = function["parameters"]
            what = f"function '{function.get('name')}'"
            problem = schema_problem(parameters, what)
            if problem:
                return [problem]
            if parameters.get("type") != "object":
                return [
                    f"Invalid schema for {what}: schema must be a JSON Schema of 'type: "
                    f'"object"\', got \'type: "{parameters.get("type")}"\'.'
                ]
    return []


def tool_choice_fits(body: dict[str, Any], model: OpenModel) -> list[str]:
    """``tool_choice`` / ``parallel_tool_calls`` need tools; a named function must be declared."""
    choice = body.get("tool_choice")
    has_tools = bool(body.get("tools"))
    if choice is not None and choice not in ("none", "auto") and not has_tools:
        return [
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
            "specified."
        ]
    if body.get("parallel_tool_calls") is not None and not has_tools:
        return [
            "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when "
            "'tools' are specified."
        ]
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind != "function":
            return [
                f"Unsupported value: 'tool_choice.type' does not support '{kind}' with this "
                "model. Supported values are: 'function'."
            ]
        name = choice.get("function", {}).get("name")
        if name not in [f.get("name") for f in declared_functions(body)]:
            return [f"Invalid value for 'tool_choice': function '{name}' is not in 'tools'."]
    return []


def response_format_fits(body: dict[str, Any], model: OpenModel) -> list[str]:
    """A ``json_schema`` response format carries a usable schema."""
    fmt = body.get("response_format")
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return []
    spec = fmt.get("json_schema", {})
    problem = _name_problem(spec.get("name"), "response_format.json_schema.name")
    if problem:
        return [problem]
    if "schema" not in spec:
        return ["Missing required parameter: 'response_format.json_schema.schema'."]
    problem = schema_problem(spec["schema"], f"response_format '{spec.get('name')}'")
    return [problem] if problem else []


def reasoning_effort_fits(body: dict[str, Any], model: OpenModel) -> list[str]:
    """``reasoning_effort`` only for models that take it, with a value they know."""
    effort = body.get("reasoning_effort")
    if effort is None:
        return []
    if not model.efforts:
        return ["Unsupported parameter: 'reasoning_effort' is not supported with this model."]
    if effort not in model.efforts:
        return [
            f"Unsupported value: 'reasoning_effort' does not support '{effort}' with this "
            f"model. Supported values are: {_listing(model.efforts)}."
        ]
    return []


def output_limits(body: dict[str, Any], model: OpenModel) -> list[str]:
    """``max_tokens`` / ``max_completion_tokens`` (aliases) within 1 .. the model's output cap."""
    values = {
        k: body[k]
        for k in ("max_tokens", "max_completion_tokens")
        if _number(body.get(k)) is not None
    }
    if len(values) == 2 and values["max_tokens"] != values["max_completion_tokens"]:
        return [
            "Unable to submit request because `max_tokens` and `max_completion_tokens` are both "
            "set to different values. Set only one of them and try again."
        ]
    for value in values.values():
        if not 1 <= value <= model.max_output_tokens:
            high = str(model.max_output_tokens + 1)
            return [range_message("maxOutputTokens", value, "1", high)]
    return []


def sampling_ranges(body: dict[str, Any], model: OpenModel) -> list[str]:
    """``n``, ``temperature``, ``top_p``, penalties and ``stop`` within what Vertex accepts."""
    n = _number(body.get("n"))
    if n is not None and model.max_candidates == 1 and n != 1:
        return [
            f"Unable to submit request because candidateCount must be 1 but the entered value "
            f"was {_shown(n)}. Update the candidateCount value and try again."
        ]
    bounds = [
        (
            "n",
            "candidateCount",
            1.0,
            float(model.max_candidates),
            "1",
            str(model.max_candidates + 1),
        ),
        ("temperature", "temperature", 0.0, 2.0, "0", "2.0001"),
        ("top_p", "topP", 0.0, 1.0, "0", "1.0001"),
        ("frequency_penalty", "frequencyPenalty", -2.0, 2.0, "-2", "2.0001"),
        ("presence_penalty", "presencePenalty", -2.0, 2.0, "-2", "2.0001"),
    ]
    for key, name, low, high, low_text, high_text in bounds:
        value = _number(body.get(key))
        if value is not None and not low <= value <= high:
            return [range_message(name, _shown(value), low_text, high_text)]
    stop = body.get("stop")
    if isinstance(stop, list) and len(stop) > MAX_STOP_SEQUENCES:
        return [range_message("stopSequences", len(stop), "1", str(MAX_STOP_SEQUENCES + 1))]
    return []


def prompt_fits_context(body: dict[str, Any], model: OpenModel) -> list[str]:
    """The prompt (by the emulator's token rule) fits the model's context window."""
    tokens = count_prompt_tokens(body)
    if tokens > model.context_tokens:
        return [
            f"The input token count ({tokens}) exceeds the maximum number of tokens allowed "
            f"({model.context_tokens})."
        ]
    return []


def google_options_only_for_gemini(body: dict[str, Any], model: OpenModel) -> list[str]:
    """``extra_body.google`` (Vertex's Gemini options) is for Google models only."""
    if "extra_body" in body and not model.gemini:
        return ["Unsupported parameter: 'extra_body.google' is only supported for Google models."]
    return []


def stream_options_need_stream(body: dict[str, Any], model: OpenModel) -> list[str]:
    """``stream_options`` only on streamed requests."""
    if body.get("stream_options") is not None and body.get("stream") is not True:
        return ["The 'stream_options' parameter is only allowed when 'stream' is enabled."]
    return []


RULES: tuple[Rule, ...] = (
    messages_not_empty,
    google_options_only_for_gemini,
    media_parts,
    tool_messages_pair_up,
    assistant_has_content,
    tools_are_usable,
    tool_choice_fits,
    response_format_fits,
    reasoning_effort_fits,
    output_limits,
    sampling_ranges,
    stream_options_need_stream,
    prompt_fits_context,
)


def semantic_problems(body: dict[str, Any], model: OpenModel) -> list[str]:
    """The first rule broken (Vertex reports semantic problems one at a time)."""
    for rule in RULES:
        found = rule(body, model)
        if found:
            return found[:1]
    return []
