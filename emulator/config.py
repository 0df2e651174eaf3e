"""Start-up options (from the command line) and the runtime configuration the admin API edits."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any


@dataclass
class RuntimeConfig:
    """Settings a test may change through ``POST /_emulator/config``."""

    token_ttl_seconds: int = 3600
    reject_function_call_id: bool = True
    lenient_field_names: bool = False

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON."""
        return asdict(self)

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``changes`` after checking every name and type; raises ValueError, changes nothing."""
        types = {f.name: f.type for f in fields(self)}
        for name, value in changes.items():
            if name not in types:
                raise ValueError(f"unknown config setting {name!r}")
            expected = bool if types[name] in (bool, "bool") else int
            if type(value) is not expected:
                raise ValueError(f"{name} must be a {expected.__name__}")
        for name, value in changes.items():
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

    def default_config(self) -> RuntimeConfig:
        """The runtime configuration ``reset`` restores."""
        return RuntimeConfig(lenient_field_names=self.lenient_field_names)
