"""The project's own Vertex resources the emulator lists: custom models and endpoints.

Every project and location starts with the same small set (a tuned Gemini model deployed to an
endpoint, a custom model deployed to another, an undeployed model and an empty endpoint), so
listings are deterministic. Tests add more through the admin API to exercise paging, and a
tuning job that succeeds adds its tuned model and the endpoint serving it (names with the
project number, as Vertex writes them); a reset restores the seed. Shapes follow the discovery
document's `Model` and `Endpoint` schemas.

A path may name a project by its id or its number (``batch_jobs.project_number``): lookups
accept both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emulator.batch_jobs import project_number, timestamp

_CREATED = "2026-10-01T09:00:00.000000Z"


def _model(
    parent: str, model_id: str, display: str, base: str | None, created: str = _CREATED
) -> dict[str, Any]:
    model: dict[str, Any] = {
        "name": f"{parent}/models/{model_id}",
        "displayName": display,
        "versionId": "1",
        "versionAliases": ["default"],
        "createTime": created,
        "updateTime": created,
        "versionCreateTime": created,
        "versionUpdateTime": created,
        "etag": f"etag-{model_id}",
    }
    if base is not None:
        model["baseModelSource"] = {"modelGardenSource": {"publicModelName": base}}
        model["description"] = f"Supervised tuning of {base.rsplit('/', 1)[-1]}"
    return model


def _endpoint(
    parent: str,
    endpoint_id: str,
    display: str,
    deployed: list[tuple[str, str, str]],
    created: str = _CREATED,
) -> dict[str, Any]:
    endpoint: dict[str, Any] = {
        "name": f"{parent}/endpoints/{endpoint_id}",
        "displayName": display,
        "createTime": created,
        "updateTime": created,
        "etag": f"etag-{endpoint_id}",
    }
    if deployed:
        endpoint["deployedModels"] = [
            {
                "id": deployed_id,
                "model": f"{parent}/models/{model_id}",
                "displayName": name,
                "modelVersionId": "1",
                "createTime": created,
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

    def add_tuned(
        self,
        project: str,
        location: str,
        *,
        ids: tuple[str, str, str],
        display_name: str,
        base_model: str,
        labels: dict[str, str],
    ) -> tuple[str, str]:
        """Register a tuning job's result: the tuned model (base ``publishers/google/models/…``)
        and an endpoint serving it. ``ids`` are the model, endpoint and deployed-model ids.
        Returns the model and endpoint names (``projects/{number}/locations/{l}/…``)."""
        key = self._ensure(project, location)
        parent = f"projects/{project_number(project)}/locations/{location}"
        model_id, endpoint_id, deployed_id = ids
        created = timestamp(datetime.now(UTC))
        model = _model(parent, model_id, display_name, base_model, created)
        endpoint = _endpoint(
            parent, endpoint_id, display_name, [(deployed_id, model_id, display_name)], created
        )
        if labels:
            model["labels"] = endpoint["labels"] = dict(labels)
        self._models[key].append(model)
        self._endpoints[key].append(endpoint)
        return model["name"], endpoint["name"]

    def _matching_keys(self, project: str, location: str) -> list[tuple[str, str]]:
        self._ensure(project, location)
        number = project_number(project)
        return [
            key for key in self._models if key[1] == location and project_number(key[0]) == number
        ]

    def find_endpoint(self, project: str, location: str, endpoint_id: str) -> dict[str, Any] | None:
        """The endpoint with that id under that parent (project id or number), or None."""
        for key in self._matching_keys(project, location):
            for endpoint in self._endpoints[key]:
                if endpoint["name"].rsplit("/", 1)[1] == endpoint_id:
                    return endpoint
        return None

    def find_model(self, project: str, location: str, model_id: str) -> dict[str, Any] | None:
        """The model with that id under that parent (project id or number), or None."""
        for key in self._matching_keys(project, location):
            for model in self._models[key]:
                if model["name"].rsplit("/", 1)[1] == model_id:
                    return model
        return None

    def clear(self) -> None:
        """Back to the seed."""
        self._models.clear()
        self._endpoints.clear()
