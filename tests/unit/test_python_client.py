"""The Python client (clients/python) against an in-process fake gateway (grpc.aio servicers
that fail and answer as scripted, with errors rendered by the gateway's own server/errors.py).

Both clients run every behaviour: the synchronous one in a worker thread, so the fake keeps
serving on the test's event loop. Waits between attempts are recorded, not slept.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio
import pytest
import vertex_gateway
from google.rpc import status_pb2
from grpc_status import rpc_status
from vertex_gateway import (
    NO_RETRY,
    AsyncVertexGateway,
    InvalidArgumentError,
    ResourceExhaustedError,
    RetryPolicy,
    UnavailableError,
    VertexGateway,
    VertexGatewayError,
    _retry,
    chat_request,
    errors,
    reply_text,
)
from vertex_gateway._channel import channel_options
from vertex_gateway.v1 import chat_pb2, chat_pb2_grpc, file_pb2, file_pb2_grpc

from server.app import server_options
from server.config import ServerConfig, load_config
from server.errors import FieldViolation, GatewayError

KINDS = ["sync", "async"]
MIB = 1024 * 1024


def failure(code: grpc.StatusCode, reason: str = "TEST_REASON", **kw: Any) -> GatewayError:
    """An error exactly as the gateway renders it (ErrorInfo, BadRequest, RetryInfo, ...)."""
    return GatewayError(code, f"scripted {code.name}", reason, **kw)


def answer(text: str) -> chat_pb2.ChatResponse:
    return chat_pb2.ChatResponse(
        model="fake",
        candidates=[
            chat_pb2.Candidate(
                message=chat_pb2.Message(
                    role=chat_pb2.ROLE_ASSISTANT, parts=[chat_pb2.Part(text=text)]
                )
            )
        ],
    )


def delta(text: str) -> chat_pb2.StreamChatResponse:
    reply = answer(text)
    return chat_pb2.StreamChatResponse(model=reply.model, candidates=reply.candidates)


@dataclass
class Seen:
    """One call as the fake received it."""

    method: str
    request: Any
    metadata: dict[str, str]
    time_remaining: float | None


@dataclass
class Fake:
    """Scripts per method, consumed one entry per call (the last one repeats)."""

    chat: list[chat_pb2.ChatResponse | GatewayError] = field(default_factory=list)
    # each attempt: the messages to send, then optionally an error to end with
    stream: list[list[chat_pb2.StreamChatResponse | GatewayError]] = field(default_factory=list)
    upload: list[file_pb2.File | GatewayError] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def record(self, method: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> int:
        metadata = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        self.seen.append(Seen(method, request, metadata, context.time_remaining()))
        return sum(1 for s in self.seen if s.method == method)

    def calls(self, method: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method]


def pick(script: list[Any], attempt: int) -> Any:
    return script[min(attempt, len(script)) - 1]


class FakeChat(chat_pb2_grpc.ChatServiceServicer):
    def __init__(self, fake: Fake) -> None:
        self.fake = fake

    async def Chat(self, request: Any, context: Any) -> chat_pb2.ChatResponse:
        attempt = self.fake.record("Chat", request, context)
        step = pick(self.fake.chat, attempt)
        if isinstance(step, GatewayError):
            await context.abort_with_status(step.to_grpc_status())
        context.set_trailing_metadata((("attempt", str(attempt)),))
        return step  # type: ignore[no-any-return]

    async def StreamChat(
        self, request: Any, context: Any
    ) -> AsyncIterator[chat_pb2.StreamChatResponse]:
        attempt = self.fake.record("StreamChat", request, context)
        context.set_trailing_metadata((("attempt", str(attempt)),))
        for step in pick(self.fake.stream, attempt):
            if isinstance(step, GatewayError):
                await context.abort_with_status(step.to_grpc_status())
            yield step


class FakeFiles(file_pb2_grpc.FileServiceServicer):
    def __init__(self, fake: Fake) -> None:
        self.fake = fake

    async def UploadFile(self, request_iterator: Any, context: Any) -> file_pb2.File:
        chunks = [r async for r in request_iterator]
        attempt = self.fake.record("UploadFile", chunks, context)
        step = pick(self.fake.upload, attempt)
        if isinstance(step, GatewayError):
            await context.abort_with_status(step.to_grpc_status())
        return step  # type: ignore[no-any-return]


@dataclass
class Server:
    target: str
    fake: Fake


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[Server]:
    fake = Fake()
    srv = grpc.aio.server(options=[("grpc.max_send_message_length", 64 * MIB)])
    # The fakes leave out the RPCs these tests do not call.
    chat_pb2_grpc.add_ChatServiceServicer_to_server(FakeChat(fake), srv)  # type: ignore[abstract]
    file_pb2_grpc.add_FileServiceServicer_to_server(FakeFiles(fake), srv)  # type: ignore[abstract]
    port = srv.add_insecure_port("127.0.0.1:0")
    await srv.start()
    yield Server(f"127.0.0.1:{port}", fake)
    await srv.stop(None)


@pytest.fixture
def fake(server: Server) -> Fake:
    server.fake.chat, server.fake.stream, server.fake.upload = [], [], []
    server.fake.seen.clear()
    return server.fake


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between attempts, recorded instead of slept."""
    recorded: list[float] = []

    async def async_sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(_retry, "sleep", recorded.append)
    monkeypatch.setattr(_retry, "async_sleep", async_sleep)
    return recorded


# --- running one thing through either client ------------------------------------------------


async def with_client(kind: str, target: str, use: Callable[[Any], Any], **kw: Any) -> Any:
    """`use(client)` with a fresh client of `kind`; for "async", `use` returns an awaitable."""
    if kind == "sync":

        def run() -> Any:
            with VertexGateway(target, **kw) as client:
                return use(client)

        return await asyncio.to_thread(run)
    async with AsyncVertexGateway(target, **kw) as client:
        return await use(client)


async def chat(
    kind: str, server: Server, *args: Any, call: dict[str, Any] | None = None, **client: Any
) -> chat_pb2.ChatResponse:
    """`client.chat(*args, **call)` on a client made with `client` settings."""
    result: chat_pb2.ChatResponse = await with_client(
        kind, server.target, lambda c: c.chat(*args, **(call or {})), **client
    )
    return result


async def stream(
    kind: str, server: Server, request: chat_pb2.ChatRequest, **kw: Any
) -> tuple[list[str], BaseException | None, str]:
    """The texts a StreamChat yielded, the error it ended with, and its last trailing
    `attempt` value."""

    def attempt_of(trailers: Any) -> str:
        return str(dict(trailers or ()).get("attempt", ""))

    if kind == "sync":

        def run(client: VertexGateway) -> tuple[list[str], BaseException | None, str]:
            texts: list[str] = []
            call = client.chat_service.StreamChat(request)
            try:
                for message in call:
                    texts.append(reply_text(message))
            except VertexGatewayError as exc:
                return texts, exc, attempt_of(call.trailing_metadata())
            return texts, None, attempt_of(call.trailing_metadata())

        return await with_client(kind, server.target, run, **kw)  # type: ignore[no-any-return]

    async def run_async(client: AsyncVertexGateway) -> tuple[list[str], BaseException | None, str]:
        texts: list[str] = []
        call = client.chat_service.StreamChat(request)
        try:
            async for message in call:
                texts.append(reply_text(message))
        except VertexGatewayError as exc:
            return texts, exc, attempt_of(await call.trailing_metadata())
        return texts, None, attempt_of(await call.trailing_metadata())

    return await with_client(kind, server.target, run_async, **kw)  # type: ignore[no-any-return]


QUICK = RetryPolicy(max_attempts=4, initial_backoff=0.5, max_backoff=0.8, multiplier=2.0)
HELLO = chat_request("gemini-2.5-flash", "Hello")


# --- retry ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_unavailable_is_retried_with_jittered_backoff_until_success(
    kind: str, server: Server, fake: Fake, waits: list[float]
) -> None:
    busy = failure(grpc.StatusCode.UNAVAILABLE, "UPSTREAM_CONNECTION_FAILED")
    fake.chat = [busy, busy, answer("third time")]
    reply = await chat(kind, server, HELLO, retry=QUICK)
    assert reply_text(reply) == "third time"
    assert len(fake.calls("Chat")) == 3
    assert len(waits) == 2
    assert 0 <= waits[0] <= 0.5  # initial_backoff
    assert 0 <= waits[1] <= 0.8  # 0.5 * 2 = 1.0, capped by max_backoff


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (grpc.StatusCode.INTERNAL, errors.InternalError),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, errors.ResourceExhaustedError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, errors.DeadlineExceededError),
        (grpc.StatusCode.ABORTED, errors.AbortedError),
        (grpc.StatusCode.UNKNOWN, errors.UnknownError),
    ],
)
async def test_other_codes_are_raised_at_once(
    kind: str,
    code: grpc.StatusCode,
    cls: type[VertexGatewayError],
    server: Server,
    fake: Fake,
    waits: list[float],
) -> None:
    # RetryInfo on a code that is not retried stays the caller's decision.
    fake.chat = [failure(code, retry_delay_seconds=0.5), answer("never reached")]
    with pytest.raises(cls) as info:
        await chat(kind, server, HELLO, retry=QUICK)
    assert info.value.code() is code
    assert info.value.retry_delay == 0.5
    assert len(fake.calls("Chat")) == 1
    assert waits == []


@pytest.mark.parametrize("kind", KINDS)
async def test_attempts_are_bounded(
    kind: str, server: Server, fake: Fake, waits: list[float]
) -> None:
    fake.chat = [failure(grpc.StatusCode.UNAVAILABLE, "UPSTREAM_CIRCUIT_OPEN")]
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.1, max_backoff=0.1)
    with pytest.raises(UnavailableError) as info:
        await chat(kind, server, HELLO, retry=policy)
    assert info.value.reason == "UPSTREAM_CIRCUIT_OPEN"
    assert len(fake.calls("Chat")) == 3
    assert len(waits) == 2


@pytest.mark.parametrize("kind", KINDS)
async def test_no_retry_policy_makes_one_attempt(
    kind: str, server: Server, fake: Fake, waits: list[float]
) -> None:
    fake.chat = [failure(grpc.StatusCode.UNAVAILABLE), answer("too late")]
    with pytest.raises(UnavailableError):
        await chat(kind, server, HELLO, retry=NO_RETRY)
    assert len(fake.calls("Chat")) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_retry_info_delay_is_waited_instead_of_the_backoff(
    kind: str, server: Server, fake: Fake, waits: list[float]
) -> None:
    fake.chat = [
        failure(grpc.StatusCode.UNAVAILABLE, "GATEWAY_OVERLOADED", retry_delay_seconds=3.25),
        answer("after the pause"),
    ]
    policy = RetryPolicy(initial_backoff=0.01, max_backoff=0.01)
    reply = await chat(kind, server, HELLO, retry=policy)
    assert reply_text(reply) == "after the pause"
    assert waits == [3.25]


@pytest.mark.parametrize("kind", KINDS)
async def test_no_retry_when_the_wait_would_pass_the_deadline(
    kind: str, server: Server, fake: Fake, waits: list[float]
) -> None:
    fake.chat = [
        failure(grpc.StatusCode.UNAVAILABLE, retry_delay_seconds=30.0),
        answer("too late"),
    ]
    with pytest.raises(UnavailableError) as info:
        await chat(kind, server, HELLO, call={"timeout": 5.0}, retry=QUICK)
    assert info.value.retry_delay == 30.0
    assert len(fake.calls("Chat")) == 1
    assert waits == []


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_is_retried_until_its_first_message(
    kind: str, server: Server, fake: Fake, waits: list[float]
) -> None:
    fake.stream = [
        [failure(grpc.StatusCode.UNAVAILABLE)],
        [delta("one "), delta("two")],
    ]
    texts, error, attempt = await stream(kind, server, HELLO, retry=QUICK)
    assert (texts, error) == (["one ", "two"], None)
    assert attempt == "2"  # the call's metadata is the attempt that succeeded
    assert len(fake.calls("StreamChat")) == 2
    assert len(waits) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_is_not_retried_after_its_first_message(
    kind: str, server: Server, fake: Fake, waits: list[float]
) -> None:
    fake.stream = [
        [delta("partial"), failure(grpc.StatusCode.UNAVAILABLE, "UPSTREAM_CONNECTION_LOST")],
        [delta("a different reply")],
    ]
    texts, error, _ = await stream(kind, server, HELLO, retry=QUICK)
    assert texts == ["partial"]
    assert isinstance(error, UnavailableError)
    assert error.reason == "UPSTREAM_CONNECTION_LOST"
    assert len(fake.calls("StreamChat")) == 1
    assert waits == []


@pytest.mark.parametrize("kind", KINDS)
async def test_client_streaming_upload_is_not_retried_and_raises_typed_errors(
    kind: str, server: Server, fake: Fake, waits: list[float]
) -> None:
    fake.upload = [failure(grpc.StatusCode.UNAVAILABLE), file_pb2.File(name="files/never")]
    requests = [
        file_pb2.UploadFileRequest(metadata=file_pb2.UploadFileMetadata(mime_type="text/plain")),
        file_pb2.UploadFileRequest(chunk=b"hello"),
    ]
    # Sync: the stub call returns the File; async: an awaitable call that with_client awaits.
    with pytest.raises(UnavailableError):
        await with_client(
            kind, server.target, lambda c: c.file_service.UploadFile(iter(requests)), retry=QUICK
        )
    assert len(fake.calls("UploadFile")) == 1
    assert waits == []


async def test_async_upload_with_write_calls_goes_through(server: Server, fake: Fake) -> None:
    fake.upload = [file_pb2.File(name="files/abc", size_bytes=5)]
    async with AsyncVertexGateway(server.target) as client:
        # grpc.aio's write() style: no request iterator (the type stubs require one).
        call = client.file_service.UploadFile()  # type: ignore[call-arg]
        await call.write(
            file_pb2.UploadFileRequest(metadata=file_pb2.UploadFileMetadata(mime_type="text/plain"))
        )
        await call.write(file_pb2.UploadFileRequest(chunk=b"hello"))
        await call.done_writing()
        uploaded = await call
    assert uploaded.name == "files/abc"
    [seen] = fake.calls("UploadFile")
    assert [r.WhichOneof("payload") for r in seen.request] == ["metadata", "chunk"]


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("streaming", [False, True])
async def test_errors_carry_the_gateways_details(
    kind: str, streaming: bool, server: Server, fake: Fake
) -> None:
    bad = GatewayError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "messages[0].parts: is required; generation_config.top_k: must be positive",
        "INVALID_REQUEST",
        metadata={"model": "gemini-2.5-flash"},
        field_violations=[
            FieldViolation("messages[0].parts", "is required"),
            FieldViolation("generation_config.top_k", "must be positive"),
        ],
    )
    if streaming:
        fake.stream = [[bad]]
        _, error, _ = await stream(kind, server, HELLO)
    else:
        fake.chat = [bad]
        with pytest.raises(VertexGatewayError) as info:
            await chat(kind, server, HELLO)
        error = info.value
    assert isinstance(error, InvalidArgumentError)
    assert isinstance(error, grpc.RpcError)
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == error.message == bad.message
    assert (error.reason, error.domain) == ("INVALID_REQUEST", "vertex-gateway")
    assert error.metadata == {"model": "gemini-2.5-flash"}
    assert error.field_violations == (
        errors.FieldViolation("messages[0].parts", "is required"),
        errors.FieldViolation("generation_config.top_k", "must be positive"),
    )
    assert error.retry_delay is None
    assert "INVALID_ARGUMENT" in str(error) and "INVALID_REQUEST" in str(error)


@pytest.mark.parametrize("kind", KINDS)
async def test_quota_failure_and_retry_info_are_decoded(
    kind: str, server: Server, fake: Fake
) -> None:
    fake.chat = [
        failure(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "CALLER_RATE_LIMITED",
            retry_delay_seconds=1.5,
            quota_subject="caller:team-search",
        )
    ]
    with pytest.raises(ResourceExhaustedError) as info:
        await chat(kind, server, HELLO)
    assert info.value.retry_delay == 1.5
    assert info.value.quota_violations == (
        errors.QuotaViolation("caller:team-search", "scripted RESOURCE_EXHAUSTED"),
    )


@dataclass
class FailedCall:
    """A failed call as grpc presents one, without a server."""

    status_code: grpc.StatusCode
    message: str
    trailers: tuple[tuple[str, str | bytes], ...] = ()

    def code(self) -> grpc.StatusCode:
        return self.status_code

    def details(self) -> str:
        return self.message

    def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return self.trailers


@pytest.mark.parametrize("code", [c for c in grpc.StatusCode if c is not grpc.StatusCode.OK])
def test_every_code_has_its_exception_class(code: grpc.StatusCode) -> None:
    status = failure(code, "SOME_REASON").to_status_proto()
    call = FailedCall(
        code, status.message, (("grpc-status-details-bin", status.SerializeToString()),)
    )
    error = errors.from_rpc_error(call)
    words = "".join(w.capitalize() for w in code.name.split("_"))
    expected = "CallCancelledError" if code is grpc.StatusCode.CANCELLED else f"{words}Error"
    assert type(error).__name__ == expected
    assert getattr(vertex_gateway, expected) is type(error)  # exported at the top level
    assert (error.code(), error.reason) == (code, "SOME_REASON")


def test_errors_without_details_and_with_disagreeing_details() -> None:
    plain = errors.from_rpc_error(FailedCall(grpc.StatusCode.UNAVAILABLE, "connection refused"))
    assert isinstance(plain, UnavailableError)
    assert (plain.reason, plain.domain, plain.status) == (None, None, None)
    # A status proto whose code disagrees with the call's describes another failure.
    other = status_pb2.Status(code=grpc.StatusCode.NOT_FOUND.value[0], message="elsewhere")
    odd = FailedCall(
        grpc.StatusCode.INTERNAL,
        "proxy error",
        (("grpc-status-details-bin", other.SerializeToString()),),
    )
    error = errors.from_rpc_error(odd)
    assert isinstance(error, errors.InternalError) and error.status is None
    assert rpc_status.to_status(other).code is grpc.StatusCode.NOT_FOUND


# --- deadline, metadata, shortcuts, channel -------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_default_metadata_api_key_and_deadline_reach_the_server(
    kind: str, server: Server, fake: Fake
) -> None:
    fake.chat = [answer("ok")]
    client: dict[str, Any] = {
        "api_key": "secret-key",
        "metadata": [("X-Team", "search")],
        "timeout": 7.0,
    }
    await chat(kind, server, HELLO, **client)
    await chat(
        kind, server, HELLO, call={"metadata": [("x-team", "ads")], "timeout": 3.0}, **client
    )
    first, second = fake.calls("Chat")
    assert first.metadata["x-api-key"] == "secret-key"
    assert first.metadata["x-team"] == "search"
    # gRPC rounds a deadline up on the wire; the ranges do not overlap, so each tells which
    # timeout was applied.
    assert first.time_remaining is not None and 3.5 < first.time_remaining <= 7.5
    assert second.metadata["x-team"] == "ads"  # the call's own metadata wins
    assert second.metadata["x-api-key"] == "secret-key"
    assert second.time_remaining is not None and 0 < second.time_remaining <= 3.5
    assert first.metadata["user-agent"].startswith("vertex-gateway-python/")


@pytest.mark.parametrize("kind", KINDS)
async def test_a_client_without_default_timeout_sends_no_deadline(
    kind: str, server: Server, fake: Fake
) -> None:
    fake.chat = [answer("ok")]
    await chat(kind, server, HELLO, timeout=None)
    [seen] = fake.calls("Chat")
    assert seen.time_remaining is None


@pytest.mark.parametrize("kind", KINDS)
async def test_chat_shortcut_builds_the_request(kind: str, server: Server, fake: Fake) -> None:
    fake.chat = [answer("Hi there")]
    reply = await chat(kind, server, "gemini-2.5-flash", "Hello", call={"system": "Be brief."})
    assert reply_text(reply) == "Hi there"
    [seen] = fake.calls("Chat")
    assert seen.request == chat_pb2.ChatRequest(
        model="gemini-2.5-flash",
        messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text="Hello")])],
        system_instruction=[chat_pb2.Part(text="Be brief.")],
    )


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_chat_shortcut_iterates_the_deltas(
    kind: str, server: Server, fake: Fake
) -> None:
    fake.stream = [[delta("Hel"), delta("lo")]]
    if kind == "sync":
        texts = await with_client(
            kind, server.target, lambda c: [reply_text(d) for d in c.stream_chat("m", "Hi")]
        )
    else:

        async def collect(c: AsyncVertexGateway) -> list[str]:
            return [reply_text(d) async for d in c.stream_chat("m", "Hi")]

        texts = await with_client(kind, server.target, collect)
    assert texts == ["Hel", "lo"]
    [seen] = fake.calls("StreamChat")
    assert seen.request.model == "m"


def test_chat_request_refuses_ambiguous_arguments() -> None:
    with pytest.raises(TypeError):
        chat_request(HELLO, "and a prompt")
    with pytest.raises(TypeError):
        chat_request("gemini-2.5-flash", None)
    assert chat_request(HELLO, None) is HELLO


@pytest.mark.parametrize("kind", KINDS)
async def test_media_sized_replies_fit_the_channel(kind: str, server: Server, fake: Fake) -> None:
    big = "x" * (6 * MIB)  # past gRPC's 4 MiB default receive limit
    fake.chat = [answer(big)]
    reply = await chat(kind, server, HELLO)
    assert len(reply_text(reply)) == len(big)
    with pytest.raises(ResourceExhaustedError):
        await chat(kind, server, HELLO, max_message_bytes=4 * MIB)


def test_keepalive_and_limits_match_the_gateways_transport_settings() -> None:
    gateway = ServerConfig()
    options = dict(channel_options(64 * MIB, 30.0, []))
    # The gateway answers pings more frequent than its minimum interval with GOAWAY.
    assert options["grpc.keepalive_time_ms"] >= gateway.min_ping_interval_seconds * 1000
    # Pings on idle connections are only sent if the gateway permits them.
    server_side = dict(server_options(load_config(env={})))
    assert (
        options["grpc.keepalive_permit_without_calls"]
        <= server_side["grpc.keepalive_permit_without_calls"]
    )
    assert options["grpc.max_receive_message_length"] == gateway.max_message_bytes
    assert options["grpc.max_send_message_length"] == gateway.max_message_bytes
    # Extra options replace defaults instead of adding a second, conflicting entry.
    extra = channel_options(64 * MIB, None, [("grpc.max_receive_message_length", 5)])
    assert [v for k, v in extra if k == "grpc.max_receive_message_length"] == [5]
    assert "grpc.keepalive_time_ms" not in dict(extra)


def test_retry_policy_rejects_nonsense() -> None:
    for bad in (
        {"max_attempts": 0},
        {"initial_backoff": 0},
        {"initial_backoff": 2, "max_backoff": 1},
        {"multiplier": 0.5},
    ):
        with pytest.raises(ValueError):
            RetryPolicy(**bad)
