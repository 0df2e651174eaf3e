"""A small synchronous client for the emulator's admin API (``/_emulator/``)."""

from __future__ import annotations

from typing import Any

import requests

DEFAULT_TIMEOUT_SECONDS = 30.0


class EmulatorAdmin:
    """Drive an emulator at ``base_url`` from a test."""

    def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._session.request(
            method, f"{self.base_url}/_emulator/{path}", timeout=self.timeout, **kwargs
        )
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        """Clear requests, faults and counters; restore the default config."""
        self._call("POST", "reset")

    def requests(self) -> list[dict[str, Any]]:
        """Recorded requests, oldest first."""
        result: list[dict[str, Any]] = self._call("GET", "requests")
        return result

    def clear_requests(self) -> None:
        """Forget recorded requests."""
        self._call("DELETE", "requests")

    def arm_fault(self, fault: str, times: int = 1, path_contains: str | None = None) -> None:
        """Inject ``fault`` into the next ``times`` Vertex requests whose path contains the text."""
        self._call(
            "POST", "faults", json={"fault": fault, "times": times, "path_contains": path_contains}
        )

    def clear_faults(self) -> None:
        """Disarm every armed fault."""
        self._call("DELETE", "faults")

    def add_resources(
        self, project: str, location: str, *, models: int = 0, endpoints: int = 0
    ) -> dict[str, int]:
        """Add generated custom models and empty endpoints (a reset restores the seed)."""
        result: dict[str, int] = self._call(
            "POST",
            "resources",
            json={
                "project": project,
                "location": location,
                "models": models,
                "endpoints": endpoints,
            },
        )
        return result

    def create_service_account(self, project_id: str = "emulator-project") -> dict[str, Any]:
        """A complete service-account key file whose ``token_uri`` is this emulator."""
        result: dict[str, Any] = self._call(
            "POST", "service-accounts", json={"project_id": project_id}
        )
        return result

    def set_config(self, **settings: Any) -> dict[str, Any]:
        """Change runtime settings (``token_ttl_seconds``, ``reject_function_call_id``,
        ``lenient_field_names``, ``batch_step_seconds``, ``batch_lines_per_step``,
        ``veo_pending_fetches``, ``tuning_step_seconds``); returns the whole configuration."""
        result: dict[str, Any] = self._call("POST", "config", json=settings)
        return result

    def revoke_tokens(self) -> None:
        """Make every access token issued so far stop working."""
        self._call("POST", "revoke-tokens")

    def audit(self, user_agent_prefix: str = "vertex-gateway") -> dict[str, Any]:
        """``{"checked": n, "violations": [...]}`` over every body sent with that User-Agent prefix."""
        result: dict[str, Any] = self._call(
            "GET", "audit", params={"user_agent_prefix": user_agent_prefix}
        )
        return result

    def stats(self) -> dict[str, Any]:
        """``{"token_requests", "tokens_issued", "vertex_requests", "in_flight", "max_in_flight"}``."""
        result: dict[str, Any] = self._call("GET", "stats")
        return result

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()
