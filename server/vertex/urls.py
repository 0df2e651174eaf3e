"""Vertex AI URL construction: hosts per location, API versions, and resource paths."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import quote

_LOCATION_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_MULTI_REGIONS = frozenset({"us", "eu"})
API_VERSIONS = ("v1", "v1beta1")


class UrlError(ValueError):
    """A location, project or model name that cannot be put in a Vertex URL."""


@dataclass(frozen=True)
class VertexTarget:
    """Which Vertex deployment to call.

    `project` None means express mode (API key, no project in the path, global host).
    `base_url` overrides the host (the emulator, a private endpoint); the path is unchanged.
    """

    project: str | None
    location: str
    api_version: str = "v1"
    base_url: str | None = None

    def __post_init__(self) -> None:
        if not _LOCATION_RE.match(self.location):
            raise UrlError(f"invalid Vertex location {self.location!r}")
        if self.api_version not in API_VERSIONS:
            raise UrlError(f"invalid Vertex API version {self.api_version!r}")
        if self.project is not None and not re.match(r"^[a-z0-9][a-z0-9.:-]*$", self.project):
            raise UrlError(f"invalid Google Cloud project {self.project!r}")


def host_for(location: str, *, express: bool = False) -> str:
    """The Vertex API host serving a location."""
    if express or location == "global":
        return "aiplatform.googleapis.com"
    if location in _MULTI_REGIONS:
        return f"aiplatform.{location}.rep.googleapis.com"
    if not _LOCATION_RE.match(location):
        raise UrlError(f"invalid Vertex location {location!r}")
    return f"{location}-aiplatform.googleapis.com"


def base_url(target: VertexTarget) -> str:
    """Scheme and host (no trailing slash)."""
    if target.base_url:
        return target.base_url.rstrip("/")
    return "https://" + host_for(target.location, express=target.project is None)


def resource_prefix(target: VertexTarget) -> str:
    """`projects/{P}/locations/{L}`, or empty in express mode."""
    if target.project is None:
        return ""
    return f"projects/{target.project}/locations/{target.location}"


def _join(target: VertexTarget, path: str) -> str:
    prefix = resource_prefix(target)
    full = f"{prefix}/{path}" if prefix else path
    return f"{base_url(target)}/{target.api_version}/{full}"


def _segment(value: str, what: str) -> str:
    if not value or "/" in value or value in (".", ".."):
        raise UrlError(f"invalid {what} {value!r}")
    # '@' (Claude versions) and '.' are legal in model ids; everything else unusual is escaped.
    return quote(value, safe="@.-_")


@functools.lru_cache(maxsize=1024)
def publisher_model_url(
    target: VertexTarget, publisher: str, model: str, method: str, *, sse: bool = False
) -> str:
    """URL of a method on a publisher model, e.g. `...:generateContent`.

    Cached: every call to a model builds the same URL, and quoting is not free."""
    path = (
        f"publishers/{_segment(publisher, 'publisher')}/models/{_segment(model, 'model')}:{method}"
    )
    url = _join(target, path)
    return url + "?alt=sse" if sse else url


def endpoint_url(target: VertexTarget, endpoint_id: str, method: str, *, sse: bool = False) -> str:
    """URL of a method on a deployed or tuned-model endpoint, e.g. `endpoints/123:generateContent`."""
    if target.project is None:
        raise UrlError("endpoints need a project; express mode has none")
    url = _join(target, f"endpoints/{_segment(endpoint_id, 'endpoint')}:{method}")
    return url + "?alt=sse" if sse else url


def endpoint_path_url(target: VertexTarget, endpoint_id: str, path: str) -> str:
    """URL of a REST path under an endpoint, e.g. `endpoints/openapi/chat/completions`."""
    if target.project is None:
        raise UrlError("endpoints need a project; express mode has none")
    return _join(target, f"endpoints/{_segment(endpoint_id, 'endpoint')}/{path}")


def collection_url(target: VertexTarget, collection: str) -> str:
    """URL of a collection under the project and location, e.g. `batchPredictionJobs`."""
    return _join(target, collection)


def list_url(base: str, page_size: int, page_token: str) -> str:
    """A list call's URL with its paging parameters."""
    query = f"pageSize={page_size}"
    if page_token:
        query += f"&pageToken={quote(page_token, safe='')}"
    return f"{base}?{query}"


def publisher_models_url(target: VertexTarget, publisher: str) -> str:
    """`v1beta1/publishers/{publisher}/models`: the publisher catalog (v1 has no list method)."""
    return f"{base_url(target)}/v1beta1/publishers/{_segment(publisher, 'publisher')}/models"
