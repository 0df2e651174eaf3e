"""Rebuild a complete reply from StreamChat messages, by the merge rule chat.proto documents."""

from __future__ import annotations

import json

from google.protobuf import json_format
from vertex_gateway.v1 import chat_pb2, common_pb2


def _continues(last: chat_pb2.Part, new: chat_pb2.Part) -> bool:
    kind = new.WhichOneof("kind")
    if kind != last.WhichOneof("kind") or kind not in ("text", "thought") or last.thought_signature:
        return False
    return not (kind == "thought" and (last.thought.redacted_data or new.thought.redacted_data))


def assemble(chunks: list[chat_pb2.StreamChatResponse]) -> chat_pb2.ChatResponse:
    """The ChatResponse the stream adds up to; checks argument fragments against the calls."""
    reply = chat_pb2.ChatResponse()
    candidates: dict[int, chat_pb2.Candidate] = {}
    fragments: dict[tuple[int, int], str] = {}
    for chunk in chunks:
        reply.id = reply.id or chunk.id
        reply.model = reply.model or chunk.model
        reply.model_version = reply.model_version or chunk.model_version
        if chunk.HasField("served_by"):
            reply.served_by.CopyFrom(chunk.served_by)
        if chunk.HasField("usage"):
            reply.usage.CopyFrom(chunk.usage)
        if chunk.HasField("prompt_feedback"):
            reply.prompt_feedback.CopyFrom(chunk.prompt_feedback)
        for delta in chunk.candidates:
            cand = candidates.setdefault(
                delta.index,
                chat_pb2.Candidate(
                    index=delta.index, message=chat_pb2.Message(role=chat_pb2.ROLE_ASSISTANT)
                ),
            )
            for part in delta.message.parts:
                call = part.tool_call
                if part.WhichOneof("kind") == "tool_call" and call.arguments_delta:
                    key = (delta.index, call.index)
                    fragments[key] = fragments.get(key, "") + call.arguments_delta
                    continue
                parts = cand.message.parts
                if parts and _continues(parts[-1], part):
                    last = parts[-1]
                    if part.WhichOneof("kind") == "text":
                        last.text += part.text
                    else:
                        last.thought.text += part.thought.text
                    last.thought_signature = part.thought_signature
                else:
                    parts.add().CopyFrom(part)
            if delta.finish_reason != common_pb2.FINISH_REASON_UNSPECIFIED:
                cand.finish_reason = delta.finish_reason
                cand.native_finish_reason = delta.native_finish_reason
                cand.finish_message = delta.finish_message
                cand.stop_sequence = delta.stop_sequence
            cand.safety_ratings.extend(delta.safety_ratings)
            cand.citations.extend(delta.citations)
            if delta.HasField("grounding"):
                cand.grounding.CopyFrom(delta.grounding)
    reply.candidates.extend(candidates[i] for i in sorted(candidates))
    for (cand_index, call_index), text in fragments.items():
        calls = [
            p.tool_call
            for p in candidates[cand_index].message.parts
            if p.WhichOneof("kind") == "tool_call" and p.tool_call.index == call_index
        ]
        assert calls, f"argument fragments for call {call_index} but no complete call"
        try:
            parsed = json.loads(text or "{}")
        except ValueError:
            continue  # a malformed call: the candidate says so (asserted by the tests)
        assert parsed == json_format.MessageToDict(calls[0].arguments)
    return reply
