"""Everything one emulator process remembers, in one place."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from emulator.auth import AuthPolicy, TokenStore
from emulator.batch_jobs import BatchJobStore
from emulator.config import RuntimeConfig, ServerOptions
from emulator.faults import FaultBook
from emulator.project_resources import ProjectResources
from emulator.records import RecordLog
from emulator.service_accounts import ServiceAccountRegistry
from emulator.tuning_jobs import TuningJobStore
from emulator.veo_ops import VideoOperationStore


@dataclass
class Stats:
    """Counters the admin API reports (and ``reset`` zeroes)."""

    token_requests: int = 0
    tokens_issued: int = 0
    vertex_requests: int = 0
    # Vertex requests being answered now, and the most at once since the last reset.
    in_flight: int = 0
    max_in_flight: int = 0

    def to_json(self) -> dict[str, Any]:
        """The counters as JSON."""
        return asdict(self)


class EmulatorState:
    """Configuration, credentials, recorded requests, armed faults and counters."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.config: RuntimeConfig = options.default_config()
        self.tokens = TokenStore()
        self.accounts = ServiceAccountRegistry()
        self.records = RecordLog()
        self.faults = FaultBook()
        self.stats = Stats()
        self.policy = AuthPolicy(frozenset(options.api_keys), options.allow_anonymous)
        self.resources = ProjectResources()
        self.batch_jobs = BatchJobStore()
        self.tuning_jobs = TuningJobStore()
        self.video_operations = VideoOperationStore()

    def reset(self) -> None:
        """Clear requests, faults and counters, restore the default config and project resources,
        stop and forget batch and tuning jobs and Veo operations (their Cloud Storage output
        stays).

        Service accounts, API keys, issued tokens and the audit trail survive.
        """
        self.records.clear()
        self.faults.clear()
        self.stats = Stats()
        self.config = self.options.default_config()
        self.resources.clear()
        self.batch_jobs.clear()
        self.tuning_jobs.clear()
        self.video_operations.clear()


STATE_KEY: web.AppKey[EmulatorState] = web.AppKey("emulator_state", EmulatorState)


def state_of(request: web.Request) -> EmulatorState:
    """The state of the application serving ``request``."""
    return request.app[STATE_KEY]
