"""What Imagen's ``:predict`` and Veo's ``:predictLongRunning`` bodies share: exactly one
instance, ``parameters`` that may be left out, and images given inline or by Cloud Storage URI."""

from __future__ import annotations

from typing import Any

from emulator.struct_checks import StructProblem, base64_bytes, check_object, gcs_uri


def parameters_of(body: dict[str, Any]) -> dict[str, Any]:
    """``parameters`` (an empty dict when left out)."""
    parameters = body.get("parameters")
    return parameters if isinstance(parameters, dict) else {}


def the_instance(
    body: dict[str, Any], model_id: str, keys: tuple[str, ...], outputs: str
) -> dict[str, Any]:
    """The single instance of a request (one prompt per request), with only the member names
    ``keys``; ``outputs`` names what ``parameters.sampleCount`` asks more of."""
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances:
        raise StructProblem("instances must hold exactly one instance, got none.")
    if len(instances) > 1:
        raise StructProblem(
            f"instances must hold exactly one instance, got {len(instances)}. "
            f"Use parameters.sampleCount for more {outputs}."
        )
    return check_object(instances[0], "instances[0]", keys, model_id)


def image_uri(image: dict[str, Any], where: str) -> str | None:
    """Check where an image comes from: exactly one of ``bytesBase64Encoded`` (not empty) and
    ``gcsUri`` (a gs:// URI). The URI, or None for inline bytes."""
    sources = [k for k in ("bytesBase64Encoded", "gcsUri") if k in image]
    if len(sources) != 1:
        raise StructProblem(f"{where} must set exactly one of bytesBase64Encoded and gcsUri.")
    if "bytesBase64Encoded" in image:
        if not base64_bytes(image["bytesBase64Encoded"], f"{where}.bytesBase64Encoded"):
            raise StructProblem(f"{where}.bytesBase64Encoded is empty.")
        return None
    return gcs_uri(image["gcsUri"], f"{where}.gcsUri")
