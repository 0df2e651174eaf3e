"""The account pool: weighted first attempts, the models each account serves, and the order of
placements (locations in their configured order, accounts by weighted draw within each)."""

from __future__ import annotations

import random
from collections import Counter

from server.vertex.accounts import Account, AccountPool
from server.vertex.auth import NoAuth
from server.vertex.urls import VertexTarget, publisher_model_url


def _account(name: str, weight: float, models: frozenset[str] = frozenset()) -> Account:
    return Account(
        name, NoAuth(), lambda location: VertexTarget(f"{name}-proj", location), weight, models
    )


def test_first_attempts_follow_the_weights() -> None:
    pool = AccountPool(
        [_account("a", 3), _account("b", 1), _account("c", 0.0001)], random.Random(7)
    )
    firsts = Counter(pool.order("google/gemini-2.5-flash")[0].name for _ in range(20_000))
    assert 0.72 <= firsts["a"] / 20_000 <= 0.78  # 3/4
    assert 0.22 <= firsts["b"] / 20_000 <= 0.28  # 1/4
    assert firsts["c"] < 20
    # Every draw still holds every account, so a throttled one hands over to the others.
    assert sorted(a.name for a in pool.order("google/gemini-2.5-flash")) == ["a", "b", "c"]


def test_accounts_serve_only_their_models() -> None:
    only = frozenset({"google/text-embedding-005"})
    pool = AccountPool([_account("main", 1), _account("emb", 5, only)], random.Random(1))
    assert [a.name for a in pool.order("google/gemini-2.5-flash")] == ["main"]
    assert {a.name for a in pool.order("google/text-embedding-005")} == {"main", "emb"}
    assert pool("us-east5") == VertexTarget("main-proj", "us-east5")  # the primary's target


def test_placements_try_each_location_in_order_with_every_account() -> None:
    pool = AccountPool([_account("a", 1), _account("b", 1)], random.Random(3))
    placements = pool.placements(
        "google/gemini-2.5-flash",
        ("us-central1", "europe-west4"),
        lambda target: publisher_model_url(target, "google", "gemini-2.5-flash", "generateContent"),
    )
    assert [p.location for p in placements] == ["us-central1"] * 2 + ["europe-west4"] * 2
    assert {p.account for p in placements[:2]} == {"a", "b"}
    assert [p.account for p in placements[:2]] == [p.account for p in placements[2:]]
    for p in placements:
        assert f"projects/{p.account}-proj/locations/{p.location}/" in p.url
