"""The models Vertex's OpenAI-compatible endpoint (``endpoints/openapi``) serves.

The body names the model as ``publisher/model``. Model Garden MaaS models are one table below
(adding one is one line); ``google/<gemini>`` names any Gemini model of ``catalog.py``.

Limits come from Vertex's model cards: Llama 3.3 70B max output 8,192 / context 128,000;
DeepSeek R1 (0528) 32,768 / 163,840 (inputs: text and documents); gpt-oss 120B max output
131,072. Llama 4 Maverick's 8,192 cap is reported by a client that probed it live. Qwen3 235B's
16,384 / 262,144 and Maverick's 524,288 context are modelled (see ``emulator/README.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.catalog import find_model

GEMINI_EFFORTS = ("none", "low", "medium", "high")
OPEN_EFFORTS = ("low", "medium", "high")


@dataclass(frozen=True)
class OpenModel:
    """What one ``publisher/model`` accepts and how it answers."""

    name: str
    max_output_tokens: int
    context_tokens: int
    vision: bool = False
    max_images: int | None = None
    documents: bool = False
    audio: bool = False
    # Returns its chain of thought as ``message.reasoning_content``.
    reasoning_content: bool = False
    # Thinks before answering (reasoning tokens in usage) even when the thoughts are not shown.
    thinking: bool = False
    # Accepted ``reasoning_effort`` values; empty means the parameter is refused.
    efforts: tuple[str, ...] = ()
    max_candidates: int = 1
    gemini: bool = False

    @property
    def publisher(self) -> str:
        """``meta`` of ``meta/llama-3.3-70b-instruct-maas``."""
        return self.name.split("/", 1)[0]

    @property
    def model_id(self) -> str:
        """``llama-3.3-70b-instruct-maas`` of ``meta/llama-3.3-70b-instruct-maas``."""
        return self.name.split("/", 1)[1]


MAAS_MODELS: dict[str, OpenModel] = {
    m.name: m
    for m in (
        OpenModel("meta/llama-3.3-70b-instruct-maas", 8192, 128000),
        OpenModel(
            "meta/llama-4-maverick-17b-128e-instruct-maas",
            8192,
            524288,
            vision=True,
            max_images=3,
        ),
        OpenModel(
            "deepseek-ai/deepseek-r1-0528-maas",
            32768,
            163840,
            documents=True,
            reasoning_content=True,
            thinking=True,
        ),
        OpenModel("qwen/qwen3-235b-a22b-instruct-2507-maas", 16384, 262144),
        OpenModel(
            "openai/gpt-oss-120b-maas",
            131072,
            131072,
            reasoning_content=True,
            thinking=True,
            efforts=OPEN_EFFORTS,
        ),
    )
}


def find_open_model(name: str) -> OpenModel | None:
    """The model a ``publisher/model`` name stands for, or None (Vertex answers 404)."""
    if name in MAAS_MODELS:
        return MAAS_MODELS[name]
    publisher, _, model_id = name.partition("/")
    if publisher != "google" or not model_id:
        return None
    gemini = find_model("google", model_id)
    if gemini is None or not gemini.generates_content:
        return None
    return OpenModel(
        name,
        gemini.max_output_tokens,
        1048576,
        vision=True,
        documents=True,
        audio=True,
        thinking=gemini.thinking,
        efforts=GEMINI_EFFORTS if gemini.thinking else (),
        max_candidates=8,
        gemini=True,
    )
