"""Who may call the gateway: caller API keys (stored as SHA-256 hashes, compared in constant
time), each mapped to a caller identity with an optional model allow-list and request rate.

The key travels as `x-api-key` metadata or `authorization: Bearer <key>`. Health and reflection
stay open for probes and tooling unless configured otherwise. The caller of the current RPC is
kept in a context variable, so routing can apply its allow-list and logs can name it.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio

from server.errors import GatewayError
from server.observability import metrics, request_ids

OPEN_SERVICES = ("grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
                 "grpc.reflection.v1.ServerReflection")  # fmt: skip


@dataclass(frozen=True)
class CallerKey:
    """One caller: its identity, the SHA-256 (hex) of its key, and its limits."""

    caller: str
    sha256: str
    models: tuple[str, ...] = ()
    requests_per_second: float | None = None
    tokens_per_minute: int | None = None


@dataclass
class _Bucket:
    rate: float
    tokens: float
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> float:
        """0 if a request may go now, else the seconds until one may."""
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


CURRENT: contextvars.ContextVar[CallerKey | None] = contextvars.ContextVar("caller", default=None)


def current_caller() -> CallerKey | None:
    """The authenticated caller of the RPC being served (None without caller keys)."""
    return CURRENT.get()


def hash_key(key: str) -> str:
    """The hex SHA-256 configurations store instead of the key."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class _TokenBudget:
    """Tokens a caller may spend per minute: refilled continuously, charged after each reply
    (a reply's size is only known then), so one large reply can take the level below zero and
    hold the caller back until it has refilled."""

    per_minute: float
    level: float
    stamp: float = field(default_factory=time.monotonic)

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.per_minute, self.level + (now - self.stamp) * self.per_minute / 60)
        self.stamp = now

    def wait(self) -> float:
        """0 while tokens are left, else the seconds until some are."""
        self._refill()
        return 0.0 if self.level > 0 else (1 - self.level) * 60 / self.per_minute

    def charge(self, tokens: int) -> None:
        """Spend what a reply used."""
        self._refill()
        self.level -= tokens


class Callers:
    """The configured caller keys."""

    def __init__(self, keys: Sequence[CallerKey]) -> None:
        self._keys = list(keys)
        self._buckets = {
            k.caller: _Bucket(k.requests_per_second, k.requests_per_second)
            for k in keys
            if k.requests_per_second
        }
        self._tokens = {
            k.caller: _TokenBudget(float(k.tokens_per_minute), float(k.tokens_per_minute))
            for k in keys
            if k.tokens_per_minute
        }

    def identify(self, presented: str) -> CallerKey | None:
        """The caller whose key this is; every stored hash is compared, in constant time."""
        digest = hash_key(presented).encode()
        found = None
        for key in self._keys:
            if hmac.compare_digest(digest, key.sha256.lower().encode()):
                found = key
        return found

    def admit(self, caller: CallerKey) -> tuple[float, str]:
        """(0, "") when the caller's limits allow the request, else (seconds to wait, reason)."""
        budget = self._tokens.get(caller.caller)
        if budget is not None:
            wait = budget.wait()
            if wait > 0:
                return wait, "CALLER_TOKEN_LIMITED"
        bucket = self._buckets.get(caller.caller)
        wait = bucket.take() if bucket else 0.0
        return wait, "CALLER_RATE_LIMITED" if wait else ""

    def charge(self, caller: CallerKey, reply: Any) -> None:
        """Count the tokens a reply reports against the caller's per-minute budget."""
        budget = self._tokens.get(caller.caller)
        usage = getattr(reply, "usage", None)
        if budget is None or usage is None:
            return
        used = usage.total_tokens or (usage.input_tokens + usage.output_tokens)
        if used:
            budget.charge(used)


def _presented(metadata: Mapping[str, str]) -> str | None:
    if metadata.get("x-api-key"):
        return metadata["x-api-key"]
    auth = metadata.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return None


def _refusal(
    code: grpc.StatusCode, message: str, reason: str, retry: float | None = None
) -> GatewayError:
    return GatewayError(code, message, reason, retry_delay_seconds=retry)


def check(callers: Callers, metadata: Mapping[str, str]) -> CallerKey:
    """The caller of a request, or the error to answer with."""
    presented = _presented(metadata)
    if not presented:
        raise _refusal(
            grpc.StatusCode.UNAUTHENTICATED,
            "this gateway needs a caller API key (metadata x-api-key, or authorization: Bearer)",
            "CALLER_KEY_MISSING",
        )
    caller = callers.identify(presented)
    if caller is None:
        raise _refusal(
            grpc.StatusCode.UNAUTHENTICATED, "the caller API key is not valid", "CALLER_KEY_INVALID"
        )
    wait, reason = callers.admit(caller)
    if wait > 0:
        what = "tokens per minute" if reason == "CALLER_TOKEN_LIMITED" else "request rate"
        raise _refusal(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"caller {caller.caller!r} is over its {what}; retry after {wait:.2f} s",
            reason,
            retry=wait,
        )
    return caller


def _guard(
    behavior: Callable[..., Any], callers: Callers, streaming_response: bool, method: str = ""
) -> Callable[..., Any]:
    # `Service/Method`, as the RPC metrics name it.
    label = method.rsplit(".", 1)[-1]

    async def refuse(context: grpc.aio.ServicerContext[Any, Any], err: GatewayError) -> None:
        # A refused call never reaches the servicer's boundary: count it and give it its
        # request id here, as every RPC gets.
        rid = request_ids.begin(context.invocation_metadata())
        metrics.rpc_done(label, err.code.name, 0.0)
        status = err.to_grpc_status()
        status = status._replace(  # type: ignore[attr-defined]
            trailing_metadata=(*status.trailing_metadata, (request_ids.HEADER, rid))
        )
        await context.abort_with_status(status)  # type: ignore[attr-defined]

    if streaming_response:

        async def stream_wrapper(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            try:
                caller = check(callers, dict(context.invocation_metadata() or ()))
            except GatewayError as err:
                await refuse(context, err)
                return
            token = CURRENT.set(caller)
            try:
                async for item in behavior(request, context):
                    callers.charge(caller, item)  # streams report usage on their last message
                    yield item
            finally:
                CURRENT.reset(token)

        return stream_wrapper

    async def unary_wrapper(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        try:
            caller = check(callers, dict(context.invocation_metadata() or ()))
        except GatewayError as err:
            await refuse(context, err)
            return None
        token = CURRENT.set(caller)
        try:
            reply = await behavior(request, context)
            callers.charge(caller, reply)
            return reply
        finally:
            CURRENT.reset(token)

    return unary_wrapper


class CallerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Authenticates every RPC but those of the open services."""

    def __init__(self, callers: Callers, open_services: Sequence[str] = OPEN_SERVICES) -> None:
        self._callers = callers
        self._open = tuple(f"/{s}/" for s in open_services)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        method = str(getattr(handler_call_details, "method", ""))
        if handler is None or method.startswith(self._open):
            return handler
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _guard(handler.unary_unary, self._callers, False, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _guard(handler.unary_stream, self._callers, True, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _guard(handler.stream_unary, self._callers, False, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        behavior: Any = handler.stream_stream
        return grpc.stream_stream_rpc_method_handler(
            _guard(behavior, self._callers, True, method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
