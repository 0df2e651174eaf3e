"""Start-up options (from the command line) and the runtime configuration the admin API edits."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

# Lower bounds of the numeric settings (an update below one is refused).
_MINIMUMS: dict[str, float] = {
    "batch_step_seconds": 0.0,
    "batch_lines_per_step": 1,
    "veo_pending_fetches": 0,
    "tuning_step_seconds": 0.0,
}


@dataclass
class RuntimeConfig:
    """Settings a test may change through ``POST /_emulator/config``."""

    token_ttl_seconds: int = 3600
    reject_function_call_id: bool = True
    lenient_field_names: bool = False
    # Batch prediction pace: seconds per lifecycle step (PENDING → RUNNING, and between output
    # slices while RUNNING), and input lines handled per slice (one output file each).
    batch_step_seconds: float = 0.2
    batch_lines_per_step: int = 1000
    # Veo: how many ``fetchPredictOperation`` calls of an operation answer "not done yet" before
    # the next one completes it (2: done on the third fetch). Polls, not time, move it on, so a
    # test sees every stage deterministically.
    veo_pending_fetches: int = 2
    # Tuning jobs: seconds per lifecycle step (PENDING → dataset read → RUNNING → two steps →
    # SUCCEEDED), read at every step.
    tuning_step_seconds: float = 0.2

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON."""
        return asdict(self)

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``changes`` after checking every name, type and bound; raises ValueError and
        changes nothing when one is wrong. Float settings take integers too."""
        # The annotations are strings here (``from __future__ import annotations``).
        kinds = {f.name: str(f.type) for f in fields(self)}
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in kinds:
                raise ValueError(f"unknown config setting {name!r}")
            kind = kinds[name]
            allowed = (int, float) if kind == "float" else (bool,) if kind == "bool" else (int,)
            if type(value) not in allowed:
                raise ValueError(f"{name} must be a {kind}")
            if name in _MINIMUMS and value < _MINIMUMS[name]:
                raise ValueError(f"{name} must be at least {_MINIMUMS[name]:g}")
            checked[name] = float(value) if kind == "float" else value
        for name, value in checked.items():
            setattr(self, name, value)


@dataclass(frozen=True)
class ServerOptions:
    """How the process was started."""

    host: str = "127.0.0.1"
    port: int = 0
    port_file: Path | None = None
    allow_anonymous: bool = False
    api_keys: tuple[str, ...] = ()
    lenient_field_names: bool = False
    log_level: str = "info"
    # Base URL of the Cloud Storage JSON API batch jobs read and write (``http://127.0.0.1:9023``);
    # None: batch prediction answers FAILED_PRECONDITION.
    storage_url: str | None = None

    def default_config(self) -> RuntimeConfig:
        """The runtime configuration ``reset`` restores."""
        return RuntimeConfig(lenient_field_names=self.lenient_field_names)


def normalize_storage_url(value: str | None) -> str | None:
    """``host:port`` or a URL → ``http(s)://host:port`` without a trailing slash; blank → None.

    ``STORAGE_EMULATOR_HOST`` is usually written with its scheme, but not always.
    """
    if value is None or not value.strip():
        return None
    url = value.strip().rstrip("/")
    return url if "://" in url else f"http://{url}"
