"""Express mode: an API key and no project -> project-less URLs on Vertex, key in a header."""

from __future__ import annotations

import grpc
import grpc.aio
from vertex_gateway.v1 import chat_pb2_grpc

from emulator.admin import EmulatorAdmin
from emulator.process import EmulatorProcess
from server.app import create_gateway
from server.config import load_config

from ..conftest import error_details
from .conftest import ask


async def test_api_key_express_mode() -> None:
    with EmulatorProcess(["--api-key", "test-key-123"]) as emu:
        admin = EmulatorAdmin(emu.base_url)
        for key, expect_ok in (("test-key-123", True), ("wrong-key", False)):
            env = {
                "VG_LISTEN": "127.0.0.1:0",
                "VG_VERTEX_BASE_URL": emu.base_url,
                "VG_API_KEY": key,
            }
            config = load_config(env=env)
            assert not config.wants_emulator()
            gw = await create_gateway(config)
            await gw.start()
            try:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel:
                    chat = chat_pb2_grpc.ChatServiceStub(channel)
                    if expect_ok:
                        reply = await chat.Chat(ask("hello"))
                        assert reply.candidates
                        chunks = [c async for c in chat.StreamChat(ask("hello"))]
                        assert len(chunks) >= 3
                    else:
                        try:
                            await chat.Chat(ask("hello"))
                            raise AssertionError("a wrong key must fail")
                        except grpc.aio.AioRpcError as err:
                            d = error_details(err)
                            assert d.code == grpc.StatusCode.INVALID_ARGUMENT  # Google: 400
                            assert "wrong-key" not in d.message  # keys never echoed
            finally:
                await gw.shutdown()
        calls = [r for r in admin.requests() if ":" in r["path"].rsplit("/", 1)[-1]]
        assert calls[0]["path"] == "/v1/publishers/google/models/gemini-2.5-flash:generateContent"
        assert calls[0]["auth"] == "api_key"
        assert audit_ok(admin)


def audit_ok(admin: EmulatorAdmin) -> bool:
    audit = admin.audit("vertex-gateway")
    return bool(audit["checked"] >= 3 and audit["violations"] == [])
