"""Clients for the gateway: `VertexGateway` (synchronous) and `AsyncVertexGateway` (asyncio).

Each owns one channel and exposes the generated stub of every service (`chat_service`,
`embedding_service`, `image_service`, `speech_service`, `batch_service`, `file_service`,
`model_service`, `video_service`, `tuning_service`). Every call through them gets the client's default deadline and metadata (the
API key), retries of UNAVAILABLE, and failures raised as `vertex_gateway.errors` exceptions.
`chat()` and `stream_chat()` are shortcuts that take a model and a prompt.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from types import TracebackType
from typing import Any, overload

import grpc
import grpc.aio
from vertex_gateway import _aio, _sync
from vertex_gateway._channel import (
    DEFAULT_KEEPALIVE_SECONDS,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_TIMEOUT_SECONDS,
    CallDefaults,
    Metadata,
    channel_credentials,
    channel_options,
    default_metadata,
)
from vertex_gateway._retry import RetryPolicy
from vertex_gateway.v1 import (
    batch_pb2_grpc,
    chat_pb2,
    chat_pb2_grpc,
    embedding_pb2_grpc,
    file_pb2_grpc,
    image_pb2_grpc,
    model_pb2_grpc,
    speech_pb2_grpc,
    tuning_pb2_grpc,
    video_pb2_grpc,
)

ChatResponses = chat_pb2.ChatResponse | chat_pb2.StreamChatResponse


def chat_request(
    model_or_request: str | chat_pb2.ChatRequest, prompt: str | None, system: str | None = None
) -> chat_pb2.ChatRequest:
    """A ChatRequest as given, or one user turn of `prompt` to `model` (with an optional system
    instruction)."""
    if isinstance(model_or_request, chat_pb2.ChatRequest):
        if prompt is not None or system is not None:
            raise TypeError("pass either a ChatRequest or a model and a prompt, not both")
        return model_or_request
    if prompt is None:
        raise TypeError("a prompt is needed with a model name")
    return chat_pb2.ChatRequest(
        model=model_or_request,
        messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text=prompt)])],
        system_instruction=[chat_pb2.Part(text=system)] if system else [],
    )


def reply_text(response: ChatResponses, candidate: int = 0) -> str:
    """The text of one candidate of a reply (or of one streamed delta), thoughts left out."""
    if candidate >= len(response.candidates):
        return ""
    parts = response.candidates[candidate].message.parts
    return "".join(p.text for p in parts if p.WhichOneof("kind") == "text")


def _tuple(metadata: Metadata | None) -> tuple[tuple[str, str | bytes], ...] | None:
    return None if metadata is None else tuple(metadata)


class _Gateway:
    """The construction both clients share: their arguments become call defaults, channel
    options and credentials, and each client opens its own kind of channel with them."""

    def __init__(
        self,
        target: str,
        *,
        api_key: str | None = None,
        metadata: Metadata = (),
        timeout: float | None = DEFAULT_TIMEOUT_SECONDS,
        retry: RetryPolicy | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        keepalive_seconds: float | None = DEFAULT_KEEPALIVE_SECONDS,
        options: Sequence[tuple[str, Any]] = (),
        tls: bool = False,
        credentials: grpc.ChannelCredentials | None = None,
        root_certificates: bytes | None = None,
        private_key: bytes | None = None,
        certificate_chain: bytes | None = None,
    ) -> None:
        self._open(
            target,
            CallDefaults(timeout, default_metadata(api_key, metadata), retry or RetryPolicy()),
            channel_options(max_message_bytes, keepalive_seconds, options),
            channel_credentials(
                tls=tls,
                credentials=credentials,
                root_certificates=root_certificates,
                private_key=private_key,
                certificate_chain=certificate_chain,
            ),
        )

    def _open(
        self,
        target: str,
        defaults: CallDefaults,
        options: list[tuple[str, Any]],
        credentials: grpc.ChannelCredentials | None,
    ) -> None:
        """Open the channel and its service stubs."""
        raise NotImplementedError


class VertexGateway(_Gateway):
    """A synchronous client of the gateway at `target` ("host:port").

    `api_key` is sent as `x-api-key` metadata on every call, with `metadata`. `timeout` is the
    default deadline in seconds of each call, retries included (None: no deadline); a call's own
    `timeout=` wins. TLS is used when `tls` is true or any certificate is given (`private_key`
    and `certificate_chain` for mutual TLS), or with ready-made `credentials`. `options` are
    extra gRPC channel arguments and win over the defaults.
    """

    def _open(
        self,
        target: str,
        defaults: CallDefaults,
        options: list[tuple[str, Any]],
        credentials: grpc.ChannelCredentials | None,
    ) -> None:
        if credentials is None:
            raw = grpc.insecure_channel(target, options=options)
        else:
            raw = grpc.secure_channel(target, credentials, options=options)
        self.channel = grpc.intercept_channel(raw, _sync.Interceptor(defaults))
        self.chat_service = chat_pb2_grpc.ChatServiceStub(self.channel)
        self.embedding_service = embedding_pb2_grpc.EmbeddingServiceStub(self.channel)
        self.image_service = image_pb2_grpc.ImageServiceStub(self.channel)
        self.speech_service = speech_pb2_grpc.SpeechServiceStub(self.channel)
        self.batch_service = batch_pb2_grpc.BatchServiceStub(self.channel)
        self.file_service = file_pb2_grpc.FileServiceStub(self.channel)
        self.model_service = model_pb2_grpc.ModelServiceStub(self.channel)
        self.video_service = video_pb2_grpc.VideoServiceStub(self.channel)
        self.tuning_service = tuning_pb2_grpc.TuningServiceStub(self.channel)

    @overload
    def chat(
        self,
        request: chat_pb2.ChatRequest,
        /,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> chat_pb2.ChatResponse: ...

    @overload
    def chat(
        self,
        model: str,
        prompt: str,
        /,
        *,
        system: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> chat_pb2.ChatResponse: ...

    def chat(
        self,
        model_or_request: str | chat_pb2.ChatRequest,
        prompt: str | None = None,
        /,
        *,
        system: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> chat_pb2.ChatResponse:
        """One complete reply: `chat(model, prompt)` or `chat(ChatRequest(...))`."""
        request = chat_request(model_or_request, prompt, system)
        return self.chat_service.Chat(request, timeout=timeout, metadata=_tuple(metadata))

    @overload
    def stream_chat(
        self,
        request: chat_pb2.ChatRequest,
        /,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> Iterator[chat_pb2.StreamChatResponse]: ...

    @overload
    def stream_chat(
        self,
        model: str,
        prompt: str,
        /,
        *,
        system: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> Iterator[chat_pb2.StreamChatResponse]: ...

    def stream_chat(
        self,
        model_or_request: str | chat_pb2.ChatRequest,
        prompt: str | None = None,
        /,
        *,
        system: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> Iterator[chat_pb2.StreamChatResponse]:
        """The reply as it is produced: an iterator of deltas, the last with the usage."""
        request = chat_request(model_or_request, prompt, system)
        return iter(
            self.chat_service.StreamChat(request, timeout=timeout, metadata=_tuple(metadata))
        )

    def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        self.channel.close()

    def __enter__(self) -> VertexGateway:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncVertexGateway(_Gateway):
    """An asyncio client of the gateway at `target`; the same arguments as `VertexGateway`.

    Create it inside the event loop that uses it (grpc.aio channels belong to one loop).
    """

    def _open(
        self,
        target: str,
        defaults: CallDefaults,
        options: list[tuple[str, Any]],
        credentials: grpc.ChannelCredentials | None,
    ) -> None:
        interceptors: list[Any] = [
            _aio.UnaryUnaryInterceptor(defaults),
            _aio.UnaryStreamInterceptor(defaults),
            _aio.StreamUnaryInterceptor(defaults),
        ]
        if credentials is None:
            self.channel = grpc.aio.insecure_channel(
                target, options=options, interceptors=interceptors
            )
        else:
            self.channel = grpc.aio.secure_channel(
                target, credentials, options=options, interceptors=interceptors
            )
        self.chat_service = chat_pb2_grpc.ChatServiceStub(self.channel)
        self.embedding_service = embedding_pb2_grpc.EmbeddingServiceStub(self.channel)
        self.image_service = image_pb2_grpc.ImageServiceStub(self.channel)
        self.speech_service = speech_pb2_grpc.SpeechServiceStub(self.channel)
        self.batch_service = batch_pb2_grpc.BatchServiceStub(self.channel)
        self.file_service = file_pb2_grpc.FileServiceStub(self.channel)
        self.model_service = model_pb2_grpc.ModelServiceStub(self.channel)
        self.video_service = video_pb2_grpc.VideoServiceStub(self.channel)
        self.tuning_service = tuning_pb2_grpc.TuningServiceStub(self.channel)

    @overload
    async def chat(
        self,
        request: chat_pb2.ChatRequest,
        /,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> chat_pb2.ChatResponse: ...

    @overload
    async def chat(
        self,
        model: str,
        prompt: str,
        /,
        *,
        system: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> chat_pb2.ChatResponse: ...

    async def chat(
        self,
        model_or_request: str | chat_pb2.ChatRequest,
        prompt: str | None = None,
        /,
        *,
        system: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> chat_pb2.ChatResponse:
        """One complete reply: `await chat(model, prompt)` or `await chat(ChatRequest(...))`."""
        request = chat_request(model_or_request, prompt, system)
        return await self.chat_service.Chat(request, timeout=timeout, metadata=_tuple(metadata))

    @overload
    def stream_chat(
        self,
        request: chat_pb2.ChatRequest,
        /,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> AsyncIterator[chat_pb2.StreamChatResponse]: ...

    @overload
    def stream_chat(
        self,
        model: str,
        prompt: str,
        /,
        *,
        system: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> AsyncIterator[chat_pb2.StreamChatResponse]: ...

    def stream_chat(
        self,
        model_or_request: str | chat_pb2.ChatRequest,
        prompt: str | None = None,
        /,
        *,
        system: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> AsyncIterator[chat_pb2.StreamChatResponse]:
        """The reply as it is produced: `async for delta in client.stream_chat(model, prompt)`."""
        request = chat_request(model_or_request, prompt, system)
        call = self.chat_service.StreamChat(request, timeout=timeout, metadata=_tuple(metadata))
        return call.__aiter__()

    async def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        await self.channel.close(None)

    async def __aenter__(self) -> AsyncVertexGateway:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
