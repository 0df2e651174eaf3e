"""Every method is served from one table (server/decoding.MethodTable): each service, health and
reflection answer; bytes no message decodes from get INVALID_ARGUMENT; an unknown method gets
UNIMPLEMENTED."""

from __future__ import annotations

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from vertex_gateway.v1 import chat_pb2, model_pb2, model_pb2_grpc

from server.decoding import MethodTable

from ..conftest import error_details
from .conftest import ask

C = grpc.StatusCode
# A field 1 (model, a string) whose length prefix runs past the end of the message.
TRUNCATED = b"\x0a\x05ab"


def _raw(channel: grpc.aio.Channel, method: str) -> grpc.aio.UnaryUnaryMultiCallable:  # type: ignore[type-arg]
    """A unary call that sends bytes as they are and returns the reply's bytes."""
    return channel.unary_unary(method, request_serializer=None, response_deserializer=None)


@pytest.mark.parametrize(
    "method",
    [
        "/vertex_gateway.v1.ChatService/Chat",
        "/vertex_gateway.v1.EmbeddingService/Embed",
        "/grpc.health.v1.Health/Check",
    ],
)
async def test_undecodable_bytes_are_invalid_argument(
    channel: grpc.aio.Channel, method: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _raw(channel, method)(TRUNCATED, timeout=10)
    assert info.value.code() == C.INVALID_ARGUMENT
    assert "not a valid message" in (info.value.details() or "")
    details = error_details(info.value)
    assert details.info is not None and details.info.reason == "REQUEST_NOT_DECODABLE"


async def test_undecodable_bytes_on_a_stream_are_invalid_argument(
    channel: grpc.aio.Channel,
) -> None:
    call = channel.unary_stream(
        "/vertex_gateway.v1.ChatService/StreamChat",
        request_serializer=None,
        response_deserializer=None,
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        [m async for m in call(TRUNCATED, timeout=10)]
    assert info.value.code() == C.INVALID_ARGUMENT
    details = error_details(info.value)
    assert details.info is not None and details.info.reason == "REQUEST_NOT_DECODABLE"


async def test_a_method_nobody_serves_is_unimplemented(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _raw(channel, "/vertex_gateway.v1.ChatService/Nope")(b"", timeout=10)
    assert info.value.code() == C.UNIMPLEMENTED


async def test_services_health_and_reflection_answer(channel: grpc.aio.Channel) -> None:
    reply = await _raw(channel, "/vertex_gateway.v1.ChatService/Chat")(
        ask("hello").SerializeToString(), timeout=10
    )
    assert chat_pb2.ChatResponse.FromString(reply).candidates
    models = await model_pb2_grpc.ModelServiceStub(channel).ListModels(
        model_pb2.ListModelsRequest(), timeout=10
    )
    assert models.models
    health = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service="vertex_gateway.v1.ChatService"), timeout=10
    )
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    listed = [
        r
        async for r in reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
        )
    ]
    names = {s.name for s in listed[0].list_services_response.service}
    assert {"vertex_gateway.v1.ChatService", "grpc.health.v1.Health"} <= names


def test_the_table_holds_each_added_method_once_by_its_full_path() -> None:
    from vertex_gateway.v1 import chat_pb2_grpc

    table = MethodTable()
    table.add(chat_pb2_grpc.add_ChatServiceServicer_to_server, chat_pb2_grpc.ChatServiceServicer())
    assert sorted(table.methods()) == [
        "/vertex_gateway.v1.ChatService/Chat",
        "/vertex_gateway.v1.ChatService/CountTokens",
        "/vertex_gateway.v1.ChatService/StreamChat",
    ]
    with pytest.raises(RuntimeError, match="registered no service"):
        table.add(lambda servicer, server: None, object())
