"""Supervised tuning datasets: the checks Vertex runs on every JSONL line, and their statistics.

A line is one example, ``{"contents": [Content, …], "systemInstruction"?: Content, "tools"?:
[Tool, …]}`` (Google's "Prepare supervised fine-tuning data for Gemini models"). It must be a
JSON object of those fields that the discovery walker accepts as parts of a
``GenerateContentRequest`` (camelCase names, the Content and Part types), and pass these rules:
the Gemini request rules for roles, parts, part data and media; ``contents`` not empty; turns
alternate between ``user`` and ``model``, starting with ``user`` and ending with ``model`` (the
answer the model learns); every turn names its role. Blank lines are skipped. A validation
dataset holds at most 256 examples; a dataset with no example is refused.

A problem fails the job (JOB_STATE_FAILED, ``error.code`` 3) with a message naming the dataset
and the 1-based line: ``Dataset validation failed for gs://b/train.jsonl: line 3: the last turn
must have the role "model" (the answer to learn).`` (modelled).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from emulator import rules
from emulator.counting import billable_characters, count_prompt
from emulator.discovery import document
from emulator.tuning_rules import schema_id

LINE_FIELDS = ("contents", "systemInstruction", "tools")
MAX_VALIDATION_EXAMPLES = 256
# Examples per tuning step, for ``tuningStepCount`` (epochs x ceil(examples / batch)).
BATCH_SIZE = 8
DEFAULT_EPOCHS = 3
_LINE_RULES = (
    rules.part_data_is_oneof,
    rules.roles_are_user_or_model,
    rules.parts_required,
    rules.part_has_data,
    rules.media_parts,
)


class DatasetProblem(ValueError):
    """A dataset Vertex refuses; the message is the whole text the job's error carries."""


@dataclass
class DatasetStats:
    """What ``tuningDataStats.supervisedTuningDataStats`` reports about the training data."""

    examples: int = 0
    characters: int = 0
    tokens: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self, epochs: int) -> dict[str, Any]:
        """The stats (int64 counts as strings), with the step count for ``epochs``."""
        steps = epochs * max(1, math.ceil(self.examples / BATCH_SIZE))
        return {
            "tuningDatasetExampleCount": str(self.examples),
            "totalTuningCharacterCount": str(self.characters),
            "totalBillableTokenCount": str(self.tokens * epochs),
            "tuningStepCount": str(steps),
            "userDatasetExamples": self.samples,
        }


def _turn_problem(contents: list[Any]) -> str | None:
    previous = None
    for i, content in enumerate(contents):
        role = content.get("role") if isinstance(content, dict) else None
        if role is None:
            return f'contents[{i}] has no role; every turn must be "user" or "model".'
        if role == previous:
            return f'contents[{i}] repeats the role "{role}"; turns must alternate.'
        previous = role
    if contents[0].get("role") != "user":
        return 'the first turn must have the role "user".'
    if previous != "model":
        return 'the last turn must have the role "model" (the answer to learn).'
    return None


def line_problem(line: bytes, version: str) -> str | None:
    """What is wrong with one dataset line, or None."""
    try:
        example = json.loads(line)
    except ValueError:
        return "not valid JSON."
    if not isinstance(example, dict):
        return "an example must be a JSON object."
    unknown = [key for key in example if key not in LINE_FIELDS]
    if unknown:
        return f'unknown field "{unknown[0]}"; an example holds {", ".join(LINE_FIELDS)}.'
    result = document(version).validate(
        schema_id(version, "GenerateContentRequest"), example, lenient_names=False
    )
    if result.errors:
        return result.errors[0].description
    contents = example.get("contents")
    if not isinstance(contents, list) or not contents:
        return "contents must hold at least one user turn and one model turn."
    context = rules.RuleContext(version=version, method="generateContent")
    for rule in _LINE_RULES:
        violations = rule(example, context)
        if violations:
            return violations[0].description
    return _turn_problem(contents)


def _user_sample(example: dict[str, Any]) -> dict[str, Any]:
    first = example["contents"][0]
    return {"role": "user", "parts": first.get("parts", [])}


def check_dataset(uri: str, data: bytes, version: str, *, validation: bool) -> DatasetStats:
    """Check every line of a dataset; raises :class:`DatasetProblem` at the first bad one."""
    stats = DatasetStats()
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        problem = line_problem(line, version)
        if problem is not None:
            raise DatasetProblem(f"Dataset validation failed for {uri}: line {number}: {problem}")
        example = json.loads(line)
        stats.examples += 1
        stats.tokens += count_prompt(example).total
        stats.characters += sum(
            billable_characters(str(part.get("text", "")))
            for content in example["contents"]
            for part in content.get("parts", [])
            if isinstance(part, dict)
        )
        if len(stats.samples) < 3:
            stats.samples.append(_user_sample(example))
    if stats.examples == 0:
        raise DatasetProblem(f"Dataset validation failed for {uri}: the file holds no examples.")
    if validation and stats.examples > MAX_VALIDATION_EXAMPLES:
        raise DatasetProblem(
            f"Dataset validation failed for {uri}: a validation dataset holds at most "
            f"{MAX_VALIDATION_EXAMPLES} examples, this one holds {stats.examples}."
        )
    return stats
