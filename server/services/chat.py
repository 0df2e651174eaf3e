"""ChatService: validate, route to the model family's backend, return."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

import grpc
import grpc.aio
from vertex_gateway.v1 import chat_pb2, chat_pb2_grpc

from server.errors import FieldViolation, GatewayError, unimplemented
from server.routing.registry import Capability, Family
from server.routing.router import Route, Router
from server.translate.chat_capabilities import required_capabilities
from server.translate.chat_validation import plain_text, validate_chat_request
from server.translate.tool_calls import ToolCallChecker, check_reply

from .boundary import StreamGate, server_stream, unary

Ctx = grpc.aio.ServicerContext[Any, Any]


class ChatBackend(Protocol):
    """What a model family offers for chat."""

    async def chat(
        self, route: Route, request: chat_pb2.ChatRequest, remaining: float | None
    ) -> chat_pb2.ChatResponse:
        """One complete reply."""
        ...

    def stream_chat(
        self, route: Route, request: chat_pb2.ChatRequest, remaining: float | None
    ) -> AsyncIterator[chat_pb2.StreamChatResponse]:
        """Streamed reply."""
        ...

    async def count_tokens(
        self, route: Route, request: chat_pb2.CountTokensRequest, remaining: float | None
    ) -> chat_pb2.CountTokensResponse:
        """Input token count."""
        ...


class ChatService(chat_pb2_grpc.ChatServiceServicer):
    """Chat, StreamChat, CountTokens."""

    # The gateway's bound on streams in flight (set by the app; see boundary.StreamGate).
    stream_gate: StreamGate | None = None

    def __init__(self, router: Router, backends: Mapping[Family, ChatBackend]) -> None:
        self._router = router
        self._backends = dict(backends)

    def _backend(self, route: Route) -> ChatBackend:
        backend = self._backends.get(route.spec.family)
        if backend is None:
            raise unimplemented(
                f"chat with {route.spec.family.value} models",
                "this gateway has no chat backend for that model family",
            )
        return backend

    def _prepare(self, request: chat_pb2.ChatRequest, capability: Capability) -> Route:
        route = self._router.resolve(request.model, Capability.CHAT)
        if capability is not Capability.CHAT:
            _require(route, request.model, [(capability, "model")])
        if not plain_text(request):  # text turns alone are valid and need nothing more
            validate_chat_request(request)  # first: the capability needs read enums and media
            _require(route, request.model, required_capabilities(request))
        return route

    @unary
    async def Chat(self, request: chat_pb2.ChatRequest, context: Ctx) -> chat_pb2.ChatResponse:
        """One complete reply."""
        route = self._prepare(request, Capability.CHAT)
        reply = await self._backend(route).chat(route, request, context.time_remaining())
        check_reply(request, reply.candidates)
        return reply

    @server_stream
    async def StreamChat(
        self, request: chat_pb2.ChatRequest, context: Ctx
    ) -> AsyncIterator[chat_pb2.StreamChatResponse]:
        """The reply as it is generated."""
        route = self._prepare(request, Capability.STREAMING)
        checker = ToolCallChecker(request)
        async for chunk in self._backend(route).stream_chat(
            route, request, context.time_remaining()
        ):
            for candidate in chunk.candidates:
                checker.check(candidate)
            yield chunk

    @unary
    async def CountTokens(
        self, request: chat_pb2.CountTokensRequest, context: Ctx
    ) -> chat_pb2.CountTokensResponse:
        """Input token count of a request."""
        route = self._router.resolve(request.model, Capability.COUNT_TOKENS)
        probe = chat_pb2.ChatRequest(
            model=request.model,
            messages=request.messages,
            system_instruction=request.system_instruction,
            tools=request.tools,
        )
        validate_chat_request(probe)
        _require(route, request.model, required_capabilities(probe))
        # Validation completed tool-result ids and names on the probe; count what is sent.
        del request.messages[:]
        request.messages.extend(probe.messages)
        return await self._backend(route).count_tokens(route, request, context.time_remaining())


def _require(route: Route, model: str, needs: Sequence[tuple[Capability, str]]) -> None:
    """INVALID_ARGUMENT naming the model, the capability and the field that needs it."""
    for capability, field in needs:
        if capability not in route.spec.capabilities:
            description = (
                f"model {model!r} ({route.spec.family.value}) does not support {capability.value}"
            )
            raise GatewayError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{field}: {description}",
                "CAPABILITY_NOT_SUPPORTED",
                metadata={"model": model, "capability": capability.value},
                field_violations=[FieldViolation(field, description)],
            )
