"""Vertex jobs the gateway created (batch prediction, tuning): reading one, cancelling one, and
listing them a page at a time.

The gateway marks its jobs with a label; a job without the mark was not created through the
gateway and is answered as not found. With caller keys configured, a job also carries its
caller (a hash of the name, in a reserved label): other callers neither see it listed nor read,
cancel or reuse it, as if it did not exist. Page tokens are the gateway's own (base64 JSON) and carry
a hash of the listing's filter, so a token is taken back only by a listing with the same states.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import grpc
import orjson
from vertex_gateway.v1 import common_pb2

from server.callers import current_caller
from server.errors import GatewayError, invalid_argument
from server.vertex.client import Deadline, VertexClient
from server.vertex.errors import VertexError
from server.vertex.urls import list_url

DEFAULT_PAGE = 50
MAX_PAGE = 1000
# The reserved label that ties a job to the caller that created it.
OWNER = "vertex-gateway-caller"


def owner_mark() -> str | None:
    """The OWNER label value of the authenticated caller (None without caller keys): a hash,
    since label values take only 63 lowercase letters, digits, '-' and '_'."""
    caller = current_caller()
    if caller is None:
        return None
    return hashlib.sha256(caller.caller.encode()).hexdigest()[:32]


def owner_labels() -> dict[str, str]:
    """The labels a job created now carries to tie it to its caller."""
    mark = owner_mark()
    return {OWNER: mark} if mark is not None else {}


def owner_filter() -> str:
    """The Vertex list filter clause that keeps the current caller's jobs (empty without keys)."""
    mark = owner_mark()
    return f' AND labels.{OWNER}="{mark}"' if mark is not None else ""


@dataclass(frozen=True)
class JobKind:
    """One kind of gateway job: how errors name it and which label marks it as the gateway's."""

    noun: str  # in messages: "batch", "tuning job"
    field: str  # error metadata key, and upper-cased the prefix of error reasons
    terminal: frozenset[str]
    mark: str
    mark_value: str | None = None  # None: any value of the mark will do

    def is_ours(self, labels: Mapping[str, Any]) -> bool:
        """True when a job's labels carry the gateway's mark (and the current caller's)."""
        owner = owner_mark()
        if owner is not None and labels.get(OWNER) != owner:
            return False
        if self.mark_value is None:
            return self.mark in labels
        return labels.get(self.mark) == self.mark_value

    @property
    def marked(self) -> str:
        """The Vertex list filter that picks the gateway's jobs (the current caller's)."""
        if self.mark_value is None:
            return f"labels.{self.mark}:*" + owner_filter()
        return f'labels.{self.mark}="{self.mark_value}"' + owner_filter()

    def not_found(self, name: str) -> GatewayError:
        """NOT_FOUND for a job that does not exist (or is not the gateway's)."""
        return GatewayError(
            grpc.StatusCode.NOT_FOUND,
            f"{self.noun} {name!r} does not exist",
            f"{self.field.upper()}_NOT_FOUND",
            metadata={self.field: name},
        )


class GatewayJobs:
    """The gateway's jobs of one kind, read and cancelled by the names callers hold."""

    def __init__(
        self,
        client: VertexClient,
        kind: JobKind,
        jobs_url: Callable[[str], str],
        parse_name: Callable[[str], tuple[str, str]],
    ) -> None:
        self._client = client
        self._kind = kind
        self._jobs_url = jobs_url  # location -> the collection's URL there
        self._parse_name = parse_name  # name -> (location, Vertex job id)

    def _locate(self, name: str) -> tuple[str, str]:
        location, ident = self._parse_name(name)
        return location, f"{self._jobs_url(location)}/{ident}"

    async def _fetch(self, name: str, url: str, deadline: Deadline) -> dict[str, Any]:
        try:
            job = await self._client.get_json(url, deadline, resource=True)
        except VertexError as err:
            if err.code == "NOT_FOUND":
                raise self._kind.not_found(name) from None
            raise
        if not isinstance(job, dict):
            raise self._kind.not_found(name)
        labels = job.get("labels")
        if not isinstance(labels, dict) or not self._kind.is_ours(labels):
            raise self._kind.not_found(name)  # a job not created through the gateway
        return job

    async def get(self, name: str, deadline: Deadline) -> tuple[str, dict[str, Any]]:
        """(location, Vertex job) of the job the caller knows as `name`."""
        location, url = self._locate(name)
        return location, await self._fetch(name, url, deadline)

    async def cancel(self, name: str, deadline: Deadline) -> tuple[str, dict[str, Any]]:
        """Ask Vertex to stop the job and return it as `get` does after; FAILED_PRECONDITION
        once it has ended."""
        location, url = self._locate(name)
        job = await self._fetch(name, url, deadline)
        state = str(job.get("state") or "")
        kind = self._kind
        if state in kind.terminal:
            raise GatewayError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"{kind.noun} {name!r} has already ended ({state}); there is nothing to cancel",
                f"{kind.field.upper()}_ENDED",
                metadata={kind.field: name, "state": state},
            )
        if state != "JOB_STATE_CANCELLING":
            await self._client.call_json(f"{url}:cancel", {}, deadline, retry=False)
        return location, await self._fetch(name, url, deadline)


def filtered_list_url(jobs_url: str, size: int, vertex_token: str, filter_: str) -> str:
    """A list call's URL with its paging parameters and a Vertex filter."""
    return list_url(jobs_url, size, vertex_token) + f"&filter={quote(filter_, safe='')}"


def encode_token(data: dict[str, Any]) -> str:
    """A page token carrying `data`."""
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    """The data of a page token `encode_token` made; INVALID_ARGUMENT for any other."""
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        raise invalid_argument("page_token", "is not a token this service issued") from None
    if not isinstance(data, dict):
        raise invalid_argument("page_token", "is not a token this service issued")
    return data


def token_count(data: Mapping[str, Any], key: str) -> int:
    """A non-negative position a page token carries; INVALID_ARGUMENT for anything else."""
    value = data.get(key, 0)
    if type(value) is not int or value < 0:
        raise invalid_argument("page_token", "is not a token this service issued")
    return value


def ours(kind: JobKind, jobs: Any) -> list[dict[str, Any]]:
    """The jobs of a Vertex list page that are the gateway's (and the caller's): the list
    filter asks for no others, and this keeps it so whatever the page holds."""
    if not isinstance(jobs, list):
        return []
    return [
        job
        for job in jobs
        if isinstance(job, dict)
        and isinstance(job.get("labels"), dict)
        and kind.is_ours(job["labels"])
    ]


@dataclass(frozen=True)
class Listing:
    """A checked list request: its Vertex filter, its page size, and where its page token left
    off (empty on the first page)."""

    filter: str
    size: int
    resume: Mapping[str, Any]

    @property
    def _key(self) -> str:
        return _filter_key(self.filter)

    def url(self, jobs_url: str, size: int, vertex_token: str) -> str:
        """The Vertex list call of up to `size` jobs from `vertex_token` on."""
        return filtered_list_url(jobs_url, size, vertex_token, self.filter)

    def next_token(self, **position: Any) -> str:
        """The page token that resumes this listing at `position`."""
        return encode_token({"f": self._key, **position})


def _filter_key(filter_: str) -> str:
    return hashlib.sha256(filter_.encode()).hexdigest()[:16]


def listing(
    kind: JobKind,
    page_size: int,
    states: Sequence[common_pb2.JobState.ValueType],
    page_token: str,
) -> Listing:
    """Check a list request for the gateway's jobs of `kind` in any of `states` (all when
    empty); INVALID_ARGUMENT for a bad page size, state or token."""
    if not 0 <= page_size <= MAX_PAGE:
        raise invalid_argument("page_size", f"must be 1 to {MAX_PAGE} (0 means {DEFAULT_PAGE})")
    names = []
    for k, state in enumerate(states):
        if state == common_pb2.JOB_STATE_UNSPECIFIED or state not in common_pb2.JobState.values():
            raise invalid_argument(f"states[{k}]", f"unknown state {state}")
        names.append(common_pb2.JobState.Name(state))
    filter_ = kind.marked
    if names:
        filter_ += " AND (" + " OR ".join(f'state="{s}"' for s in names) + ")"
    resume: dict[str, Any] = {}
    if page_token:
        resume = decode_token(page_token)
        if resume.get("f") != _filter_key(filter_):
            raise invalid_argument(
                "page_token", "belongs to a listing with other states; start again without it"
            )
    return Listing(filter_, page_size or DEFAULT_PAGE, resume)
