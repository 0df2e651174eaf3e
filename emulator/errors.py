"""Google API error bodies, worded as Vertex words them.

Wording marked "verified" in ``emulator/README.md`` was checked against public captures of real
Vertex responses; the rest is modelled on them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape
from typing import Any

from aiohttp import web

JSON_CONTENT_TYPE = "application/json"
CHARSET = "UTF-8"
JSON_TYPE_HEADER = f"{JSON_CONTENT_TYPE}; charset={CHARSET}"

STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

LEARN_MORE_GEMINI = (
    "Learn more: https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/gemini"
)
LEARN_MORE_FUNCTIONS = (
    "Learn more: https://cloud.google.com/vertex-ai/generative-ai/docs/multimodal/function-calling"
)


@dataclass(frozen=True)
class FieldViolation:
    """One ``google.rpc.BadRequest.FieldViolation``; ``field`` is None for top-level errors."""

    field: str | None
    description: str

    def to_json(self) -> dict[str, str]:
        """The JSON form; Google leaves ``field`` out when the error is at the root."""
        if self.field is None:
            return {"description": self.description}
        return {"field": self.field, "description": self.description}


@dataclass(frozen=True)
class GoogleError:
    """An error in Google's ``{"error": {code, message, status, details}}`` model."""

    code: int
    message: str
    status: str = ""
    details: tuple[dict[str, Any], ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """The ``{"error": ...}`` envelope."""
        inner: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "status": self.status or STATUS_NAMES.get(self.code, "UNKNOWN"),
        }
        if self.details:
            inner["details"] = list(self.details)
        return {"error": inner}


def render_json(payload: Any) -> str:
    """Serialise like Google's front end does for non-streamed bodies: two-space indent."""
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def json_response(payload: Any, status: int = 200) -> web.Response:
    """A JSON response with Google's ``application/json; charset=UTF-8`` content type."""
    return web.Response(
        status=status, text=render_json(payload), content_type=JSON_CONTENT_TYPE, charset=CHARSET
    )


def error_response(error: GoogleError, *, wrap_array: bool = False) -> web.Response:
    """Answer with ``error``; ``wrap_array`` gives the ``[{"error": ...}]`` form some routes use."""
    payload: Any = [error.to_json()] if wrap_array else error.to_json()
    return json_response(payload, status=error.code)


def bad_request(violations: list[FieldViolation]) -> GoogleError:
    """The 400 for JSON that does not fit the request message (one violation per problem)."""
    details = {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [v.to_json() for v in violations],
    }
    message = "\n".join(v.description for v in violations)
    return GoogleError(400, message, "INVALID_ARGUMENT", (details,))


def invalid_argument(message: str) -> GoogleError:
    """A 400 with no details, as Vertex sends for its semantic checks."""
    return GoogleError(400, message, "INVALID_ARGUMENT")


def _error_info(reason: str, domain: str, metadata: dict[str, str]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": domain,
    }
    if metadata:
        info["metadata"] = metadata
    return info


UNAUTHENTICATED_INVALID = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
    "or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
UNAUTHENTICATED_MISSING = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)


def unauthenticated(reason: str, rpc_method: str | None) -> GoogleError:
    """401 for a missing, unknown, revoked or expired credential (``reason`` is the ErrorInfo)."""
    metadata = {"service": "aiplatform.googleapis.com"}
    if rpc_method:
        metadata["method"] = rpc_method
    message = (
        UNAUTHENTICATED_MISSING if reason == "CREDENTIALS_MISSING" else UNAUTHENTICATED_INVALID
    )
    return GoogleError(
        401, message, "UNAUTHENTICATED", (_error_info(reason, "googleapis.com", metadata),)
    )


def api_key_invalid() -> GoogleError:
    """Google answers an unknown API key with 400, not 401."""
    message = "API key not valid. Please pass a valid API key."
    info = _error_info(
        "API_KEY_INVALID", "googleapis.com", {"service": "aiplatform.googleapis.com"}
    )
    localized = {
        "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
        "locale": "en-US",
        "message": message,
    }
    return GoogleError(400, message, "INVALID_ARGUMENT", (info, localized))


def permission_denied(
    resource: str, permission: str = "aiplatform.endpoints.predict"
) -> GoogleError:
    """403 as IAM reports it for a predict call on ``resource``."""
    message = (
        f"Permission '{permission}' denied on resource "
        f"'//aiplatform.googleapis.com/{resource}' (or it may not exist)."
    )
    info = _error_info(
        "IAM_PERMISSION_DENIED",
        "aiplatform.googleapis.com",
        {"resource": resource, "permission": permission},
    )
    return GoogleError(403, message, "PERMISSION_DENIED", (info,))


def publisher_model_not_found(resource: str) -> GoogleError:
    """404 for a model Vertex does not serve."""
    message = (
        f"Publisher Model `{resource}` was not found or your project does not have access to it. "
        "Please ensure you are using a valid model version. For more information, see: "
        "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions"
    )
    return GoogleError(404, message, "NOT_FOUND")


def gemini_not_on_predict() -> GoogleError:
    """Vertex's answer to ``:predict`` / ``:rawPredict`` on a Gemini model (verified wording)."""
    message = (
        "Gemini cannot be accessed through Vertex Predict/RawPredict API. Please follow "
        "https://cloud.google.com/vertex-ai/docs/generative-ai/start/quickstarts/quickstart-multimodal "
        "for Gemini usage."
    )
    return GoogleError(400, message, "FAILED_PRECONDITION")


def endpoint_not_found(resource: str) -> GoogleError:
    """404 for an endpoint id that does not exist."""
    return GoogleError(404, f"Endpoint `{resource}` not found.", "NOT_FOUND")


def resource_exhausted(retry_delay: str = "2s") -> GoogleError:
    """429 with the ErrorInfo and RetryInfo a retrying client looks for."""
    message = (
        "Resource exhausted. Please try again later. Please refer to "
        "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."
    )
    details = (
        _error_info("RATE_LIMIT_EXCEEDED", "aiplatform.googleapis.com", {}),
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay},
    )
    return GoogleError(429, message, "RESOURCE_EXHAUSTED", details)


def generic_bad_request() -> GoogleError:
    """Google's catch-all 400."""
    return invalid_argument("Request contains an invalid argument.")


def internal() -> GoogleError:
    """500."""
    return GoogleError(500, "Internal error encountered.", "INTERNAL")


def unavailable() -> GoogleError:
    """503."""
    return GoogleError(503, "The service is currently unavailable.", "UNAVAILABLE")


def deadline_exceeded() -> GoogleError:
    """504."""
    return GoogleError(
        504, "Deadline expired before operation could complete.", "DEADLINE_EXCEEDED"
    )


_HTML_404 = """<!DOCTYPE html>
<html lang=en>
  <meta charset=utf-8>
  <meta name=viewport content="initial-scale=1, minimum-scale=1, width=device-width">
  <title>Error 404 (Not Found)!!1</title>
  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>
  <p><b>404.</b> <ins>That\u2019s an error.</ins>
  <p>The requested URL <code>{path}</code> was not found on this server.  <ins>That\u2019s all we know.</ins>
"""


def html_not_found(path: str) -> web.Response:
    """Google's front end answers URLs that match no API method with an HTML 404 page."""
    return web.Response(
        status=404,
        text=_HTML_404.format(path=escape(path)),
        content_type="text/html",
        charset=CHARSET,
    )
