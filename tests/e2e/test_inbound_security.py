"""Inbound security: caller API keys (hashed, per-caller models and rate), TLS and mutual TLS."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc
from vertex_gateway.v1 import chat_pb2_grpc

from emulator.process import EmulatorProcess
from server.app import create_gateway
from server.callers import hash_key
from server.config import load_config

from ..conftest import error_details
from .conftest import ask, gateway_env


@asynccontextmanager
async def gateway(
    emulator: EmulatorProcess,
    key: dict[str, Any],
    tmp_path: Path,
    config: dict[str, Any],
    **env: str,
) -> AsyncIterator[int]:
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    gw = await create_gateway(load_config(env=gateway_env(emulator, key, **env), path=str(path)))
    await gw.start()
    try:
        yield gw.port
    finally:
        await gw.shutdown()


async def test_caller_keys(
    emulator: EmulatorProcess, service_account: dict[str, Any], tmp_path: Path
) -> None:
    config = {
        "callers": [
            {"caller": "search", "key_sha256": hash_key("search-key")},
            {
                "caller": "ads",
                "key_sha256": hash_key("ads-key"),
                "models": ["gemini-2.5-flash"],
                "requests_per_second": 2,
            },
        ]
    }
    async with (
        gateway(emulator, service_account, tmp_path, config) as port,
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        chat = chat_pb2_grpc.ChatServiceStub(channel)
        for metadata, reason in (
            ((), "CALLER_KEY_MISSING"),
            ((("x-api-key", "nope"),), "CALLER_KEY_INVALID"),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await chat.Chat(ask("hi"), metadata=metadata)
            d = error_details(info.value)
            assert d.code == grpc.StatusCode.UNAUTHENTICATED and d.info and d.info.reason == reason
            assert "search-key" not in d.message and "nope" not in d.message
            # Refused before the servicer, yet with a request id like every RPC.
            assert any(k == "x-request-id" for k, _ in info.value.trailing_metadata() or ())
        with pytest.raises(grpc.aio.AioRpcError) as info:
            async for _ in chat.StreamChat(ask("hi")):
                pass
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        reply = await chat.Chat(
            ask("hi", model="gemini-2.5-pro"),
            metadata=(("authorization", "Bearer search-key"),),
        )
        assert reply.candidates
        ads = (("x-api-key", "ads-key"),)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await chat.Chat(ask("hi", model="gemini-2.5-pro"), metadata=ads)
        d = error_details(info.value)
        assert (
            d.code == grpc.StatusCode.PERMISSION_DENIED
            and d.info
            and d.info.reason == "CALLER_MODEL_NOT_ALLOWED"
        )
        codes = []
        for _ in range(6):
            try:
                await chat.Chat(ask("hi"), metadata=ads)
                codes.append("OK")
            except grpc.aio.AioRpcError as err:
                d = error_details(err)
                assert d.retry is not None
                codes.append(err.code().name)
        assert "RESOURCE_EXHAUSTED" in codes and codes[0] == "OK"
        # Probes need no key.
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING


def _certificates(tmp_path: Path) -> dict[str, Path]:
    now = datetime.datetime.now(datetime.UTC)

    def make(
        name: str, issuer_key: Any, issuer_name: x509.Name | None, ca: bool, san: bool
    ) -> tuple[Any, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name or subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        cert = builder.sign(issuer_key or key, hashes.SHA256())
        return key, cert

    ca_key, ca_cert = make("test-ca", None, None, True, False)
    out: dict[str, Path] = {}

    def write(stem: str, key: Any, cert: x509.Certificate) -> None:
        out[f"{stem}.key"] = tmp_path / f"{stem}.key"
        out[f"{stem}.crt"] = tmp_path / f"{stem}.crt"
        out[f"{stem}.key"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        out[f"{stem}.crt"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    write("ca", ca_key, ca_cert)
    write("server", *make("localhost", ca_key, ca_cert.subject, False, True))
    write("client", *make("caller", ca_key, ca_cert.subject, False, False))
    return out


async def test_tls_and_mutual_tls(
    emulator: EmulatorProcess, service_account: dict[str, Any], tmp_path: Path
) -> None:
    certs = _certificates(tmp_path)
    ca = certs["ca.crt"].read_bytes()
    tls = {
        "VG_TLS_CERT_FILE": str(certs["server.crt"]),
        "VG_TLS_KEY_FILE": str(certs["server.key"]),
    }
    async with gateway(emulator, service_account, tmp_path, {}, **tls) as port:
        creds = grpc.ssl_channel_credentials(root_certificates=ca)
        async with grpc.aio.secure_channel(f"localhost:{port}", creds) as channel:
            assert (await chat_pb2_grpc.ChatServiceStub(channel).Chat(ask("hi"))).candidates
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as plain:
            with pytest.raises(grpc.aio.AioRpcError):
                await chat_pb2_grpc.ChatServiceStub(plain).Chat(ask("hi"), timeout=3)
    mtls = {**tls, "VG_TLS_CLIENT_CA_FILE": str(certs["ca.crt"])}
    async with gateway(emulator, service_account, tmp_path, {}, **mtls) as port:
        with_cert = grpc.ssl_channel_credentials(
            root_certificates=ca,
            private_key=certs["client.key"].read_bytes(),
            certificate_chain=certs["client.crt"].read_bytes(),
        )
        async with grpc.aio.secure_channel(f"localhost:{port}", with_cert) as channel:
            assert (await chat_pb2_grpc.ChatServiceStub(channel).Chat(ask("hi"))).candidates
        without = grpc.ssl_channel_credentials(root_certificates=ca)
        async with grpc.aio.secure_channel(f"localhost:{port}", without) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await chat_pb2_grpc.ChatServiceStub(channel).Chat(ask("hi"), timeout=3)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_config_refuses_plain_keys_and_half_tls(tmp_path: Path) -> None:
    from server.config import ConfigError

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"callers": [{"caller": "x", "key_sha256": "plain-text-key"}]}))
    with pytest.raises(ConfigError, match="key_sha256"):
        load_config(env={}, path=str(bad))
    with pytest.raises(ConfigError, match="go together"):
        load_config(env={"VG_TLS_CERT_FILE": str(bad)})


async def test_caller_tokens_per_minute(
    emulator: EmulatorProcess, service_account: dict[str, Any], tmp_path: Path
) -> None:
    config = {
        "callers": [{"caller": "batchy", "key_sha256": hash_key("k"), "tokens_per_minute": 5}]
    }
    key = (("x-api-key", "k"),)
    async with (
        gateway(emulator, service_account, tmp_path, config) as port,
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        chat = chat_pb2_grpc.ChatServiceStub(channel)
        first = await chat.Chat(ask("hello there"), metadata=key)
        assert first.usage.total_tokens > 5  # spends the minute's budget and more
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await chat.Chat(ask("again"), metadata=key)
        d = error_details(info.value)
        assert d.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert (
            d.info is not None and d.info.reason == "CALLER_TOKEN_LIMITED" and d.retry is not None
        )


async def test_jobs_belong_to_the_caller_that_created_them(
    emulator: EmulatorProcess, service_account: dict[str, Any], tmp_path: Path
) -> None:
    """With caller keys, a batch is its creator's: another caller cannot list, read, cancel or
    reuse it (its request id included), and is told it does not exist."""
    from vertex_gateway.v1 import batch_pb2, batch_pb2_grpc, chat_pb2

    config = {
        "callers": [
            {"caller": "team-a", "key_sha256": hash_key("key-a")},
            {"caller": "team-b", "key_sha256": hash_key("key-b")},
        ]
    }
    a, b = (("x-api-key", "key-a"),), (("x-api-key", "key-b"),)
    request = batch_pb2.CreateBatchRequest(
        model="gemini-2.5-flash",
        requests=[batch_pb2.BatchItem(id="q", chat=chat_pb2.ChatRequest(
            model="gemini-2.5-flash",
            messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text="hi")])],
        ))],
        request_id="0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    )  # fmt: skip
    async with (
        gateway(emulator, service_account, tmp_path, config, VG_STORAGE_BUCKET="vertex-gateway-test") as port,
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):  # fmt: skip
        batches = batch_pb2_grpc.BatchServiceStub(channel)
        mine = await batches.CreateBatch(request, metadata=a)
        assert (await batches.GetBatch(batch_pb2.GetBatchRequest(name=mine.name), metadata=a)).name
        listed_a = await batches.ListBatches(batch_pb2.ListBatchesRequest(), metadata=a)
        assert mine.name in {x.name for x in listed_a.batches}
        listed_b = await batches.ListBatches(batch_pb2.ListBatchesRequest(), metadata=b)
        assert mine.name not in {x.name for x in listed_b.batches}
        for call in (
            batches.GetBatch(batch_pb2.GetBatchRequest(name=mine.name), metadata=b),
            batches.CancelBatch(batch_pb2.CancelBatchRequest(name=mine.name), metadata=b),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        # The same request id from another caller is another request: a batch of its own.
        theirs = await batches.CreateBatch(request, metadata=b)
        assert theirs.name != mine.name
        assert (await batches.CreateBatch(request, metadata=a)).name == mine.name
