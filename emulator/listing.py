"""The list APIs: the project's endpoints and custom models, and the publisher model catalog.

`GET {v1|v1beta1}/projects/{P}/locations/{L}/endpoints` and `.../models` (ListEndpoints,
ListModels) and `GET v1beta1/publishers/{publisher}/models` (ListPublisherModels, which v1 does
not have). Paging follows Google's list conventions (AIP-158): `pageSize` 0 or absent means the
server's default, larger than the maximum is coerced down, negative is INVALID_ARGUMENT;
`nextPageToken` is opaque and only valid for the listing that issued it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from emulator import errors
from emulator.catalog import MODELS, is_valid_location
from emulator.openai_models import MAAS_MODELS
from emulator.state import EmulatorState

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

_PROJECT_LIST = re.compile(
    r"^/(?P<version>v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/"
    r"(?P<kind>endpoints|models)$"
)
_PUBLISHER_LIST = re.compile(r"^/(?P<version>v1beta1)/publishers/(?P<publisher>[^/]+)/models$")

# Publisher models the catalog lists beyond the ones the emulator can serve (Vertex's catalog is
# much larger than what any one gateway routes).
_CATALOG_ONLY = {
    "google": ("gemma-3-27b-it",),
    "anthropic": ("claude-opus-4-5@20251101",),
}


@dataclass(frozen=True)
class Listing:
    """Which list a GET names."""

    version: str
    kind: str  # "endpoints" | "models" | "publisherModels"
    parent: str
    project: str | None = None
    location: str | None = None
    publisher: str | None = None

    @property
    def rpc(self) -> str:
        """The RPC name, for authentication errors."""
        name = {
            "endpoints": "EndpointService.ListEndpoints",
            "models": "ModelService.ListModels",
            "publisherModels": "ModelGardenService.ListPublisherModels",
        }[self.kind]
        return f"google.cloud.aiplatform.{self.version}.{name}"


def parse(path: str) -> Listing | None:
    """The listing a path names, or None."""
    m = _PROJECT_LIST.match(path)
    if m is not None:
        project, location = m["project"], m["location"]
        return Listing(
            m["version"],
            m["kind"],
            f"projects/{project}/locations/{location}",
            project=project,
            location=location,
        )
    m = _PUBLISHER_LIST.match(path)
    if m is not None:
        publisher = m["publisher"]
        return Listing(
            m["version"], "publisherModels", f"publishers/{publisher}", publisher=publisher
        )
    return None


def _version_id(model_id: str) -> str:
    tail = model_id.rsplit("@", 1)[-1] if "@" in model_id else model_id.rsplit("-", 1)[-1]
    return tail if tail.isdigit() else "default"


def publisher_models(publisher: str) -> list[dict[str, Any]]:
    """The publisher's catalog, in a stable order."""
    ids = {
        m.model_id for (p, m_id), m in MODELS.items() if p == publisher and m_id != "count-tokens"
    }
    ids |= {
        m.name.split("/", 1)[1] for m in MAAS_MODELS.values() if m.name.startswith(f"{publisher}/")
    }
    ids |= set(_CATALOG_ONLY.get(publisher, ()))
    out = []
    for model_id in sorted(ids):
        out.append(
            {
                "name": f"publishers/{publisher}/models/{model_id}",
                "versionId": _version_id(model_id),
                "openSourceCategory": (
                    "GOOGLE_OWNED_OSS_WITH_GOOGLE_CHECKPOINT"
                    if model_id.startswith("gemma")
                    else "PROPRIETARY"
                ),
                "launchStage": (
                    "PUBLIC_PREVIEW" if "preview" in model_id or "exp" in model_id else "GA"
                ),
                "versionState": "VERSION_STATE_STABLE",
            }
        )
    return out


def _token(listing: Listing, offset: int) -> str:
    raw = json.dumps({"p": listing.parent, "k": listing.kind, "o": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _offset(listing: Listing, token: str) -> int | None:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data["p"] == listing.parent and data["k"] == listing.kind and data["o"] >= 0:
            return int(data["o"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        pass
    return None


def respond(listing: Listing, request: web.Request, state: EmulatorState) -> web.Response:
    """One page of the listing, or Google's error for bad paging parameters."""
    if listing.location is not None and not is_valid_location(listing.location):
        return errors.error_response(
            errors.invalid_argument(f"Location `{listing.location}` is not supported.")
        )
    query = request.query
    raw_size = query.get("pageSize", "0") or "0"
    try:
        size = int(raw_size)
    except ValueError:
        return errors.error_response(
            errors.bad_request(
                [
                    errors.FieldViolation(
                        "page_size", f"Invalid value at 'page_size' (TYPE_INT32), \"{raw_size}\""
                    )
                ]
            )
        )
    if size < 0:
        return errors.error_response(errors.invalid_argument("page_size must not be negative."))
    if query.get("filter"):
        return errors.error_response(
            errors.invalid_argument(f"Unsupported filter: {query['filter']!r}.")
        )
    offset = _offset(listing, query.get("pageToken", ""))
    if offset is None:
        return errors.error_response(errors.invalid_argument("Invalid page token."))
    size = min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    if listing.kind == "publisherModels":
        assert listing.publisher is not None
        items = publisher_models(listing.publisher)
    else:
        assert listing.project is not None and listing.location is not None
        resources = state.resources
        items = (
            resources.endpoints(listing.project, listing.location)
            if listing.kind == "endpoints"
            else resources.models(listing.project, listing.location)
        )
    page = items[offset : offset + size]
    body: dict[str, Any] = {listing.kind: page} if page else {}
    if offset + size < len(items):
        body["nextPageToken"] = _token(listing, offset + size)
    return errors.json_response(body)
