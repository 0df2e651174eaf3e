"""Usage accounting: the tokens of each reply and an estimated cost from a price table, so
platform teams can charge usage back per caller and model.

Prices are US dollars per million tokens. The defaults are Vertex AI's published list prices
for the standard tier (prompts up to 200k tokens) as of late 2025; `prices:` in the config
overrides or adds entries. Reasoning tokens are billed as output; cached prompt tokens at the
cached price (the input price when none is given). A model without a price gets no cost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from vertex_gateway.v1 import common_pb2


@dataclass(frozen=True)
class Price:
    """What a model costs, in US dollars per million tokens."""

    input: float
    output: float
    cached_input: float | None = None


DEFAULT_PRICES: Mapping[str, Price] = {
    "google/gemini-3-pro-preview": Price(2.00, 12.00, 0.20),
    "google/gemini-3-flash-preview": Price(0.50, 3.00, 0.05),
    "google/gemini-2.5-pro": Price(1.25, 10.00, 0.125),
    "google/gemini-2.5-flash": Price(0.30, 2.50, 0.03),
    "google/gemini-2.5-flash-lite": Price(0.10, 0.40, 0.01),
    "google/gemini-2.0-flash": Price(0.15, 0.60, 0.0375),
    "google/gemini-2.0-flash-001": Price(0.15, 0.60, 0.0375),
    "google/gemini-2.0-flash-lite": Price(0.075, 0.30),
    "google/gemini-2.5-flash-image": Price(0.30, 30.00),
    "google/gemini-2.5-flash-tts": Price(0.50, 10.00),
    "google/gemini-2.5-pro-tts": Price(1.00, 20.00),
    "google/gemini-embedding-001": Price(0.15, 0.0),
    "anthropic/claude-opus-4-1@20250805": Price(15.00, 75.00, 1.50),
    "anthropic/claude-sonnet-4-5@20250929": Price(3.00, 15.00, 0.30),
    "anthropic/claude-sonnet-4@20250514": Price(3.00, 15.00, 0.30),
    "anthropic/claude-haiku-4-5@20251001": Price(1.00, 5.00, 0.10),
    "anthropic/claude-3-5-haiku@20241022": Price(0.80, 4.00, 0.08),
}


class Account(NamedTuple):
    """The tokens of one reply and what they cost (a tuple: made on every reply, and a frozen
    dataclass costs several times as much to build)."""

    input: int
    output: int
    reasoning: int
    cached_input: int
    cost_usd: float | None  # None: the model has no price


def reply_usage(reply: Any) -> common_pb2.Usage | None:
    """The usage a reply (or a stream's message) carries, if it carries any."""
    try:
        if reply.HasField("usage"):
            usage: common_pb2.Usage = reply.usage
            return usage
    except (AttributeError, ValueError):  # a message without a usage field
        pass
    return None


def account(usage: common_pb2.Usage, price: Price | None) -> Account:
    """Tokens and estimated cost of one usage record."""
    cached = usage.cached_input_tokens
    cost = None
    if price is not None:
        cached_price = price.input if price.cached_input is None else price.cached_input
        cost = (
            max(0, usage.input_tokens - cached) * price.input
            + cached * cached_price
            + (usage.output_tokens + usage.reasoning_tokens) * price.output
        ) / 1_000_000
    return Account(usage.input_tokens, usage.output_tokens, usage.reasoning_tokens, cached, cost)


def trailing_metadata(used: Account) -> tuple[tuple[str, str], ...]:
    """The reply's usage as trailing metadata a caller or sidecar can read without parsing."""
    items: tuple[tuple[str, str], ...] = (
        ("vg-usage-input-tokens", str(used.input)),
        ("vg-usage-output-tokens", str(used.output)),
        ("vg-usage-reasoning-tokens", str(used.reasoning)),
        ("vg-usage-cached-input-tokens", str(used.cached_input)),
    )
    if used.cost_usd is not None:
        items += (("vg-estimated-cost-usd", f"{used.cost_usd:.8f}"),)
    return items


def prices_from(entries: Mapping[str, Any]) -> dict[str, Price]:
    """The default table with the configured entries over it; ValueError naming a bad one."""
    table = dict(DEFAULT_PRICES)
    for model, entry in entries.items():
        if not isinstance(entry, Mapping) or set(entry) - {"input", "output", "cached_input"}:
            raise ValueError(f"prices.{model} takes input, output and cached_input (USD per 1M)")
        values = {}
        for key in ("input", "output", "cached_input"):
            value = entry.get(key)
            if value is None:
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ValueError(f"prices.{model}.{key} must be a number >= 0")
            values[key] = float(value)
        if "input" not in values or "output" not in values:
            raise ValueError(f"prices.{model} needs input and output")
        table[str(model)] = Price(**values)
    return table
