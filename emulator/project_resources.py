"""The project's own Vertex resources the emulator lists: custom models and endpoints.

Every project and location starts with the same small set (a tuned Gemini model deployed to an
endpoint, a custom model deployed to another, an undeployed model and an empty endpoint), so
listings are deterministic. Tests add more through the admin API to exercise paging; a reset
restores the seed. Shapes follow the discovery document's `Model` and `Endpoint` schemas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_CREATED = "2026-10-01T09:00:00.000000Z"


def _model(parent: str, model_id: str, display: str, base: str | None) -> dict[str, Any]:
    model: dict[str, Any] = {
        "name": f"{parent}/models/{model_id}",
        "displayName": display,
        "versionId": "1",
        "versionAliases": ["default"],
        "createTime": _CREATED,
        "updateTime": _CREATED,
        "versionCreateTime": _CREATED,
        "versionUpdateTime": _CREATED,
        "etag": f"etag-{model_id}",
    }
    if base is not None:
        model["baseModelSource"] = {"modelGardenSource": {"publicModelName": base}}
        model["description"] = f"Supervised tuning of {base.rsplit('/', 1)[-1]}"
    return model


def _endpoint(
    parent: str, endpoint_id: str, display: str, deployed: list[tuple[str, str, str]]
) -> dict[str, Any]:
    endpoint: dict[str, Any] = {
        "name": f"{parent}/endpoints/{endpoint_id}",
        "displayName": display,
        "createTime": _CREATED,
        "updateTime": _CREATED,
        "etag": f"etag-{endpoint_id}",
    }
    if deployed:
        endpoint["deployedModels"] = [
            {
                "id": deployed_id,
                "model": f"{parent}/models/{model_id}",
                "displayName": name,
                "modelVersionId": "1",
                "createTime": _CREATED,
            }
            for deployed_id, model_id, name in deployed
        ]
        endpoint["trafficSplit"] = {deployed[0][0]: 100}
    return endpoint


def seed(project: str, location: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The models and endpoints every project and location starts with."""
    parent = f"projects/{project}/locations/{location}"
    models = [
        _model(
            parent, "1001", "support-assistant-tuned", "publishers/google/models/gemini-2.5-flash"
        ),
        _model(parent, "2002", "churn-classifier", None),
        _model(
            parent, "3003", "support-assistant-v0", "publishers/google/models/gemini-2.0-flash-001"
        ),
    ]
    endpoints = [
        _endpoint(
            parent, "4001", "support-assistant", [("5001", "1001", "support-assistant-tuned")]
        ),
        _endpoint(parent, "4002", "churn", [("5002", "2002", "churn-classifier")]),
        _endpoint(parent, "4003", "staging (empty)", []),
    ]
    return models, endpoints


@dataclass
class ProjectResources:
    """Models and endpoints per (project, location), seeded on first use."""

    _models: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    _endpoints: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)

    def _ensure(self, project: str, location: str) -> tuple[str, str]:
        key = (project, location)
        if key not in self._models:
            self._models[key], self._endpoints[key] = seed(project, location)
        return key

    def models(self, project: str, location: str) -> list[dict[str, Any]]:
        """Every custom model, oldest first."""
        return self._models[self._ensure(project, location)]

    def endpoints(self, project: str, location: str) -> list[dict[str, Any]]:
        """Every endpoint, oldest first."""
        return self._endpoints[self._ensure(project, location)]

    def add_generated(self, project: str, location: str, *, models: int, endpoints: int) -> None:
        """Add numbered undeployed models and empty endpoints (for paging tests)."""
        key = self._ensure(project, location)
        parent = f"projects/{project}/locations/{location}"
        start = len(self._models[key])
        for i in range(models):
            self._models[key].append(
                _model(parent, str(90000 + start + i), f"generated-{start + i}", None)
            )
        start = len(self._endpoints[key])
        for i in range(endpoints):
            self._endpoints[key].append(
                _endpoint(parent, str(80000 + start + i), f"generated-{start + i}", [])
            )

    def clear(self) -> None:
        """Back to the seed."""
        self._models.clear()
        self._endpoints.clear()
