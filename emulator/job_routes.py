"""How the REST paths of a job collection (``batchPredictionJobs``, ``tuningJobs``) name its
methods: ``POST``/``GET`` on the collection (create, list), ``GET``/``DELETE`` on a job,
``POST`` on a job's custom verb (``:cancel``). Anything else is no route (Google's HTML 404).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

A = TypeVar("A", bound=StrEnum)

# Where on the path a method is called: the collection, a job, or a job's custom verb.
COLLECTION = "collection"
JOB = "job"


def verb(name: str) -> str:
    """The place of a job's custom verb, e.g. ``verb("cancel")`` for ``{job}:cancel``."""
    return f":{name}"


@dataclass(frozen=True)
class JobRoute(Generic[A]):
    """A job request: the method and the resource it names."""

    service: ClassVar[str]  # "JobService", "GenAiTuningService"
    collection: ClassVar[str]  # "batchPredictionJobs", "tuningJobs"

    version: str
    project: str
    location: str
    action: A
    job_id: str | None = None

    @property
    def rpc(self) -> str:
        """The RPC name, for authentication errors."""
        return f"google.cloud.aiplatform.{self.version}.{self.service}.{self.action.value}"

    @property
    def job_name(self) -> str:
        """The job's resource name as the path spells it."""
        return f"projects/{self.project}/locations/{self.location}/{self.collection}/{self.job_id}"


R = TypeVar("R", bound="JobRoute[Any]")


@functools.cache
def _path(collection: str) -> re.Pattern[str]:
    return re.compile(
        r"^/(?P<version>v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/"
        rf"{collection}(?:/(?P<job>[^/:]+)(?::(?P<verb>[A-Za-z]+))?)?$"
    )


def parse_route(
    route: type[R], method: str, path: str, actions: Mapping[tuple[str, str], StrEnum]
) -> R | None:
    """The ``route`` a method and path name, or None; ``actions`` maps (place, HTTP method) to
    the action called there."""
    match = _path(route.collection).match(path)
    if match is None:
        return None
    job, custom = match["job"], match["verb"]
    place = COLLECTION if job is None else JOB if custom is None else verb(custom)
    action = actions.get((place, method))
    if action is None:
        return None
    return route(match["version"], match["project"], match["location"], action, job)
