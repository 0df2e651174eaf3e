"""URL builder: hosts per location kind, versions, express mode, endpoints, base URL override."""

import pytest

from server.vertex.urls import (
    UrlError,
    VertexTarget,
    endpoint_url,
    host_for,
    publisher_model_url,
)


@pytest.mark.parametrize(
    ("location", "host"),
    [
        ("us-central1", "us-central1-aiplatform.googleapis.com"),
        ("europe-west4", "europe-west4-aiplatform.googleapis.com"),
        ("us-east5", "us-east5-aiplatform.googleapis.com"),
        ("global", "aiplatform.googleapis.com"),
        ("us", "aiplatform.us.rep.googleapis.com"),
        ("eu", "aiplatform.eu.rep.googleapis.com"),
    ],
)
def test_host_per_location(location: str, host: str) -> None:
    assert host_for(location) == host


@pytest.mark.parametrize(
    ("target", "publisher", "model", "method", "sse", "url"),
    [
        (
            VertexTarget("p1", "us-central1"),
            "google", "gemini-2.5-flash", "generateContent", False,
            "https://us-central1-aiplatform.googleapis.com/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
        ),
        (
            VertexTarget("p1", "global"),
            "google", "gemini-3-pro-preview", "streamGenerateContent", True,
            "https://aiplatform.googleapis.com/v1/projects/p1/locations/global/publishers/google/models/gemini-3-pro-preview:streamGenerateContent?alt=sse",
        ),
        (
            VertexTarget("p1", "eu", "v1beta1"),
            "google", "gemini-2.5-pro", "countTokens", False,
            "https://aiplatform.eu.rep.googleapis.com/v1beta1/projects/p1/locations/eu/publishers/google/models/gemini-2.5-pro:countTokens",
        ),
        (
            VertexTarget("p1", "us", "v1"),
            "anthropic", "claude-sonnet-4-5@20250929", "rawPredict", False,
            "https://aiplatform.us.rep.googleapis.com/v1/projects/p1/locations/us/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict",
        ),
        (
            VertexTarget(None, "global"),  # express mode: API key, no project in the path
            "google", "gemini-2.5-flash", "generateContent", False,
            "https://aiplatform.googleapis.com/v1/publishers/google/models/gemini-2.5-flash:generateContent",
        ),
        (
            VertexTarget(None, "us-central1"),  # express mode always uses the global host
            "google", "gemini-2.5-flash", "streamGenerateContent", True,
            "https://aiplatform.googleapis.com/v1/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        ),
        (
            VertexTarget("p1", "us-central1", "v1", "http://127.0.0.1:8080/"),  # emulator
            "google", "gemini-2.5-flash", "generateContent", False,
            "http://127.0.0.1:8080/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
        ),
    ],
)  # fmt: skip
def test_publisher_model_urls(
    target: VertexTarget, publisher: str, model: str, method: str, sse: bool, url: str
) -> None:
    assert publisher_model_url(target, publisher, model, method, sse=sse) == url


def test_tuned_endpoint_url() -> None:
    target = VertexTarget("p1", "us-central1")
    assert endpoint_url(target, "1234567", "generateContent") == (
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p1/locations/us-central1/endpoints/1234567:generateContent"
    )
    assert endpoint_url(target, "1234567", "streamGenerateContent", sse=True).endswith(
        "endpoints/1234567:streamGenerateContent?alt=sse"
    )
    with pytest.raises(UrlError):
        endpoint_url(VertexTarget(None, "global"), "1", "generateContent")


@pytest.mark.parametrize("location", ["US-CENTRAL1", "evil.com/x", "", "a b", "-x"])
def test_invalid_locations_never_reach_a_hostname(location: str) -> None:
    with pytest.raises(UrlError):
        VertexTarget("p", location)


@pytest.mark.parametrize("model", ["../x", "a/b", "", ".."])
def test_invalid_model_segments(model: str) -> None:
    with pytest.raises(UrlError):
        publisher_model_url(VertexTarget("p", "global"), "google", model, "generateContent")


def test_odd_characters_are_escaped() -> None:
    url = publisher_model_url(VertexTarget("p", "global"), "google", "m;x?y", "generateContent")
    assert "m%3Bx%3Fy:generateContent" in url
