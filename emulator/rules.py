"""Vertex-only request rules that the discovery document cannot express.

Each rule is a small named function ``(body, context) -> list[RuleViolation]`` over the camelCase
body. Rules marked ``parse_level`` are errors of Google's JSON transcoder: Vertex reports them all
together with a ``BadRequest`` detail. The others are Vertex's semantic checks, which stop at the
first problem and carry no details ("Unable to submit request because ...").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from emulator import (
    gemini_image,
    gemini_media,
    gemini_schema,
    gemini_signatures,
    gemini_thinking,
    gemini_tools,
    tts,
)
from emulator.catalog import OutputModality, find_model
from emulator.errors import LEARN_MORE_FUNCTIONS, LEARN_MORE_GEMINI

DATA_MEMBERS = (
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
)
GENERATE_METHODS = ("generateContent", "streamGenerateContent")
MAX_STOP_SEQUENCES = 5
MAX_CANDIDATES = 8


@dataclass(frozen=True)
class RuleContext:
    """What a rule may need besides the body."""

    version: str
    method: str
    max_output_tokens: int = 65536
    reject_function_call_id: bool = True
    # Known only when the pipeline passes them; the rules that need them are skipped otherwise.
    model_id: str | None = None
    project: str | None = None
    location: str | None = None


@dataclass(frozen=True)
class RuleViolation:
    """One broken rule; ``field`` is the snake_case proto path (None at the root)."""

    field: str | None
    description: str
    parse_level: bool = False
    # A rejection that depends on data the sender cannot check (a thought signature it relays
    # from its own caller), not on how the body is built: answered as a 400 like any other, but
    # left out of the audit of the sender's bodies.
    caller_data: bool = False


Rule = Callable[[dict[str, Any], RuleContext], list[RuleViolation]]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _contents(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, content in enumerate(_list(body.get("contents"))):
        if isinstance(content, dict):
            yield f"contents[{i}]", content


def _parts(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    holders = list(_contents(body))
    if isinstance(body.get("systemInstruction"), dict):
        holders.append(("system_instruction", body["systemInstruction"]))
    for path, content in holders:
        for j, part in enumerate(_list(content.get("parts"))):
            if isinstance(part, dict):
                yield f"{path}.parts[{j}]", part


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _shown(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def function_call_ids_on_v1(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """Vertex v1 rejects ``functionCall.id`` / ``functionResponse.id`` (vertex-wire.md §2.3)."""
    if ctx.version != "v1" or not ctx.reject_function_call_id:
        return []
    out = []
    for path, part in _parts(body):
        for member, snake in (
            ("functionCall", "function_call"),
            ("functionResponse", "function_response"),
        ):
            if "id" in _dict(part.get(member)):
                where = f"{path}.{snake}"
                message = (
                    f"Invalid JSON payload received. Unknown name \"id\" at '{where}': "
                    "Cannot find field."
                )
                out.append(RuleViolation(where, message, parse_level=True))
    return out


def part_data_is_oneof(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """A part's data members form a proto oneof: a second one is a transcoding error."""
    out = []
    for path, part in _parts(body):
        present = [k for k in part if k in DATA_MEMBERS and part[k] is not None]
        if len(present) > 1:
            message = (
                f"Invalid value at '{path}' (oneof), oneof field 'data' is already set. "
                f"Cannot set '{present[1]}'"
            )
            out.append(RuleViolation(path, message, parse_level=True))
    return out


def contents_required(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """``contents`` must hold at least one entry (countTokens may use ``instances`` instead).

    Only the methods whose request has ``contents``: ``predict`` and ``embedContent`` do not."""
    if ctx.method not in (*GENERATE_METHODS, "countTokens"):
        return []
    if _list(body.get("contents")):
        return []
    if ctx.method not in GENERATE_METHODS and _list(body.get("instances")):
        return []
    message = f"Unable to submit request because at least one contents field is required. {LEARN_MORE_GEMINI}"
    return [RuleViolation("contents", message)]


def roles_are_user_or_model(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """Only ``user`` and ``model`` turns exist on Vertex (no system/tool/function role)."""
    out = []
    for path, content in _contents(body):
        role = content.get("role")
        if role is not None and role not in ("user", "model"):
            # Vertex really does print the doubled full stop.
            message = (
                "Unable to submit request because Please use a valid role: user, model.. "
                f"{LEARN_MORE_GEMINI}"
            )
            out.append(RuleViolation(f"{path}.role", message))
    return out


def parts_required(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """Every content needs at least one part."""
    out = []
    for path, content in _contents(body):
        if not _list(content.get("parts")):
            message = (
                "Unable to submit request because it must include at least one parts field, "
                f"which describes the prompt input. {LEARN_MORE_GEMINI}"
            )
            out.append(RuleViolation(f"{path}.parts", message))
    return out


def part_has_data(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """A part that only carries flags (thought, thoughtSignature, ...) has no data."""
    out = []
    for path, part in _parts(body):
        if not any(part.get(k) is not None for k in DATA_MEMBERS):
            message = (
                "Unable to submit request because it must have a text parameter. "
                f"Add a text parameter and try again. {LEARN_MORE_GEMINI}"
            )
            out.append(RuleViolation(path, message))
    return out


def function_schemas_exclusive(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """``parameters`` xor ``parametersJsonSchema``; ``response`` xor ``responseJsonSchema``."""
    out = []
    for i, tool in enumerate(_list(body.get("tools"))):
        for j, decl in enumerate(_list(_dict(tool).get("functionDeclarations"))):
            decl = _dict(decl)
            for plain, json_form in (
                ("parameters", "parametersJsonSchema"),
                ("response", "responseJsonSchema"),
            ):
                if decl.get(plain) is not None and decl.get(json_form) is not None:
                    message = (
                        f"Unable to submit request because `{decl.get('name', '')}` "
                        f"functionDeclaration sets both `{plain}` and `{_snake(json_form)}`; "
                        f"only one of them may be set. {LEARN_MORE_FUNCTIONS}"
                    )
                    out.append(RuleViolation(f"tools[{i}].function_declarations[{j}]", message))
    return out


def response_schemas_exclusive(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """``responseSchema`` and ``responseJsonSchema`` cannot both be set."""
    config = _dict(body.get("generationConfig"))
    if config.get("responseSchema") is not None and config.get("responseJsonSchema") is not None:
        message = (
            "Unable to submit request because `response_schema` and `response_json_schema` are "
            f"both set; only one of them may be set. {LEARN_MORE_GEMINI}"
        )
        return [RuleViolation("generation_config", message)]
    return []


def response_schema_needs_json(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """A response schema needs ``responseMimeType`` ``application/json`` (or text/x.enum)."""
    config = _dict(body.get("generationConfig"))
    mime = config.get("responseMimeType")
    for key, allowed in (
        ("responseJsonSchema", ("application/json",)),
        ("responseSchema", ("application/json", "text/x.enum")),
    ):
        if config.get(key) is not None and mime not in allowed:
            message = (
                f"Unable to submit request because `{_snake(key)}` requires "
                f"`response_mime_type` to be one of: {', '.join(allowed)}. {LEARN_MORE_GEMINI}"
            )
            return [RuleViolation("generation_config.response_mime_type", message)]
    return []


def _range_message(name: str, value: str, low: str, high: str) -> str:
    return (
        f"Unable to submit request because it has a {name} value of {value} but the supported "
        f"range is from {low} (inclusive) to {high} (exclusive). Update the value and try again."
    )


def generation_ranges(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """Numeric bounds Vertex enforces on generationConfig."""
    config = _dict(body.get("generationConfig"))
    bounds: list[tuple[str, float, float, str, str]] = [
        ("temperature", 0.0, 2.0, "0", "2.0001"),
        ("topP", 0.0, 1.0, "0", "1.0001"),
        ("candidateCount", 1.0, MAX_CANDIDATES, "1", str(MAX_CANDIDATES + 1)),
        ("maxOutputTokens", 1.0, ctx.max_output_tokens, "1", str(ctx.max_output_tokens + 1)),
    ]
    out = []
    for name, low, high, low_text, high_text in bounds:
        value = _number(config.get(name))
        if value is not None and not low <= value <= high:
            message = _range_message(name, _shown(value), low_text, high_text)
            out.append(RuleViolation(f"generation_config.{_snake(name)}", message))
    stops = config.get("stopSequences")
    if isinstance(stops, list) and len(stops) > MAX_STOP_SEQUENCES:
        message = _range_message("stopSequences", str(len(stops)), "1", str(MAX_STOP_SEQUENCES + 1))
        out.append(RuleViolation("generation_config.stop_sequences", message))
    return out


def _label_text_ok(text: str, *, key: bool) -> bool:
    if len(text) > 63 or (key and not text):
        return False
    if key and not (text[0].isalpha() and text[0].islower()):
        return False
    return all((c.isalpha() and c.islower()) or c.isdigit() or c in "_-" for c in text)


def labels_are_valid(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """Billing labels: at most 63 lowercase letters, digits, ``_`` or ``-``; keys start with a letter."""
    out = []
    for i, (key, value) in enumerate(_dict(body.get("labels")).items()):
        for text, is_key, what in ((key, True, "key"), (value, False, "value")):
            if isinstance(text, str) and not _label_text_ok(text, key=is_key):
                message = (
                    f"Unable to submit request because label {what} `{text}` is invalid. Label keys "
                    "and values can be no longer than 63 characters and can only contain lowercase "
                    "letters, numeric characters, underscores, and dashes. Label keys must start "
                    "with a letter."
                )
                out.append(RuleViolation(f"labels[{i}].{what}", message))
    return out


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _violations(problems: list[tuple[str | None, str]]) -> list[RuleViolation]:
    return [RuleViolation(where, message) for where, message in problems]


def _generating(ctx: RuleContext) -> bool:
    return ctx.method in GENERATE_METHODS


def media_parts(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """Inline/file media: a supported ``mimeType``, a ``gs://`` or ``https://`` file URI."""
    return _violations(gemini_media.media_problems(body))


def _json_schemas(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for i, tool in enumerate(_list(body.get("tools"))):
        for j, decl in enumerate(_list(_dict(tool).get("functionDeclarations"))):
            for key in ("parametersJsonSchema", "responseJsonSchema"):
                if _dict(decl).get(key) is not None:
                    yield f"tools[{i}].function_declarations[{j}].{_snake(key)}", decl[key]
    config = _dict(body.get("generationConfig"))
    if config.get("responseJsonSchema") is not None:
        yield "generation_config.response_json_schema", config["responseJsonSchema"]


def json_schema_ref_siblings(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """In JSON Schema fields a ``$ref`` node may only carry other ``$`` keywords."""
    for where, schema in _json_schemas(body):
        problem = gemini_schema.ref_sibling_problem(schema)
        if problem is not None:
            return [RuleViolation(where, problem)]
    return []


def openapi_any_of_alone(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """In a function's OpenAPI ``parameters``, a node with ``anyOf`` may set nothing else."""
    for i, tool in enumerate(_list(body.get("tools"))):
        for j, decl in enumerate(_list(_dict(tool).get("functionDeclarations"))):
            params = _dict(decl).get("parameters")
            path = gemini_schema.any_of_sibling_path(params, "parameters")
            if path is not None:
                message = (
                    f"Unable to submit request because `{decl.get('name', '')}` functionDeclaration "
                    f"`{path}` schema specified other fields alongside any_of. When using anyOf, it "
                    "must be the only field set."
                )
                return [RuleViolation(f"tools[{i}].function_declarations[{j}].parameters", message)]
    return []


def function_turns(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """Function call turns follow user turns; tool results answer every call of the turn before."""
    return _violations(gemini_tools.function_turn_problems(body)) if _generating(ctx) else []


def declared_functions(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """With function declarations, calls and results in the history name declared functions."""
    if not _generating(ctx):
        return []
    return _violations(gemini_tools.undeclared_function_problems(body))


def thought_signatures_verify(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """Every signature the emulator issued must come back unchanged, on the part it signed."""
    if not _generating(ctx):
        return []
    for i, j in gemini_signatures.signature_problems(body.get("contents")):
        where = f"contents[{i}].parts[{j}].thought_signature"
        return [RuleViolation(where, gemini_thinking.MSG_SIGNATURE_INVALID, caller_data=True)]
    return []


def thinking_level_or_budget(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """``thinkingLevel`` and ``thinkingBudget`` cannot both be set."""
    return _violations(gemini_thinking.level_and_budget_problem(body)) if _generating(ctx) else []


def model_specific(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """Thinking ranges and Gemini 3 signature rules (only when the context names the model)."""
    model = find_model("google", ctx.model_id) if ctx.model_id else None
    if model is None or not _generating(ctx):
        return []
    problems = gemini_thinking.thinking_problems(body, model.model_id, model.thinking)
    if problems:
        return _violations(problems)
    if gemini_thinking.is_gemini_3(model.model_id):
        return [
            RuleViolation(where, message, caller_data=True)
            for where, message in gemini_thinking.gemini_3_signature_problems(body)
        ]
    return []


def media_output(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """Image and speech models: the response modalities they accept and their image / speech
    settings (``gemini_image.config_problems``, ``tts.config_problems``)."""
    model = find_model("google", ctx.model_id) if ctx.model_id else None
    if model is None or model.media is None or not _generating(ctx):
        return []
    if model.media.modality is OutputModality.AUDIO:
        return _violations(tts.config_problems(body, model))
    return _violations(gemini_image.config_problems(body, model))


_CACHED_CONTENT = re.compile(r"^projects/([^/]+)/locations/([^/]+)/cachedContents/([^/]+)$")


def cached_content(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """``cachedContent`` names a cache of the request's project and location, and the request
    leaves system instruction, tools and tool config to the cache."""
    name = body.get("cachedContent")
    if not name or not _generating(ctx):
        return []
    match = _CACHED_CONTENT.match(str(name))
    if match is None:
        message = (
            f"The CachedContent name `{name}` is malformed and it should be in form of "
            "projects/{project}/locations/{location}/cachedContents/{cached_content}"
        )
        return [RuleViolation("cached_content", message)]
    known = ctx.project is not None and ctx.location is not None
    if known and (match.group(1), match.group(2)) != (ctx.project, ctx.location):
        message = (
            f"CachedContent `{name}` is not in the project and location of the request "
            f"(`projects/{ctx.project}/locations/{ctx.location}`)."
        )
        return [RuleViolation("cached_content", message)]
    if any(body.get(k) for k in ("systemInstruction", "tools", "toolConfig")):
        message = (
            "CachedContent can not be used with GenerateContent request setting "
            "system_instruction, tools or tool_config. Proposed fix: move those values to "
            "CachedContent from GenerateContent request."
        )
        return [RuleViolation("cached_content", message)]
    return []


RULES: tuple[Rule, ...] = (
    function_call_ids_on_v1,
    part_data_is_oneof,
    contents_required,
    roles_are_user_or_model,
    parts_required,
    part_has_data,
    function_schemas_exclusive,
    response_schemas_exclusive,
    response_schema_needs_json,
    generation_ranges,
    labels_are_valid,
    media_parts,
    json_schema_ref_siblings,
    openapi_any_of_alone,
    function_turns,
    declared_functions,
    thought_signatures_verify,
    thinking_level_or_budget,
    model_specific,
    media_output,
    cached_content,
)


def check(body: dict[str, Any], ctx: RuleContext) -> list[RuleViolation]:
    """Run every rule, parse-level and semantic, in a stable order."""
    violations: list[RuleViolation] = []
    for rule in RULES:
        violations.extend(rule(body, ctx))
    return violations
