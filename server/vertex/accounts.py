"""Several Vertex accounts (project and credentials) serving the same models: quota pooling by
weight, and failover from a throttled or failing account or location to the next.

A call to a publisher model becomes a `Failover`: the same request at each placement (account
and location) in the order to try them. The model's locations come first in their configured
order (nearest first); within a location the accounts are ordered by a weighted draw, so that
first attempts spread over the accounts in proportion to their weights while a 429 on one moves
the call to another account's quota.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .auth import AuthProvider
from .urls import VertexTarget


@dataclass(frozen=True)
class Account:
    """One Vertex account the gateway may call."""

    name: str
    auth: AuthProvider
    target_for: Callable[[str], VertexTarget]
    weight: float = 1.0
    # Canonical `publisher/id` names it serves; empty: every publisher model.
    models: frozenset[str] = frozenset()

    def serves(self, model_key: str) -> bool:
        """Whether calls to this model may go to this account."""
        return (
            not self.models or model_key in self.models or model_key.split("/")[-1] in (self.models)
        )


@dataclass(frozen=True, slots=True)
class Placement:
    """The call's URL at one account and location, and the credentials to send with it."""

    url: str
    auth: AuthProvider
    account: str
    location: str


@dataclass(slots=True)
class Failover:
    """The same call at several placements, tried in order; `served` records the placement
    that answered, for the reply's served_by."""

    placements: tuple[Placement, ...]
    served: Placement | None = field(default=None)


class AccountPool:
    """The configured accounts; the first is the primary one (vertex.project/credentials), which
    every call that cannot fail over (endpoints, batches, listing) uses."""

    def __init__(self, accounts: Sequence[Account], rng: random.Random | None = None) -> None:
        if not accounts:
            raise ValueError("an account pool needs at least one account")
        self.accounts = tuple(accounts)
        self.primary = self.accounts[0]
        self._rng = rng or random.Random()

    @property
    def pooled(self) -> bool:
        """True when more than one account is configured."""
        return len(self.accounts) > 1

    def __call__(self, location: str) -> VertexTarget:
        """The primary account's target for a location (the pool stands in for `target_for`)."""
        return self.primary.target_for(location)

    def order(self, model_key: str) -> list[Account]:
        """The accounts serving a model, in the order to try them: a draw weighted by each
        account's weight (Efraimidis-Spirakis: sort by u^(1/w), largest first)."""
        serving = [a for a in self.accounts if a.serves(model_key)]
        if len(serving) < 2:
            return serving or [self.primary]
        rng = self._rng
        return sorted(serving, key=lambda a: rng.random() ** (1.0 / a.weight), reverse=True)

    def placements(
        self, model_key: str, locations: Sequence[str], url_for: Callable[[VertexTarget], str]
    ) -> list[Placement]:
        """Every (location, account) placement of a call, in the order to try them."""
        accounts = self.order(model_key)
        return [
            Placement(url_for(account.target_for(location)), account.auth, account.name, location)
            for location in locations
            for account in accounts
        ]
