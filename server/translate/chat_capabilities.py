"""The capabilities a chat request needs from its model, each with the field that needs it."""

from __future__ import annotations

from vertex_gateway.v1 import chat_pb2

from server.routing.registry import Capability

_RF = chat_pb2.ResponseFormat
_EFFORT = chat_pb2.ReasoningConfig


def media_capability(mime_type: str) -> Capability:
    """The input capability a media part of this MIME type needs."""
    top = mime_type.split("/", 1)[0].lower()
    if top == "image":
        return Capability.IMAGE_INPUT
    if top == "audio":
        return Capability.AUDIO_INPUT
    if top == "video":
        return Capability.VIDEO_INPUT
    return Capability.DOCUMENT_INPUT


def _reasoning_asked(reasoning: chat_pb2.ReasoningConfig) -> bool:
    if reasoning.HasField("budget_tokens") and reasoning.budget_tokens != 0:
        return True
    if reasoning.effort not in (_EFFORT.EFFORT_UNSPECIFIED, _EFFORT.EFFORT_NONE):
        return True
    return reasoning.include_thoughts


def required_capabilities(request: chat_pb2.ChatRequest) -> list[tuple[Capability, str]]:
    """(capability, field that needs it), the first field for each capability, in field order."""
    needs: dict[Capability, str] = {}
    for i, message in enumerate(request.messages):
        for j, part in enumerate(message.parts):
            if part.WhichOneof("kind") == "media":
                cap = media_capability(part.media.mime_type)
                needs.setdefault(cap, f"messages[{i}].parts[{j}].media")
    for k, tool in enumerate(request.tools):
        kind = tool.WhichOneof("kind")
        if kind == "function":
            needs.setdefault(Capability.TOOLS, f"tools[{k}]")
        elif kind in ("google_search", "url_context"):
            needs.setdefault(Capability.GROUNDING, f"tools[{k}]")
        elif kind == "code_execution":
            needs.setdefault(Capability.TOOLS, f"tools[{k}]")
    if request.response_format.type in (_RF.TYPE_JSON_OBJECT, _RF.TYPE_JSON_SCHEMA):
        needs.setdefault(Capability.JSON_OUTPUT, "response_format")
    if request.HasField("reasoning") and _reasoning_asked(request.reasoning):
        needs.setdefault(Capability.REASONING, "reasoning")
    return list(needs.items())
