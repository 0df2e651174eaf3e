"""Faults on demand: the ``x-emulator-fault`` header and faults armed through the admin API."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import aiohttp
import pytest
from emu_helpers import Emulator, user_body

FAULT = "x-emulator-fault"


def with_fault(emu: Emulator, spec: str) -> dict[str, str]:
    return emu.auth(**{FAULT: spec})


@pytest.mark.parametrize(
    ("spec", "status", "google_status", "message"),
    [
        ("400", 400, "INVALID_ARGUMENT", "Request contains an invalid argument."),
        ("401", 401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
        (
            "403",
            403,
            "PERMISSION_DENIED",
            "Permission 'aiplatform.endpoints.predict' denied on resource",
        ),
        ("404", 404, "NOT_FOUND", "Publisher Model `projects/test-project/"),
        ("500", 500, "INTERNAL", "Internal error encountered."),
        ("503", 503, "UNAVAILABLE", "The service is currently unavailable."),
        ("504", 504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
    ],
)
async def test_status_faults(
    emu: Emulator, spec: str, status: int, google_status: str, message: str
) -> None:
    code, answer, resp = await emu.post(emu.url(), user_body(), with_fault(emu, spec))
    assert code == status
    assert resp.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert answer["error"]["code"] == status and answer["error"]["status"] == google_status
    assert answer["error"]["message"].startswith(message)
    (record,) = await emu.records()
    assert record["fault"] == spec and record["status"] == status


RESOURCE_EXHAUSTED = {
    "error": {
        "code": 429,
        "message": (
            "Resource exhausted. Please try again later. Please refer to "
            "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."
        ),
        "status": "RESOURCE_EXHAUSTED",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "RATE_LIMIT_EXCEEDED",
                "domain": "aiplatform.googleapis.com",
            },
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2s"},
        ],
    }
}


async def test_429(emu: Emulator) -> None:
    status, answer, _ = await emu.post(emu.url(), user_body(), with_fault(emu, "429"))
    assert (status, answer) == (429, RESOURCE_EXHAUSTED)


async def test_429_array(emu: Emulator) -> None:
    status, answer, _ = await emu.post(emu.url(), user_body(), with_fault(emu, "429-array"))
    assert (status, answer) == (429, [RESOURCE_EXHAUSTED])


async def test_status_fault_on_json_array_stream_is_wrapped(emu: Emulator) -> None:
    status, answer, _ = await emu.post(
        emu.url("streamGenerateContent"), user_body(), with_fault(emu, "429")
    )
    assert (status, answer) == (429, [RESOURCE_EXHAUSTED])
    url = emu.url("streamGenerateContent") + "?alt=sse"
    status, answer, _ = await emu.post(url, user_body(), with_fault(emu, "429"))
    assert (status, answer) == (429, RESOURCE_EXHAUSTED)


async def test_unknown_fault_spec(emu: Emulator) -> None:
    status, answer, _ = await emu.post(emu.url(), user_body(), with_fault(emu, "explode"))
    assert status == 400 and "explode" in answer["error"]["message"]


async def test_slow(emu: Emulator) -> None:
    started = time.monotonic()
    status, _, _ = await emu.post(emu.url(), user_body(), with_fault(emu, "slow:300"))
    assert status == 200 and time.monotonic() - started >= 0.3


async def test_slow_stream(emu: Emulator) -> None:
    url = emu.url("streamGenerateContent") + "?alt=sse"
    async with emu.http.post(
        url, json=user_body(), headers=with_fault(emu, "slow-stream:100")
    ) as resp:
        arrivals = []
        async for line in resp.content:
            if line.startswith(b"data: "):
                arrivals.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(arrivals) >= 3 and min(gaps) >= 0.08
    (record,) = await emu.records()
    assert record["completed"] and not record["client_disconnected"]


async def wait_for_record(emu: Emulator, predicate: Any, timeout: float = 3.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in await emu.records():
            if predicate(record):
                result: dict[str, Any] = record
                return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"no matching record in {await emu.records()}")


async def test_client_disconnect_is_recorded(emu: Emulator) -> None:
    url = emu.url("streamGenerateContent") + "?alt=sse"
    resp = await emu.http.post(url, json=user_body(), headers=with_fault(emu, "slow-stream:200"))
    first = await resp.content.readline()
    assert first.startswith(b"data: ")
    resp.close()
    record = await wait_for_record(emu, lambda r: r["client_disconnected"], timeout=2.0)
    assert record["status"] == 200 and record["fault"] == "slow-stream:200"
    assert not record["completed"]


async def test_disconnect_mid_stream(emu: Emulator) -> None:
    url = emu.url("streamGenerateContent") + "?alt=sse"
    async with emu.http.post(
        url, json=user_body(), headers=with_fault(emu, "disconnect-mid-stream")
    ) as resp:
        assert resp.status == 200
        first = await resp.content.readline()
        assert first.startswith(b"data: ")
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
    (record,) = await emu.records()
    assert not record["completed"] and not record["client_disconnected"]


async def test_disconnect_on_unary(emu: Emulator) -> None:
    async with emu.http.post(
        emu.url(), json=user_body(), headers=with_fault(emu, "disconnect-mid-stream")
    ) as resp:
        assert resp.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()


def sse_blocks(raw: str) -> list[str]:
    return [block for block in raw.split("\r\n\r\n") if block.strip()]


async def read_stream(emu: Emulator, spec: str, sse: bool = True) -> tuple[int, str]:
    url = emu.url("streamGenerateContent") + ("?alt=sse" if sse else "")
    async with emu.http.post(url, json=user_body(), headers=with_fault(emu, spec)) as resp:
        return resp.status, (await resp.read()).decode()


async def test_stream_error(emu: Emulator) -> None:
    status, raw = await read_stream(emu, "stream-error")
    assert status == 200
    blocks = sse_blocks(raw)
    assert 2 <= len(blocks) <= 3
    payloads = [json.loads(b.removeprefix("data: ")) for b in blocks]
    assert all("candidates" in p for p in payloads[:-1])
    assert payloads[-1]["error"]["code"] == 429
    assert payloads[-1]["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert "finishReason" not in json.dumps(payloads[:-1])


async def test_stream_error_raw(emu: Emulator) -> None:
    status, raw = await read_stream(emu, "stream-error-raw")
    assert status == 200
    tail = raw[raw.rindex("\r\n\r\n") + 4 :]
    assert tail.startswith("{\n") and not tail.startswith("data:")
    assert json.loads(tail)["error"]["status"] == "RESOURCE_EXHAUSTED"


async def test_stream_error_in_json_array(emu: Emulator) -> None:
    status, raw = await read_stream(emu, "stream-error", sse=False)
    chunks = json.loads(raw)
    assert status == 200 and "error" in chunks[-1] and "candidates" in chunks[0]


async def test_malformed_json(emu: Emulator) -> None:
    async with emu.http.post(
        emu.url(), json=user_body(), headers=with_fault(emu, "malformed-json")
    ) as resp:
        assert resp.status == 200
        text = await resp.text()
    with pytest.raises(ValueError):
        json.loads(text)
    status, raw = await read_stream(emu, "malformed-json")
    assert status == 200
    (block,) = sse_blocks(raw)
    assert block.startswith("data: ")
    with pytest.raises(ValueError):
        json.loads(block.removeprefix("data: "))


async def test_armed_fault_counts_down_and_matches_paths(emu: Emulator) -> None:
    armed = await emu.admin(
        "POST", "faults", json={"fault": "503", "times": 2, "path_contains": "gemini-2.5-pro"}
    )
    assert armed == [{"fault": "503", "times": 2, "path_contains": "gemini-2.5-pro"}]
    assert (await emu.post(emu.url(model="gemini-2.5-flash"), user_body()))[0] == 200
    assert (await emu.post(emu.url(model="gemini-2.5-pro"), user_body()))[0] == 503
    assert (await emu.post(emu.url(model="gemini-2.5-pro"), user_body()))[0] == 503
    assert (await emu.post(emu.url(model="gemini-2.5-pro"), user_body()))[0] == 200
    assert await emu.admin("GET", "faults") == []


async def test_armed_fault_is_not_used_by_admin_or_failed_auth(emu: Emulator) -> None:
    await emu.admin("POST", "faults", json={"fault": "500"})
    await emu.admin("GET", "stats")
    assert (await emu.post(emu.url(), user_body(), {}))[0] == 401
    assert (await emu.post(emu.url(), user_body()))[0] == 500


async def test_disarm(emu: Emulator) -> None:
    await emu.admin("POST", "faults", json={"fault": "429", "times": 5})
    await emu.admin("DELETE", "faults")
    assert (await emu.post(emu.url(), user_body()))[0] == 200


async def test_arming_a_bad_spec_is_refused(emu: Emulator) -> None:
    async with emu.http.post(f"{emu.base_url}/_emulator/faults", json={"fault": "418"}) as resp:
        assert resp.status == 400
