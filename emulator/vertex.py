"""The Vertex request pipeline: record, validate, authenticate, inject faults, route, answer.

Google checks credentials before it looks at the URL or the body, so the answer precedence is:
auth error, then fault, then unknown URL / model, then body errors, then the method's reply.
The body is still validated (and the result recorded for the audit) whatever the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from emulator import batch_api, errors, listing, rules, tuned_endpoints, tuning_api
from emulator.auth import Credentials, check_credentials, presented_credentials
from emulator.batch_create import CreateCheck, check_create
from emulator.catalog import ModelInfo, find_model, is_valid_location
from emulator.discovery import SchemaError, document
from emulator.errors import FieldViolation, GoogleError
from emulator.faults import FAULT_HEADER, Fault, FaultKind, parse_fault
from emulator.payload import parse_body
from emulator.records import RequestRecord, redact_headers, redact_query
from emulator.routing import REGISTRY_KEY, MethodSpec, VertexTarget, parse_path
from emulator.sse import ClientGone, pause
from emulator.state import EmulatorState, state_of
from emulator.tuning_rules import TuningCheck
from emulator.tuning_rules import check_create as check_tuning_create


@dataclass
class VertexCall:
    """A request that passed every check, handed to a method handler."""

    request: web.Request
    state: EmulatorState
    target: VertexTarget
    spec: MethodSpec
    model: ModelInfo | None
    body: dict[str, Any]
    record: RequestRecord
    fault: Fault | None

    @property
    def sse(self) -> bool:
        """True when the client asked for Server-Sent Events (``?alt=sse``)."""
        return self.request.query.get("alt") == "sse"

    @property
    def wrap_errors(self) -> bool:
        """Streaming without ``alt=sse`` answers errors as a one-element JSON array."""
        return self.spec.streaming and not self.sse


@dataclass
class BodyCheck:
    """The outcome of validating a body: transcoding errors, semantic errors, normalised body."""

    body: dict[str, Any]
    parse_errors: list[SchemaError]
    semantic: list[SchemaError]
    # Rejections that depend on caller-relayed data (see rules.RuleViolation.caller_data): sent
    # as the error, but not counted against the sender in the audit.
    caller_data: list[SchemaError] = field(default_factory=list)

    @property
    def all_messages(self) -> list[str]:
        """Every problem, for the record and the audit."""
        return [e.description for e in self.parse_errors + self.semantic]


def check_body(
    state: EmulatorState, target: VertexTarget, spec: MethodSpec, request: web.Request, raw: bytes
) -> tuple[Any, BodyCheck]:
    """Parse and validate a body against the discovery schema and the Vertex-only rules."""
    parsed, error = parse_body(request.headers.get("Content-Type"), raw)
    if error is not None:
        return parsed, BodyCheck({}, [error], [])
    doc = document(target.version)
    schema = doc.request_schema(spec.request_method or spec.method)
    if schema is None:
        return parsed, BodyCheck(parsed, [], [])
    result = doc.validate(schema, parsed, lenient_names=state.config.lenient_field_names)
    body = result.normalized if isinstance(result.normalized, dict) else {}
    if target.endpoint is not None:
        # A tuned endpoint validates as its base model does (thinking ranges, token limits).
        model = tuned_endpoints.serving_model(state.resources, target)
    else:
        model = find_model(str(target.publisher), str(target.model)) if target.model else None
    context = rules.RuleContext(
        version=target.version,
        method=spec.method,
        max_output_tokens=model.max_output_tokens if model else 65536,
        reject_function_call_id=state.config.reject_function_call_id,
        model_id=model.model_id if model else target.model,
        project=target.project,
        location=target.location,
    )
    parse_errors = list(result.errors)
    semantic: list[SchemaError] = []
    caller_data: list[SchemaError] = []
    for violation in rules.check(body, context):
        found = SchemaError(violation.field, violation.description)
        if violation.caller_data:
            caller_data.append(found)
        else:
            (parse_errors if violation.parse_level else semantic).append(found)
    return parsed, BodyCheck(body, parse_errors, semantic, caller_data)


def body_error(check: BodyCheck) -> GoogleError | None:
    """Transcoding errors come all at once with BadRequest details; semantic ones one at a time."""
    if check.parse_errors:
        return errors.bad_request(
            [FieldViolation(e.field, e.description) for e in check.parse_errors]
        )
    if check.semantic:
        return errors.invalid_argument(check.semantic[0].description)
    if check.caller_data:
        return errors.invalid_argument(check.caller_data[0].description)
    return None


def status_fault_error(fault: Fault, target: VertexTarget | None) -> GoogleError:
    """The Google error a status fault stands for."""
    resource = target.resource if target else "projects/-/locations/-"
    by_status = {
        400: errors.generic_bad_request,
        401: lambda: errors.unauthenticated("ACCESS_TOKEN_EXPIRED", None),
        403: lambda: errors.permission_denied(resource),
        404: lambda: errors.publisher_model_not_found(resource),
        429: errors.resource_exhausted,
        500: errors.internal,
        503: errors.unavailable,
        504: errors.deadline_exceeded,
    }
    return by_status[fault.status]()


def _new_record(state: EmulatorState, request: web.Request, auth: str, raw: bytes) -> RequestRecord:
    return RequestRecord(
        seq=state.records.next_seq(),
        method=request.method,
        path=request.path,
        query=redact_query(request.query),
        headers=redact_headers(request.headers),
        auth=auth,
        user_agent=request.headers.get("User-Agent", ""),
        body_bytes=len(raw),
    )


async def handle_vertex(request: web.Request) -> web.StreamResponse:
    """Serve any non-admin, non-token request as Vertex would."""
    state = state_of(request)
    stats = state.stats
    stats.vertex_requests += 1
    stats.in_flight += 1
    stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
    try:
        return await _handle(request, state)
    finally:
        stats.in_flight -= 1


async def _handle(request: web.Request, state: EmulatorState) -> web.StreamResponse:
    raw = await request.read()
    creds = presented_credentials(request)
    record = _new_record(state, request, creds.kind, raw)
    state.records.add(record)
    try:
        response = await _serve(request, state, record, creds, raw)
    except ClientGone:
        record.client_disconnected = True
        return web.Response(status=499)
    if isinstance(response, web.Response):
        record.status = response.status
        record.completed = True
    return response


async def _serve(
    request: web.Request,
    state: EmulatorState,
    record: RequestRecord,
    creds: Credentials,
    raw: bytes,
) -> web.StreamResponse:
    registry = request.app[REGISTRY_KEY]
    target = parse_path(request.path)
    listing_of = listing.parse(request.path) if request.method == "GET" else None
    batch = batch_api.parse(request.method, request.path)
    tuning = tuning_api.parse(request.method, request.path)
    spec = registry.lookup(target) if target else None
    check: BodyCheck | None = None
    batch_check: CreateCheck | None = None
    tuning_check: TuningCheck | None = None
    custom_problems: list[str] = []
    if batch is not None and batch.action is batch_api.Action.CREATE:
        record.body, batch_check = check_create(
            state, batch.version, batch.project, batch.location, request, raw
        )
        record.schema_errors = batch_check.audited
        state.records.note_validated(record.user_agent, request.path, record.schema_errors)
    elif tuning is not None and tuning.action is tuning_api.Action.CREATE:
        record.body, tuning_check = check_tuning_create(
            tuning.version,
            request.headers.get("Content-Type"),
            raw,
            lenient_names=state.config.lenient_field_names,
        )
        record.schema_errors = tuning_check.audited
        state.records.note_validated(record.user_agent, request.path, record.schema_errors)
    elif target and spec and spec.request_method and request.method == "POST":
        record.body, check = check_body(state, target, spec, request, raw)
        if spec.validator and not check.parse_errors:
            # Free-form parts of a typed request (``:predict``'s instances and parameters) are
            # checked by the method's own validator once the transcoder has accepted the body.
            custom_problems = spec.validator(target, check.body)
        record.schema_errors = check.all_messages + custom_problems
        state.records.note_validated(record.user_agent, request.path, record.schema_errors)
    elif target and spec and spec.validator and request.method == "POST":
        record.body, parse_error = parse_body(request.headers.get("Content-Type"), raw)
        custom_problems = (
            [parse_error.description] if parse_error else spec.validator(target, record.body)
        )
        record.schema_errors = custom_problems
        state.records.note_validated(record.user_agent, request.path, custom_problems)
    elif raw:
        record.body, _ = parse_body(request.headers.get("Content-Type"), raw)

    rpc_spec = spec or (registry.rpc_for(target.method) if target else None)
    auth_error = check_credentials(
        creds,
        tokens=state.tokens,
        policy=state.policy,
        express=bool(target and target.express),
        rpc_method=(
            listing_of.rpc
            if listing_of
            else batch.rpc
            if batch
            else tuning.rpc
            if tuning
            else rpc_spec.rpc_name(target.version)
            if rpc_spec and target
            else None
        ),
    )
    if auth_error is not None:
        return errors.error_response(auth_error)

    wrap = bool(spec and spec.streaming and request.query.get("alt") != "sse")
    fault, fault_error = _pick_fault(request, state)
    if fault_error is not None:
        return errors.error_response(fault_error)
    if fault is not None:
        record.fault = fault.spec
        if fault.kind in (FaultKind.STATUS, FaultKind.STATUS_ARRAY):
            error = status_fault_error(fault, target)
            return errors.error_response(
                error, wrap_array=wrap or fault.kind is FaultKind.STATUS_ARRAY
            )
        if fault.kind is FaultKind.SLOW:
            await pause(request, fault.delay_ms / 1000)

    if listing_of is not None:
        return listing.respond(listing_of, request, state)
    if batch is not None:
        return batch_api.respond(batch, request, state, raw, batch_check)
    if tuning is not None:
        refused: list[str] = []
        answer = await tuning_api.respond(tuning, request, state, raw, tuning_check, refused)
        record.schema_errors = [*record.schema_errors, *refused]
        return answer
    if target is None or request.method != "POST":
        return errors.html_not_found(request.path)
    if target.location is not None and not is_valid_location(target.location):
        error = errors.invalid_argument(f"Location `{target.location}` is not supported.")
        return errors.error_response(error, wrap_array=wrap)
    if spec is None:
        if target.publisher is not None and registry.serves_method(target.method):
            return errors.error_response(errors.publisher_model_not_found(target.resource))
        return errors.html_not_found(request.path)
    model = None
    if target.model is not None:
        model = find_model(str(target.publisher), target.model)
        if model is None:
            error = errors.publisher_model_not_found(target.resource)
            return errors.error_response(error, wrap_array=wrap)
    if target.endpoint is not None and spec.method in tuned_endpoints.GEMINI_METHODS:
        # An endpoint that cannot serve Gemini is refused before its body is looked at, as an
        # unknown publisher model is.
        endpoint_error = tuned_endpoints.gemini_error(state.resources, target)
        if endpoint_error is not None:
            return errors.error_response(endpoint_error, wrap_array=wrap)
    problem = body_error(check) if check else None
    if problem is not None:
        return errors.error_response(problem, wrap_array=wrap)
    if custom_problems:
        if spec.rejecter is not None:
            return spec.rejecter(custom_problems)
        return errors.error_response(errors.invalid_argument(custom_problems[0]), wrap_array=wrap)
    body = check.body if check else record.body if isinstance(record.body, dict) else {}
    call = VertexCall(request, state, target, spec, model, body, record, fault)
    return await spec.handler(call)


def _pick_fault(
    request: web.Request, state: EmulatorState
) -> tuple[Fault | None, GoogleError | None]:
    spec = request.headers.get(FAULT_HEADER)
    if spec is None:
        return state.faults.take(request.path), None
    try:
        return parse_fault(spec), None
    except ValueError as exc:
        return None, errors.invalid_argument(f"{FAULT_HEADER}: {exc}")
