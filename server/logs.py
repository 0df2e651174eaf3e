"""Structured logging: one JSON object per line, with secrets scrubbed from every message."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

from server.observability.request_ids import RequestIdFilter

# Access tokens, API keys, private keys and bearer headers must never reach a log line.
_SECRET_PATTERNS = (
    re.compile(r"ya29\.[A-Za-z0-9._\-]+"),
    re.compile(r"(?i)bearer\s+[A-Za-z0-9._\-~+/=]+"),
    re.compile(r"AIza[0-9A-Za-z_\-]{20,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
    re.compile(
        r"(?i)(\"?(?:private_key|access_token|api_key|client_secret)\"?\s*[:=]\s*)\"[^\"]*\""
    ),
)
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def scrub(text: str) -> str:
    """The text with anything that looks like a credential replaced."""
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + '"<redacted>"', text)
        else:
            text = pattern.sub("<redacted>", text)
    return text


class JsonFormatter(logging.Formatter):
    """Formats records as single-line JSON with extra fields kept."""

    def format(self, record: logging.LogRecord) -> str:
        """One JSON line."""
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class ScrubbingFormatter(logging.Formatter):
    """Plain-text formatter that scrubs secrets."""

    def format(self, record: logging.LogRecord) -> str:
        """One scrubbed line."""
        return scrub(super().format(record))


# grpc's aio server logs this at ERROR, with a traceback, when a reply message could not be sent
# because the call had already ended: the caller cancelled a stream (or left, or its deadline
# passed) and grpc's core refused the write before the cancellation reached the event loop.
# Nothing failed on the gateway's side, and a caller can cause it at will, so it is one INFO line.
_GRPC_SEND_RACE = "ExecuteBatchError raised in core by servicer method"


class CallerGoneFilter(logging.Filter):
    """Turns grpc's log of a reply sent to a call its caller had already ended into INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite that record in place (dropped when INFO is below the logger's level)."""
        if isinstance(record.msg, str) and record.msg.startswith(_GRPC_SEND_RACE):
            method = record.msg[len(_GRPC_SEND_RACE) :].strip()
            record.msg = (
                "the call ended (cancelled, its deadline passed or its connection closed)"
                " while a reply message was being sent: %s"
            )
            record.args = (method,)
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info, record.exc_text = None, None
            # The level was checked at ERROR; at INFO it must pass the logger's level again.
            return logging.getLogger(record.name).isEnabledFor(logging.INFO)
        return True


def setup_logging(level: str, fmt: str) -> None:
    """Route all logging to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    grpc_log = logging.getLogger("grpc._cython.cygrpc")
    if not any(isinstance(f, CallerGoneFilter) for f in grpc_log.filters):
        grpc_log.addFilter(CallerGoneFilter())
