"""`plain_text`: the hot path's screen for requests of text turns only.

The Chat path skips `validate_chat_request` and `required_capabilities` for requests it
accepts, so it must never accept one those would reject, change or ask a capability for.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vertex_gateway.v1 import chat_pb2, common_pb2

from server.translate.chat_capabilities import required_capabilities
from server.translate.chat_validation import plain_text, validate_chat_request
from tests.fuzz.proto_strategies import messages

CHECKS = settings(
    max_examples=250, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)
R = chat_pb2


def _text(text: str = "hi") -> chat_pb2.Part:
    return R.Part(text=text)


def _request(**extra: Any) -> chat_pb2.ChatRequest:
    return R.ChatRequest(
        model="gemini-2.5-flash",
        messages=[
            R.Message(role=R.ROLE_USER, parts=[_text("How far is the moon?")]),
            R.Message(role=R.ROLE_ASSISTANT, parts=[_text("About 384,400 km.")]),
            R.Message(role=R.ROLE_USER, parts=[_text("And the sun?"), _text("")]),
        ],
        **extra,
    )


def _holds(request: chat_pb2.ChatRequest) -> None:
    """What accepting `request` promises: the full checks pass, change nothing, need nothing."""
    checked = R.ChatRequest()
    checked.CopyFrom(request)
    validate_chat_request(checked)
    assert checked == request
    assert required_capabilities(request) == []


def test_text_turns_are_plain_and_hold() -> None:
    request = _request(system_instruction=[_text("Be brief.")])
    assert plain_text(request)
    _holds(request)


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.messages[0].__setattr__("role", R.ROLE_TOOL),
        lambda r: r.messages[0].__setattr__("role", R.ROLE_UNSPECIFIED),
        lambda r: r.messages[0].__setattr__("role", 7),  # unknown enum number
        lambda r: r.messages[1].ClearField("parts"),
        lambda r: r.messages[0].parts[0].__setattr__("thought_signature", b"sig"),
        lambda r: r.messages[0].parts[0].__setattr__("cache_breakpoint", True),
        lambda r: r.messages[0].parts.add(),  # an empty part
        lambda r: r.messages[0].parts.add(thought=R.Thought(text="hm")),
        lambda r: r.messages[0].parts.add(
            media=common_pb2.Media(mime_type="image/png", uri="gs://b/o")
        ),
        lambda r: r.system_instruction.add(media=common_pb2.Media(mime_type="text/plain")),
        lambda r: r.system_instruction.add(thought_signature=b"x", text="t"),
        lambda r: r.labels.__setitem__("team", "search"),
        lambda r: r.generation_config.__setattr__("temperature", 5.0),
        lambda r: r.tools.add(),
        lambda r: r.ClearField("messages"),
        lambda r: r.__setattr__("cached_content", "cachedContents/1"),
    ],
)
def test_anything_else_takes_the_full_checks(change: Any) -> None:
    request = _request()
    change(request)
    assert not plain_text(request)


_ROLES = st.sampled_from([R.ROLE_USER, R.ROLE_ASSISTANT, R.ROLE_TOOL, R.ROLE_UNSPECIFIED, 9])
_PARTS = st.one_of(
    st.text(max_size=5).map(_text),
    st.builds(lambda: R.Part()),
    st.builds(lambda t: R.Part(text=t, thought_signature=b"s"), st.text(max_size=3)),
    st.builds(lambda t: R.Part(text=t, cache_breakpoint=True), st.text(max_size=3)),
    messages(R.Part.DESCRIPTOR, R.Part, depth=2),
)


@st.composite
def _near_plain(draw: st.DrawFn) -> chat_pb2.ChatRequest:
    """Mostly text turns, with some of what makes a request not plain mixed in."""
    request = R.ChatRequest(model="gemini-2.5-flash")
    for _ in range(draw(st.integers(0, 3))):
        message = request.messages.add(role=draw(_ROLES))
        message.parts.extend(draw(st.lists(_PARTS, max_size=3)))
    request.system_instruction.extend(draw(st.lists(_PARTS, max_size=2)))
    if draw(st.integers(0, 3)) == 0:
        with contextlib.suppress(DecodeError):  # nesting past upb's limit: nothing merged
            request.MergeFrom(draw(messages(R.ChatRequest.DESCRIPTOR, R.ChatRequest, depth=2)))
    return request


@CHECKS
@given(_near_plain())
def test_a_plain_request_always_passes_the_full_checks(request: chat_pb2.ChatRequest) -> None:
    if plain_text(request):
        _holds(request)


@CHECKS
@given(messages(R.ChatRequest.DESCRIPTOR, R.ChatRequest))
def test_arbitrary_requests_are_plain_only_when_they_hold(request: chat_pb2.ChatRequest) -> None:
    if plain_text(request):
        _holds(request)
