"""Credentials never leak: a gateway process run with known secrets (service-account key,
caller keys) through successes, refusals, token refreshes and upstream failures, at DEBUG with
the access log on; no log line and no error message the callers see contains any of them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from vertex_gateway.v1 import chat_pb2, chat_pb2_grpc, embedding_pb2, embedding_pb2_grpc

from emulator.admin import EmulatorAdmin
from emulator.process import EmulatorProcess
from server.callers import hash_key

ROOT = Path(__file__).resolve().parents[2]
CALLER_KEY = "caller-secret-7f3a9c1e"
WRONG_KEY = "caller-secret-WRONG-55aa"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(text: str, model: str = "gemini-2.5-flash") -> chat_pb2.ChatRequest:
    return chat_pb2.ChatRequest(
        model=model,
        messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text=text)])],
    )


def test_no_secret_in_logs_or_errors(
    emulator: EmulatorProcess, service_account: dict[str, Any], admin: EmulatorAdmin
) -> None:
    port = _free_port()
    key_json = json.dumps(service_account)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "VG_"))}
    env.update(
        PYTHONPATH=f"{ROOT}:{ROOT / 'clients' / 'python'}", VG_LISTEN=f"127.0.0.1:{port}",
        VG_EMULATOR="off", VG_VERTEX_BASE_URL=emulator.base_url, VG_PROJECT=service_account["project_id"],
        VG_CREDENTIALS="service_account", VG_CREDENTIALS_JSON=key_json, VG_LOG_LEVEL="DEBUG",
        VG_ACCESS_LOG="true", VG_CALLER_KEYS=f"team={hash_key(CALLER_KEY)}",
    )  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "server"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)

    threading.Thread(target=pump, daemon=True).start()
    messages: list[str] = []
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while True:
            try:
                health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=1
                )
                break
            except grpc.RpcError:
                assert time.monotonic() < deadline, "".join(lines)
                time.sleep(0.1)
        chat = chat_pb2_grpc.ChatServiceStub(channel)
        good = (("x-api-key", CALLER_KEY),)

        def attempt(call: Any) -> None:
            try:
                call()
            except grpc.RpcError as err:
                messages.append(f"{err.code()} {err.details()} {err.trailing_metadata()}")  # type: ignore[attr-defined]

        attempt(lambda: chat.Chat(_request("hello"), metadata=good))
        attempt(lambda: chat.Chat(_request("hello"), metadata=(("x-api-key", WRONG_KEY),)))
        attempt(
            lambda: chat.Chat(
                _request("hello"), metadata=(("authorization", f"Bearer {WRONG_KEY}"),)
            )
        )
        attempt(lambda: chat.Chat(_request("hello", model="no-such-model"), metadata=good))
        admin.arm_fault("401", times=1)  # the gateway refreshes its token and retries
        attempt(lambda: chat.Chat(_request("after refresh"), metadata=good))
        admin.arm_fault("401", times=2)
        attempt(lambda: chat.Chat(_request("refused twice"), metadata=good))
        admin.arm_fault("500", times=3)
        attempt(lambda: chat.Chat(_request("server error"), metadata=good))
        attempt(lambda: list(chat.StreamChat(_request("stream"), metadata=good)))
        embed = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        attempt(
            lambda: embed.Embed(
                embedding_pb2.EmbedRequest(
                    model="text-embedding-005", inputs=[embedding_pb2.EmbedInput(text="x")]
                ),
                metadata=good,
            )
        )
        admin.revoke_tokens()  # every token the gateway holds stops working
        attempt(lambda: chat.Chat(_request("revoked"), metadata=good))
        channel.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert lines, "the gateway logged nothing"
    private_key_body = "".join(
        line for line in service_account["private_key"].splitlines() if "PRIVATE KEY" not in line
    )
    secrets = [
        CALLER_KEY,
        WRONG_KEY,
        service_account["private_key_id"],
        private_key_body[:40],
        private_key_body[-40:],
    ]
    text = "".join(lines) + "\n".join(messages)
    for secret in secrets:
        assert secret not in text, f"a secret leaked: {secret[:6]}..."
    assert "BEGIN PRIVATE KEY" not in text
    # The access tokens the emulator issued never appear either (they are JWT-like "ya29." strings).
    assert "ya29." not in text and "Bearer ey" not in text
