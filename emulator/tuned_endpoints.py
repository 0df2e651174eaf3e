"""The project's own endpoints as Gemini servers: ``endpoints/{id}:generateContent``,
``:streamGenerateContent`` and ``:countTokens`` (vertex-wire.md §1.3 "Tuned Gemini").

An endpoint serves the model its traffic goes to (the first deployed model). When that model is a
tuned Gemini — its ``baseModelSource.modelGardenSource.publicModelName`` names a Gemini text
model of the catalog, as the seed's ``models/1001`` and every tuning job's model do — the
endpoint answers and validates exactly as that base model does. Otherwise, as at Google:

* no such endpoint under the path's project (id or number) and location → 404 ``Endpoint `…` not
  found.``, before the body is looked at (as an unknown publisher model is);
* an endpoint with no deployed model → 400 ``FAILED_PRECONDITION`` (modelled wording);
* a deployed model that is not a Gemini (a custom model) → 400 ``Model … does not support
  generateContent.`` (the wording Vertex uses for non-Gemini publisher models).

``:predict`` / ``:rawPredict`` / ``:streamRawPredict`` on a tuned-Gemini endpoint get Vertex's
"Gemini cannot be accessed through Vertex Predict/RawPredict API" refusal; on any other endpoint
they keep the endpoint 404 (custom models are not emulated).
"""

from __future__ import annotations

from typing import Any

from emulator import errors
from emulator.catalog import ModelInfo, find_model
from emulator.errors import GoogleError
from emulator.project_resources import ProjectResources
from emulator.routing import VertexTarget

GEMINI_METHODS = ("generateContent", "streamGenerateContent", "countTokens")
PREDICT_METHODS = ("predict", "rawPredict", "streamRawPredict")
_PUBLISHER_PREFIX = "publishers/google/models/"


def find(resources: ProjectResources, target: VertexTarget) -> dict[str, Any] | None:
    """The endpoint resource a target names, or None."""
    if target.endpoint is None or target.project is None or target.location is None:
        return None
    return resources.find_endpoint(target.project, target.location, target.endpoint)


def _deployed_model(
    resources: ProjectResources, target: VertexTarget, endpoint: dict[str, Any]
) -> dict[str, Any] | None:
    deployed = endpoint.get("deployedModels") or []
    if not deployed:
        return None
    model_id = str(deployed[0]["model"]).rsplit("/", 1)[1]
    assert target.project is not None and target.location is not None
    return resources.find_model(target.project, target.location, model_id)


def base_gemini(model: dict[str, Any] | None) -> ModelInfo | None:
    """The catalog Gemini text model a tuned model was tuned from, or None."""
    if model is None:
        return None
    source = model.get("baseModelSource", {}).get("modelGardenSource", {})
    public = str(source.get("publicModelName", ""))
    if not public.startswith(_PUBLISHER_PREFIX):
        return None
    found = find_model("google", public.removeprefix(_PUBLISHER_PREFIX))
    if found is None or not found.generates_content or found.media is not None:
        return None
    return found


def serving_model(resources: ProjectResources, target: VertexTarget) -> ModelInfo | None:
    """The Gemini model behind an endpoint target, or None when it serves no Gemini."""
    endpoint = find(resources, target)
    if endpoint is None:
        return None
    return base_gemini(_deployed_model(resources, target, endpoint))


def gemini_error(resources: ProjectResources, target: VertexTarget) -> GoogleError | None:
    """Why an endpoint cannot answer a Gemini method (None when it can)."""
    endpoint = find(resources, target)
    if endpoint is None:
        return errors.endpoint_not_found(target.resource)
    model = _deployed_model(resources, target, endpoint)
    if model is None:
        return GoogleError(
            400,
            f"Endpoint `{target.resource}` does not have a deployed model.",
            "FAILED_PRECONDITION",
        )
    if base_gemini(model) is None:
        return errors.invalid_argument(f"Model {model['name']} does not support {target.method}.")
    return None


def predict_error(resources: ProjectResources, target: VertexTarget) -> GoogleError:
    """The answer to ``:predict`` / ``:rawPredict`` / ``:streamRawPredict`` on an endpoint."""
    if serving_model(resources, target) is not None:
        return errors.gemini_not_on_predict()
    return errors.endpoint_not_found(target.resource)
