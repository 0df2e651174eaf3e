"""Bad input gets INVALID_ARGUMENT / NOT_FOUND naming the problem, never UNKNOWN or a crash."""

from __future__ import annotations

import grpc
import pytest
from vertex_gateway.v1 import chat_pb2, chat_pb2_grpc

from emulator.admin import EmulatorAdmin

from ..conftest import error_details
from .conftest import MAX_REQUEST_BYTES, ask, rpc_error, user

Stub = chat_pb2_grpc.ChatServiceStub
C = grpc.StatusCode


@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize(
    ("request_", "field", "needle"),
    [
        (chat_pb2.ChatRequest(model="gemini-2.5-flash"), "messages", "at least one message"),
        (chat_pb2.ChatRequest(model="gemini-2.5-flash", messages=[chat_pb2.Message(parts=[chat_pb2.Part(text="x")])]),
         "messages[0].role", "is required"),
        (chat_pb2.ChatRequest(model="gemini-2.5-flash", messages=[chat_pb2.Message(role=9, parts=[chat_pb2.Part(text="x")])]),  # type: ignore[arg-type]
         "messages[0].role", "unknown value 9"),
        (chat_pb2.ChatRequest(model="gemini-2.5-flash", messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER)]),
         "messages[0].parts", "at least one part"),
        (chat_pb2.ChatRequest(model="gemini-2.5-flash", messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part()])]),
         "messages[0].parts[0]", "is empty"),
        (chat_pb2.ChatRequest(messages=[user("x")]), "model", "is required"),
        (ask("x", model="bad model name!"), "model", "not a valid model name"),
        (ask("x", generation_config=chat_pb2.GenerationConfig(temperature=3)), "generation_config.temperature", "between 0 and 2"),
        (ask("x", labels={"Bad Key": "v"}), "labels['Bad Key']", "lowercase"),
    ],
)  # fmt: skip
async def test_invalid_argument_names_the_field(
    chat: Stub,
    admin: EmulatorAdmin,
    request_: chat_pb2.ChatRequest,
    field: str,
    needle: str,
    streaming: bool,
) -> None:
    d = error_details(await rpc_error(chat, request_, streaming=streaming))
    assert d.code == C.INVALID_ARGUMENT
    assert field in d.message and needle in d.message
    if field != "model":
        assert d.bad_request is not None
        assert field in [v.field for v in d.bad_request.field_violations]
    assert admin.requests() == []  # rejected before anything reached Vertex


@pytest.mark.parametrize("streaming", [False, True])
async def test_unknown_model_is_not_found(chat: Stub, streaming: bool) -> None:
    d = error_details(await rpc_error(chat, ask("x", model="gemini-9-ultra"), streaming=streaming))
    assert d.code == C.NOT_FOUND
    assert "gemini-9-ultra" in d.message
    assert d.info is not None and d.info.reason == "MODEL_NOT_FOUND"
    assert d.info.metadata["model"] == "gemini-9-ultra"


async def test_model_without_chat_capability(chat: Stub) -> None:
    d = error_details(await rpc_error(chat, ask("x", model="text-embedding-005")))
    assert d.code == C.INVALID_ARGUMENT
    assert "text-embedding-005" in d.message and "chat" in d.message
    assert d.info is not None and d.info.reason == "CAPABILITY_NOT_SUPPORTED"


async def test_oversize_request(chat: Stub, admin: EmulatorAdmin) -> None:
    d = error_details(await rpc_error(chat, ask("word " * (MAX_REQUEST_BYTES // 5 + 10))))
    assert d.code == C.INVALID_ARGUMENT
    assert d.info is not None and d.info.reason == "REQUEST_TOO_LARGE"
    assert str(MAX_REQUEST_BYTES) in d.message
    assert admin.requests() == []


async def test_job_names_with_a_made_up_location_never_reach_vertex(
    channel: grpc.aio.Channel, admin: EmulatorAdmin
) -> None:
    """Batch and tuning job names carry their location; one the gateway does not serve is
    refused before any URL is built (no new Vertex host, no per-location state)."""
    from vertex_gateway.v1 import batch_pb2, batch_pb2_grpc, tuning_pb2, tuning_pb2_grpc

    admin.clear_requests()
    batches = batch_pb2_grpc.BatchServiceStub(channel)
    tuning = tuning_pb2_grpc.TuningServiceStub(channel)
    calls = [
        batches.GetBatch(batch_pb2.GetBatchRequest(name="batches/zz-nowhere1-1234567890")),
        tuning.GetTuningJob(tuning_pb2.GetTuningJobRequest(name="tuningJobs/zz-nowhere1-1234")),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
        assert "zz-nowhere1" in (caught.value.details() or "")
    assert admin.requests() == []


async def test_a_request_with_hundreds_of_problems_still_gets_its_invalid_argument(
    channel: grpc.aio.Channel,
) -> None:
    """Every problem is listed only up to a budget: gRPC refuses trailers past 8 KiB, and the
    caller must get INVALID_ARGUMENT with the first problems, never a transport error."""
    from vertex_gateway.v1 import batch_pb2, batch_pb2_grpc

    items = [
        batch_pb2.BatchItem(id=f"item-{i:04d}", chat=chat_pb2.ChatRequest(model="x" * 100))
        for i in range(400)
    ]
    batches = batch_pb2_grpc.BatchServiceStub(channel)
    for _ in range(5):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await batches.CreateBatch(
                batch_pb2.CreateBatchRequest(model="gemini-2.5-flash", requests=items)
            )
        details = error_details(caught.value)
        assert details.code == grpc.StatusCode.INVALID_ARGUMENT, details.message
        assert details.bad_request is not None
        violations = details.bad_request.field_violations
        assert 5 < len(violations) < 100
        assert violations[-1].description.endswith("more problems not listed")
