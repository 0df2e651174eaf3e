"""The ``filter`` of ListBatchPredictionJobs: a small part of Google's list filter language
(AIP-160), enough for the fields a gateway filters on. ListTuningJobs takes the same filter
(``display_name`` is then the tuned model's display name).

Grammar (keywords upper case; as in AIP-160, ``OR`` binds tighter than ``AND``)::

    expression := sequence { "AND" sequence }
    sequence   := factor { factor }            (juxtaposed factors are ANDed)
    factor     := term { "OR" term }
    term       := [ "NOT" ] ( "(" expression ")" | comparison )
    comparison := "state" ("=" | "!=") VALUE
                | ("display_name" | "displayName") ("=" | "!=") VALUE
                | "labels." KEY ("=" | "!=") VALUE
                | "labels." KEY ":" ( "*" | VALUE )   (":*" = the label is set)

``VALUE`` is a double-quoted string (``\\"`` and ``\\\\`` escapes) or a bare word; ``state``
values must be ``JobState`` names. Anything else raises :class:`FilterError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from emulator.batch_jobs import JobState


class FilterableJob(Protocol):
    """What a filter looks at: batch prediction and tuning jobs both have it."""

    @property
    def state(self) -> JobState:
        """The job's state."""
        ...

    @property
    def display_name(self) -> str:
        """The name a filter's ``display_name`` compares."""
        ...

    @property
    def labels(self) -> dict[str, str]:
        """The job's labels."""
        ...


Predicate = Callable[[FilterableJob], bool]

JOB_STATES = frozenset(
    {
        "JOB_STATE_UNSPECIFIED",
        "JOB_STATE_QUEUED",
        "JOB_STATE_PENDING",
        "JOB_STATE_RUNNING",
        "JOB_STATE_SUCCEEDED",
        "JOB_STATE_FAILED",
        "JOB_STATE_CANCELLING",
        "JOB_STATE_CANCELLED",
        "JOB_STATE_PAUSED",
        "JOB_STATE_EXPIRED",
        "JOB_STATE_UPDATING",
        "JOB_STATE_PARTIALLY_SUCCEEDED",
    }
)
_KEYWORDS = ("AND", "OR", "NOT")
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<paren>[()])
      | (?P<op>!=|=|:)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<word>[A-Za-z0-9_.*\-]+)
    )""",
    re.VERBOSE,
)


class FilterError(ValueError):
    """A filter the emulator does not understand."""


@dataclass(frozen=True)
class Token:
    """One lexical token: ``kind`` is paren, op, string, word or keyword."""

    kind: str
    text: str


def tokenize(text: str) -> list[Token]:
    """Split a filter into tokens."""
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if match is None:
            raise FilterError(f"unexpected character {text[position:].lstrip()[:1]!r}")
        kind = str(match.lastgroup)
        value = match.group(kind)
        if kind == "word" and value in _KEYWORDS:
            kind = "keyword"
        elif kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append(Token(kind, value))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise FilterError("the filter ends too early")
        self.at += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "keyword" and token.text == word:
            self.at += 1
            return True
        return False

    def expression(self) -> Predicate:
        parts = [self.sequence()]
        while self.keyword("AND"):
            parts.append(self.sequence())
        return _all(parts)

    def sequence(self) -> Predicate:
        parts = [self.factor()]
        while (
            (token := self.peek()) is not None
            and not (token.kind == "keyword" and token.text in ("AND", "OR"))
            and token.text != ")"
        ):
            parts.append(self.factor())
        return _all(parts)

    def factor(self) -> Predicate:
        parts = [self.term()]
        while self.keyword("OR"):
            parts.append(self.term())
        return _any(parts)

    def term(self) -> Predicate:
        if self.keyword("NOT"):
            inner = self.term()
            return lambda job: not inner(job)
        token = self.take()
        if token.kind == "paren" and token.text == "(":
            inner = self.expression()
            closing = self.take()
            if closing.text != ")":
                raise FilterError("missing )")
            return inner
        if token.kind != "word":
            raise FilterError(f"expected a field name, found {token.text!r}")
        return self.comparison(token.text)

    def comparison(self, field: str) -> Predicate:
        op = self.take()
        if op.kind != "op":
            raise FilterError(f"expected =, != or : after {field}, found {op.text!r}")
        value = self.take()
        if value.kind not in ("word", "string"):
            raise FilterError(f"expected a value after {field}{op.text}")
        return _comparison(field, op.text, value)


def _all(parts: list[Predicate]) -> Predicate:
    return parts[0] if len(parts) == 1 else lambda job: all(p(job) for p in parts)


def _any(parts: list[Predicate]) -> Predicate:
    return parts[0] if len(parts) == 1 else lambda job: any(p(job) for p in parts)


def _equality(
    op: str, field: str, read: Callable[[FilterableJob], str | None], wanted: str
) -> Predicate:
    if op == ":":
        raise FilterError(f"{field} takes = or !=, not :")
    if op == "=":
        return lambda job: read(job) == wanted
    return lambda job: read(job) != wanted


def _comparison(field: str, op: str, value: Token) -> Predicate:
    wanted = value.text
    if field == "state":
        if wanted not in JOB_STATES:
            raise FilterError(f"{wanted!r} is not a JobState")
        return _equality(op, field, lambda job: job.state.value, wanted)
    if field in ("display_name", "displayName"):
        return _equality(op, field, lambda job: job.display_name, wanted)
    if field.startswith("labels.") and len(field) > len("labels."):
        key = field[len("labels.") :]
        if op == ":" and value.kind == "word" and wanted == "*":
            return lambda job: key in job.labels
        if op == ":":
            return lambda job: job.labels.get(key) == wanted
        return _equality(op, field, lambda job: job.labels.get(key), wanted)
    raise FilterError(
        f"unsupported field {field!r} (the emulator filters on state, display_name and "
        "labels.<key>)"
    )


def parse_filter(text: str) -> Predicate:
    """A predicate over jobs for ``text``; a blank filter matches every job."""
    tokens = tokenize(text)
    if not tokens:
        return lambda job: True
    parser = _Parser(tokens)
    predicate = parser.expression()
    leftover = parser.peek()
    if leftover is not None:
        raise FilterError(f"unexpected {leftover.text!r}")
    return predicate
