"""What the emulator remembers about the requests it served (for tests to assert on)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

REDACTED = "<redacted>"
_SECRET_HEADERS = ("authorization", "x-goog-api-key")
_SECRET_QUERY = ("key",)


@dataclass
class RequestRecord:
    """One request and how it was answered; serialised as the admin API documents."""

    seq: int
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    auth: str
    user_agent: str
    body: Any = None
    body_bytes: int = 0
    schema_errors: list[str] = field(default_factory=list)
    status: int = 0
    fault: str | None = None
    client_disconnected: bool = False
    completed: bool = False

    def to_json(self) -> dict[str, Any]:
        """The record as JSON."""
        return asdict(self)


@dataclass(frozen=True)
class AuditEntry:
    """The part of a Vertex request the end-of-suite audit needs."""

    user_agent: str
    path: str
    schema_errors: tuple[str, ...]


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Copy headers, hiding credential values (repeated headers are joined with ``, ``)."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        shown = REDACTED if name.lower() in _SECRET_HEADERS else value
        out[name] = f"{out[name]}, {shown}" if name in out else shown
    return out


def redact_query(query: Mapping[str, str]) -> dict[str, str]:
    """Copy query parameters, hiding an API key."""
    return {k: (REDACTED if k in _SECRET_QUERY else v) for k, v in query.items()}


class RecordLog:
    """Recorded requests (clearable) and the audit trail (kept for the life of the process)."""

    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._audit: list[AuditEntry] = []
        self._seq = 0

    def next_seq(self) -> int:
        """A sequence number; it keeps counting across clears so records stay distinguishable."""
        self._seq += 1
        return self._seq

    def add(self, record: RequestRecord) -> None:
        """Keep ``record``; it may still change until its response is finished."""
        self._records.append(record)

    def clear(self) -> None:
        """Forget recorded requests (the audit trail stays)."""
        self._records.clear()

    def to_json(self) -> list[dict[str, Any]]:
        """All records, oldest first."""
        return [r.to_json() for r in self._records]

    def note_validated(self, user_agent: str, path: str, schema_errors: list[str]) -> None:
        """Remember that a Vertex body was validated, for :meth:`audit`."""
        self._audit.append(AuditEntry(user_agent, path, tuple(schema_errors)))

    def audit(self, user_agent_prefix: str) -> dict[str, Any]:
        """Every validated body sent with a User-Agent starting with the prefix, and its failures."""
        chosen = [a for a in self._audit if a.user_agent.startswith(user_agent_prefix)]
        violations = [
            {"path": a.path, "schema_errors": list(a.schema_errors)}
            for a in chosen
            if a.schema_errors
        ]
        return {"checked": len(chosen), "violations": violations}
