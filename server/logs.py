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
