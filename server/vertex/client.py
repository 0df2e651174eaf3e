"""The Vertex HTTP client: JSON calls and SSE streams with auth, deadlines and error mapping."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar

import orjson

from server.observability import labels, metrics, tracing

from .accounts import Failover, Placement
from .auth import AuthProvider
from .breaker import CircuitBreaker
from .errors import VertexError, from_error_object, from_http_error, malformed
from .http import Transport, timeout_error
from .retry import RetryBudget, RetryPolicy, fails_over, local_refusal, retryable
from .sse import SseDecoder, SseTooLarge


def encode_body(body: Mapping[str, Any], max_bytes: int) -> bytes:
    """JSON-encode a request body, refusing one larger than Vertex (or we) would accept."""
    try:
        data = orjson.dumps(body)
    except (TypeError, orjson.JSONEncodeError) as exc:  # e.g. an integer beyond 64 bits
        raise VertexError(
            "INVALID_ARGUMENT", f"the request cannot be encoded as JSON: {exc}", "INVALID_REQUEST"
        ) from None
    if len(data) > max_bytes:
        raise VertexError(
            "INVALID_ARGUMENT",
            f"the request is {len(data)} bytes once encoded for Vertex AI; the limit is {max_bytes}"
            " bytes (use gs:// URIs for large media)",
            "REQUEST_TOO_LARGE",
        )
    return data


_T = TypeVar("_T")


class Deadline:
    """An absolute deadline, from the caller's remaining time or the configured default."""

    def __init__(self, remaining: float | None, default: float) -> None:
        budget = default if remaining is None else min(remaining, default)
        self._at = time.monotonic() + budget

    def remaining(self) -> float:
        """Seconds left; raises DEADLINE_EXCEEDED when none are."""
        left = self._at - time.monotonic()
        if left <= 0:
            raise timeout_error()
        return left

    def left(self) -> float:
        """Seconds left, 0 when none are (never raises)."""
        return max(0.0, self._at - time.monotonic())


class VertexClient:
    """Calls Vertex over a pooled transport with per-request headers."""

    def __init__(
        self,
        transport: Transport,
        auth: AuthProvider,
        *,
        user_agent: str,
        max_request_bytes: int,
        max_event_bytes: int,
        default_timeout: float,
        retry: RetryPolicy | None = None,
        max_per_model: int = 0,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.transport = transport
        self.auth = auth
        self._user_agent = user_agent
        self._max_request_bytes = max_request_bytes
        self._max_event_bytes = max_event_bytes
        self.default_timeout = default_timeout
        self.retry = retry or RetryPolicy(max_attempts=1)
        self._budget = RetryBudget(self.retry.budget_ratio, self.retry.budget_floor)
        self._rng = random.Random()
        self._max_per_model = max_per_model
        self._breaker = breaker or CircuitBreaker(0, 0)
        self._busy: dict[str, int] = {}
        self._merged: dict[AuthProvider, tuple[dict[str, str], dict[str, str]]] = {}

    def deadline(self, remaining: float | None) -> Deadline:
        """A deadline bounded by the caller's remaining time and the configured timeout."""
        return Deadline(remaining, self.default_timeout)

    async def _headers(self, auth: AuthProvider) -> dict[str, str]:
        """The POST headers: the same dict while the provider's headers are the same object (a
        cached token), so the transport reuses the request head it rendered from them. Nobody
        changes the dict once made."""
        got = await auth.headers()
        cached = self._merged.get(auth)
        if cached is not None and cached[0] is got:
            return cached[1]
        headers = {"content-type": "application/json", "user-agent": self._user_agent, **got}
        self._merged[auth] = (got, headers)
        return headers

    async def _get_headers(self, auth: AuthProvider) -> dict[str, str]:
        headers = {"user-agent": self._user_agent}
        headers.update(await auth.headers())
        return headers

    async def call_json(
        self,
        url: str | Failover,
        body: Mapping[str, Any],
        deadline: Deadline,
        *,
        resource: bool = False,
        retry: bool = True,
    ) -> Any:
        """POST a JSON body and return the decoded JSON reply.

        With `resource`, the reply is a resource that may itself have an `error` member (a
        failed batch job), which is data, not an error of the call. `retry=False` for calls
        that must not run twice (creating a resource). A `Failover` is tried at each of its
        placements in turn (see `_failover_json`)."""
        data = encode_body(body, self._max_request_bytes)
        if not isinstance(url, str):
            return await self._failover_json(url, data, deadline, resource, retry)
        with self._slot(url) if self._max_per_model else _NO_SLOT:
            if not retry:
                return await self._json("POST", url, data, deadline, resource)
            # with_retries written out: this is every unary call's path.
            key = self._model_key(url)
            self._budget.on_request()
            attempt = 1
            while True:
                try:
                    return await self._guarded_json(key, url, data, deadline, resource, None)
                except VertexError as err:
                    err.attempts = attempt
                    if not await self.pause_before_retry(err, attempt, deadline):
                        raise
                    attempt += 1

    async def _failover_json(
        self, failover: Failover, data: bytes, deadline: Deadline, resource: bool, retry: bool
    ) -> Any:
        """The call at each placement in turn until one answers. A throttled, failing, busy or
        circuit-broken placement hands over to the next at once (another account's quota,
        another location); only when every placement failed does the policy's backoff apply
        before the next round, within the deadline and the retry budget."""
        self._budget.on_request()
        placements = failover.placements if retry else failover.placements[:1]
        attempt, round_ = 0, 1
        while True:
            last: VertexError | None = None
            for placement in placements:
                attempt += 1
                try:
                    with self._slot(placement.url) if self._max_per_model else _NO_SLOT:
                        result = await self._guarded_json(
                            self._model_key(placement.url), placement.url, data, deadline,
                            resource, placement.auth,
                        )  # fmt: skip
                except VertexError as err:
                    err.attempts = attempt
                    if not retry or not fails_over(err) or deadline.left() <= 0:
                        raise
                    # What the caller gets if every placement fails: Vertex's own answer (a 429
                    # with its RetryInfo, say) over the gateway's refusal for one placement.
                    if last is None or not local_refusal(err):
                        last = err
                    if placement is not placements[-1]:
                        metrics.upstream_again(labels.FAMILY.get(), "failover")
                    continue
                failover.served = placement
                return result
            assert last is not None
            if not await self.pause_before_retry(last, round_, deadline):
                raise last
            round_ += 1

    async def get_json(self, url: str, deadline: Deadline, *, resource: bool = False) -> Any:
        """GET a resource or a list page and return the decoded JSON reply."""
        return await self.with_retries(
            lambda: self._json("GET", url, b"", deadline, resource), deadline
        )

    async def pause_before_retry(self, err: VertexError, attempt: int, deadline: Deadline) -> bool:
        """Whether to try again after `attempt` failed with `err` (waiting first if so)."""
        if attempt >= self.retry.max_attempts or not retryable(err):
            return False
        delay = self.retry.backoff(attempt, err.retry_delay_seconds, self._rng)
        if delay >= deadline.left() or not self._budget.try_spend():
            return False
        metrics.upstream_again(labels.FAMILY.get(), "retry")
        await asyncio.sleep(delay)
        return True

    @staticmethod
    def _model_key(url: str) -> str:
        return url.split("?", 1)[0].rsplit(":", 1)[0]

    async def _guarded_json(
        self,
        key: str,
        url: str,
        data: bytes,
        deadline: Deadline,
        resource: bool,
        auth: AuthProvider | None,
    ) -> Any:
        """One POST attempt through the model's circuit breaker."""
        self._breaker.before(key)
        try:
            result = await self._json("POST", url, data, deadline, resource, auth)
        except VertexError as err:
            if retryable(err):
                self._breaker.failure(key)
            elif err.http_status is not None:
                self._breaker.success(key)  # Vertex answered: it is up
            else:
                self._breaker.release(key)  # no answer (deadline, credentials): no verdict
            raise
        except BaseException:
            self._breaker.release(key)  # cancelled: no verdict, but never a stuck probe
            raise
        self._breaker.success(key)
        return result

    @contextlib.contextmanager
    def _slot(self, url: str) -> Iterator[None]:
        """Hold one of the model's concurrent-call slots (vertex.max_concurrent_per_model);
        refuse at once, not queue, when none is free."""
        if not self._max_per_model:
            yield
            return
        key = self._model_key(url)
        if self._busy.get(key, 0) >= self._max_per_model:
            model = key.rsplit("/", 1)[-1]
            raise VertexError(
                "RESOURCE_EXHAUSTED",
                f"the gateway already has {self._max_per_model} calls in flight to {model};"
                " retry shortly",
                "GATEWAY_MODEL_BUSY",
                retry_delay_seconds=1.0,
            )
        self._busy[key] = self._busy.get(key, 0) + 1
        try:
            yield
        finally:
            left = self._busy[key] - 1
            if left:
                self._busy[key] = left
            else:
                del self._busy[key]  # idle models (or made-up endpoint ids) hold no entry

    async def with_retries(self, call: Callable[[], Awaitable[_T]], deadline: Deadline) -> _T:
        """`call()` again after transient failures, as the policy and budget allow."""
        self._budget.on_request()
        attempt = 1
        while True:
            try:
                return await call()
            except VertexError as err:
                err.attempts = attempt
                if not await self.pause_before_retry(err, attempt, deadline):
                    raise
                attempt += 1

    async def _json(
        self,
        method: str,
        url: str,
        data: bytes,
        deadline: Deadline,
        resource: bool = False,
        auth: AuthProvider | None = None,
    ) -> Any:
        auth = auth or self.auth
        for attempt in (0, 1):
            headers = await self._headers(auth) if data else await self._get_headers(auth)
            # One HTTP exchange, in the upstream metrics (and a client span when tracing);
            # written out here, not in a helper coroutine: this is every unary call's path.
            start = time.perf_counter()
            status: int | None = None
            with tracing.upstream_span(method, url) as span:
                try:
                    resp = await self.transport.request(
                        method, url, headers, data, deadline.remaining()
                    )
                    status = resp.status
                finally:
                    metrics.upstream_done(
                        labels.FAMILY.get(), "error" if status is None else str(status),
                        time.perf_counter() - start,
                    )  # fmt: skip
                    if span is not None:
                        tracing.upstream_status(span, status)
            if resp.status == 401 and attempt == 0 and await auth.unauthorized(headers):
                continue
            if resp.status >= 300:
                raise from_http_error(resp.status, resp.body)
            try:
                payload = orjson.loads(resp.body)
            except (ValueError, UnicodeDecodeError):
                raise malformed("the reply is not valid JSON") from None
            # A reply object without an `error` member (nearly all of them) is no error object.
            if not resource and (type(payload) is not dict or "error" in payload):
                err = from_error_object(payload, None)
                if err is not None:
                    raise err
            return payload
        raise AssertionError("unreachable")

    async def stream_json(
        self, url: str | Failover, body: Mapping[str, Any], deadline: Deadline
    ) -> AsyncIterator[Any]:
        """POST a JSON body to an SSE endpoint and yield each event's decoded JSON.

        An error object inside the stream (with or without a `data:` prefix) raises VertexError
        after the events before it were yielded. Leaving the iterator early closes the request.
        A `Failover` moves to its next placement on a transient failure before the first event.
        """
        data = encode_body(body, self._max_request_bytes)
        failover = Failover((Placement(url, self.auth, "", ""),)) if isinstance(url, str) else url
        events = self._stream_events(failover, data, deadline)
        try:
            async for event in events:
                yield event
        finally:
            await events.aclose()  # at once: the upstream connection closes with it

    async def _stream_events(
        self, failover: Failover, data: bytes, deadline: Deadline
    ) -> AsyncGenerator[Any, None]:
        self._budget.on_request()
        placements = failover.placements
        tries, round_, index, started = 1, 1, 0, False
        refreshed: set[int] = set()  # placements whose credentials were refreshed after a 401
        # Whether this call passed the breaker and owes it a verdict (or a release): only then
        # may it release a probe, never another call's.
        owed = False
        worst: VertexError | None = None  # the round's most telling failure, as in _failover_json
        while True:
            placement = placements[index]
            key = self._model_key(placement.url)
            headers = await self._headers(placement.auth)
            again = False
            try:
                with self._slot(placement.url) if self._max_per_model else _NO_SLOT:
                    self._breaker.before(key)
                    owed = True
                    async with self._timed_stream(
                        placement.url, headers, data, deadline.remaining()
                    ) as resp:
                        if (
                            resp.status == 401
                            and index not in refreshed
                            and await placement.auth.unauthorized(headers)
                        ):
                            self._breaker.success(key)  # Vertex answered: it is up
                            owed = False
                            refreshed.add(index)
                            again = True
                        elif resp.status >= 300:
                            raise from_http_error(resp.status, await resp.read())
                        else:
                            self._breaker.success(key)
                            owed = False
                            failover.served = placement
                            decoder = SseDecoder(self._max_event_bytes)
                            try:
                                async for chunk in resp.chunks():
                                    for event in decoder.events(chunk):
                                        if event.data != _DONE:
                                            started = True
                                            yield _decode_event(event.data)
                                for event in decoder.close():
                                    if event.data != _DONE:
                                        started = True
                                        yield _decode_event(event.data)
                            except SseTooLarge as exc:
                                raise VertexError(
                                    "RESOURCE_EXHAUSTED",
                                    f"Vertex AI sent an oversized stream event: {exc}",
                                    "UPSTREAM_EVENT_TOO_LARGE",
                                ) from None
                            return
            except VertexError as err:
                err.attempts = tries
                if owed:
                    owed = False
                    if retryable(err):
                        self._breaker.failure(key)
                    elif err.http_status is not None:
                        self._breaker.success(key)  # Vertex answered: it is up
                    else:
                        self._breaker.release(key)  # no answer (deadline, credentials)
                # Once an event went to the caller, a retry would repeat it: never then.
                if started:
                    raise
                if worst is None or not local_refusal(err):
                    worst = err
                if index + 1 < len(placements) and fails_over(err) and deadline.left() > 0:
                    index += 1  # the next account or location, at once
                    metrics.upstream_again(labels.FAMILY.get(), "failover")
                else:
                    # The round is over (or this failure is final): back off and start again
                    # with the round's most telling failure, or give that to the caller.
                    chosen = worst if fails_over(err) and worst is not None else err
                    worst = None
                    chosen.attempts = tries
                    if not await self.pause_before_retry(chosen, round_, deadline):
                        if chosen is err:
                            raise
                        raise chosen from None
                    index, round_ = 0, round_ + 1
                tries += 1
                again = True
            except BaseException:
                if owed:  # cancelled before a verdict: never a stuck probe
                    self._breaker.release(key)
                raise
            if not again:
                return

    @contextlib.asynccontextmanager
    async def _timed_stream(
        self, url: str, headers: dict[str, str], data: bytes, timeout: float
    ) -> AsyncIterator[Any]:
        """A streamed exchange; the upstream metrics time it to its headers, and a client span
        (when tracing) covers the whole stream."""
        start = time.perf_counter()
        status: int | None = None
        with tracing.upstream_span("POST", url) as span:
            try:
                async with self.transport.stream(url, headers, data, timeout) as resp:
                    status = resp.status
                    metrics.upstream_done(
                        labels.FAMILY.get(), str(status), time.perf_counter() - start
                    )
                    yield resp
            finally:
                if status is None:
                    metrics.upstream_done(labels.FAMILY.get(), "error", time.perf_counter() - start)
                tracing.upstream_status(span, status)


# What `_slot` stands for when no per-model limit is configured.
_NO_SLOT: contextlib.nullcontext[None] = contextlib.nullcontext()

# The OpenAI-compatible endpoint ends its streams with this sentinel instead of JSON.
_DONE = "[DONE]"


def _decode_event(data: str) -> Any:
    try:
        payload = orjson.loads(data)
    except ValueError:
        raise malformed("a stream event is not valid JSON") from None
    err = from_error_object(payload, None)
    if err is not None:
        raise err
    return payload
