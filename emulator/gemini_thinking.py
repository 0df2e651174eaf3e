"""Per-model thinking rules: thinkingBudget ranges, thinkingLevel support, and Gemini 3's
thought-signature requirements.

These checks need the model, which the body alone does not name. ``rules.check`` runs them when
its context carries ``model_id``; until the pipeline passes it, ``gemini.plan_reply`` runs the
same function before it answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator.errors import LEARN_MORE_GEMINI
from emulator.gemini_signatures import SKIP_VALIDATOR, is_emulator_signature
from emulator.gemini_tools import DEFAULT_NAMESPACE

Problem = tuple[str | None, str]

LEARN_MORE_SIGNATURES = (
    "Learn more: https://docs.cloud.google.com/vertex-ai/generative-ai/docs/thought-signatures"
)
DYNAMIC_BUDGET = -1


@dataclass(frozen=True)
class ThinkingSpec:
    """What one thinking model accepts in ``thinkingConfig``."""

    min_budget: int
    max_budget: int
    can_disable: bool  # thinkingBudget 0 turns thinking off
    levels: tuple[str, ...] = ()  # thinkingLevel values; empty: the model has no levels


_ALL_LEVELS = ("MINIMAL", "LOW", "MEDIUM", "HIGH")

# Vertex "Thinking" docs: 2.5 Pro 128-32768 (cannot disable), 2.5 Flash 1-24576 (0 = off),
# 2.5 Flash-Lite 512-24576 (0 = off); Gemini 3 cannot switch thinking off and takes levels
# (3 Pro: LOW/HIGH, 3.1 Pro: LOW/MEDIUM/HIGH, Flash models: all four).
THINKING: dict[str, ThinkingSpec] = {
    "gemini-2.5-pro": ThinkingSpec(128, 32768, False),
    "gemini-2.5-flash": ThinkingSpec(1, 24576, True),
    "gemini-2.5-flash-lite": ThinkingSpec(512, 24576, True),
    "gemini-3-pro-preview": ThinkingSpec(128, 32768, False, ("LOW", "HIGH")),
    "gemini-3-flash-preview": ThinkingSpec(1, 24576, False, _ALL_LEVELS),
    "gemini-3.1-pro-preview": ThinkingSpec(128, 32768, False, ("LOW", "MEDIUM", "HIGH")),
    "gemini-3.1-flash-lite-preview": ThinkingSpec(512, 24576, False, _ALL_LEVELS),
}


def _unable(reason: str) -> str:
    # Vertex appends ". Learn more" even when the reason already ends with a full stop.
    return f"Unable to submit request because {reason}. {LEARN_MORE_GEMINI}"


MSG_SIGNATURE_INVALID = _unable("Thought signature is not valid.")


def is_gemini_3(model_id: str) -> bool:
    """Gemini 3 and later enforce thought signatures on function calls."""
    return model_id.startswith("gemini-3")


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(value) if isinstance(value, str | float) else None
    except ValueError:
        return None


def thinking_config(body: dict[str, Any]) -> dict[str, Any]:
    """``generationConfig.thinkingConfig`` (empty when absent)."""
    config = body.get("generationConfig")
    thinking = config.get("thinkingConfig") if isinstance(config, dict) else None
    return thinking if isinstance(thinking, dict) else {}


def thinking_level(body: dict[str, Any]) -> str | None:
    """The requested thinkingLevel, None when unset or THINKING_LEVEL_UNSPECIFIED."""
    level = thinking_config(body).get("thinkingLevel")
    return level if isinstance(level, str) and level != "THINKING_LEVEL_UNSPECIFIED" else None


def level_and_budget_problem(body: dict[str, Any]) -> list[Problem]:
    """``thinkingLevel`` and ``thinkingBudget`` are alternatives (model-independent)."""
    if thinking_level(body) is not None and thinking_config(body).get("thinkingBudget") is not None:
        message = _unable(
            "`thinking_level` and `thinking_budget` are both set; only one of them may be set"
        )
        return [("generation_config.thinking_config", message)]
    return []


def thinking_problems(body: dict[str, Any], model_id: str, thinking_model: bool) -> list[Problem]:
    """``thinkingConfig`` against what ``model_id`` supports (first problem only)."""
    config = thinking_config(body)
    where = "generation_config.thinking_config"
    level = thinking_level(body)
    spec = THINKING.get(model_id)
    if level is not None:
        if not is_gemini_3(model_id) or spec is None:
            return [
                (
                    f"{where}.thinking_level",
                    _unable("Thinking level is not supported for this model."),
                )
            ]
        if level not in spec.levels:
            reason = f"Thinking level {level} is not supported for this model."
            return [(f"{where}.thinking_level", _unable(reason))]
    budget = _int(config.get("thinkingBudget"))
    if not thinking_model:
        if config.get("includeThoughts") is True:
            reason = "Thinking_config.include_thoughts is only enabled when thinking is enabled."
            return [(f"{where}.include_thoughts", _unable(reason))]
        if budget is not None and budget > 0:
            return [
                (f"{where}.thinking_budget", _unable("Thinking is not supported by this model."))
            ]
        return []
    if budget is None or budget == DYNAMIC_BUDGET or spec is None:
        return []
    if budget == 0:
        if spec.can_disable:
            return []
        reason = "The model does not support setting thinking_budget to 0."
        return [(f"{where}.thinking_budget", _unable(reason))]
    if not spec.min_budget <= budget <= spec.max_budget:
        reason = (
            "thinking_budget is out of range; supported values are integers from "
            f"{spec.min_budget} to {spec.max_budget}"
        )
        return [(f"{where}.thinking_budget", _unable(reason))]
    return []


def _current_turn_start(contents: list[Any]) -> int:
    """Index after the last user turn that holds plain text (the start of the current turn)."""
    for i in range(len(contents) - 1, -1, -1):
        content = contents[i]
        if not isinstance(content, dict) or content.get("role", "user") != "user":
            continue
        if any(isinstance(p, dict) and "text" in p for p in content.get("parts") or []):
            return i + 1
    return 0


def gemini_3_signature_problems(body: dict[str, Any]) -> list[Problem]:
    """Gemini 3: foreign signatures are invalid, and every model turn of the current turn must
    carry a signature on its first function call."""
    raw = body.get("contents")
    contents: list[Any] = raw if isinstance(raw, list) else []
    for i, content in enumerate(contents):
        if not isinstance(content, dict) or content.get("role") != "model":
            continue
        for j, part in enumerate(content.get("parts") or []):
            signature = part.get("thoughtSignature") if isinstance(part, dict) else None
            if (
                isinstance(signature, str)
                and signature != SKIP_VALIDATOR
                and not is_emulator_signature(signature)
            ):
                return [(f"contents[{i}].parts[{j}].thought_signature", MSG_SIGNATURE_INVALID)]
    for i in range(_current_turn_start(contents), len(contents)):
        content = contents[i]
        if not isinstance(content, dict) or content.get("role") != "model":
            continue
        first = next(
            (
                (j, p)
                for j, p in enumerate(content.get("parts") or [])
                if isinstance(p, dict) and isinstance(p.get("functionCall"), dict)
            ),
            None,
        )
        if first is not None and not first[1].get("thoughtSignature"):
            j, part = first
            name = part["functionCall"].get("name", "")
            message = (
                f"Unable to submit request because function call `{DEFAULT_NAMESPACE}:{name}` in "
                f"the {i + 1}. content block is missing a `thought_signature`. "
                f"{LEARN_MORE_SIGNATURES}"
            )
            return [(f"contents[{i}].parts[{j}].thought_signature", message)]
    return []


def model_problems(body: dict[str, Any], model_id: str, thinking_model: bool) -> list[Problem]:
    """Every model-dependent problem of a generate request (first one first)."""
    problems = thinking_problems(body, model_id, thinking_model)
    if not problems and is_gemini_3(model_id):
        problems = gemini_3_signature_problems(body)
    return problems
