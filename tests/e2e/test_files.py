"""FileService end to end against the Cloud Storage stand-in."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import google_crc32c
import grpc
import grpc.aio
import pytest
from vertex_gateway.v1 import file_pb2, file_pb2_grpc

from emulator.process import EmulatorProcess
from emulator.storage_process import StorageEmulatorProcess

from ..conftest import error_details
from .conftest import BUCKET, gateway_env

F = file_pb2
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def files(channel: grpc.aio.Channel) -> file_pb2_grpc.FileServiceStub:
    return file_pb2_grpc.FileServiceStub(channel)


async def upload_messages(
    meta: F.UploadFileMetadata, pieces: Iterator[bytes]
) -> AsyncIterator[F.UploadFileRequest]:
    yield F.UploadFileRequest(metadata=meta)
    for piece in pieces:
        yield F.UploadFileRequest(chunk=piece)


def stored_names(storage: StorageEmulatorProcess, prefix: str) -> list[str]:
    url = f"{storage.base_url}/storage/v1/b/{BUCKET}/o?prefix={prefix}"
    with urllib.request.urlopen(url) as resp:
        return [item["name"] for item in json.loads(resp.read()).get("items") or []]


async def download(stub: file_pb2_grpc.FileServiceStub, **kw: Any) -> tuple[F.File, bytes]:
    first: F.File | None = None
    data = bytearray()
    async for message in stub.DownloadFile(F.DownloadFileRequest(**kw)):
        if message.HasField("file"):
            first = message.file
        data += message.chunk
    assert first is not None
    return first, bytes(data)


async def test_upload_get_download(files: file_pb2_grpc.FileServiceStub) -> None:
    content = b"".join(f'{{"id": "r-{i}", "chat": {{}}}}\n'.encode() for i in range(5000))
    pieces = (content[i : i + 70_000] for i in range(0, len(content), 70_000))
    meta = F.UploadFileMetadata(
        display_name="requests.jsonl", mime_type="application/jsonl", purpose=F.FILE_PURPOSE_BATCH_INPUT,
        expected_size_bytes=len(content), expected_sha256=hashlib.sha256(content).digest(),
    )  # fmt: skip
    stored = await files.UploadFile(upload_messages(meta, pieces))
    assert stored.name.startswith("files/") and stored.size_bytes == len(content)
    assert stored.sha256 == hashlib.sha256(content).digest()
    assert stored.crc32c == int.from_bytes(google_crc32c.Checksum(content).digest(), "big")
    assert stored.uri.startswith(f"gs://{BUCKET}/gw/files/")
    assert stored.purpose == F.FILE_PURPOSE_BATCH_INPUT and stored.display_name == "requests.jsonl"
    again = await files.GetFile(F.GetFileRequest(name=stored.name))
    assert again == stored
    meta_back, data = await download(files, name=stored.name)
    assert data == content and meta_back.name == stored.name
    _, part = await download(files, name=stored.name, read_offset=100, read_limit=50)
    assert part == content[100:150]


async def test_bad_uploads_keep_nothing(
    files: file_pb2_grpc.FileServiceStub, storage: StorageEmulatorProcess
) -> None:
    before = stored_names(storage, "gw/files/")
    meta = F.UploadFileMetadata(
        mime_type="text/plain", purpose=F.FILE_PURPOSE_MEDIA, expected_size_bytes=10
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await files.UploadFile(upload_messages(meta, iter([b"short"])))
    d = error_details(info.value)
    assert d.code == grpc.StatusCode.INVALID_ARGUMENT and "expected_size_bytes" in d.message
    bad_hash = F.UploadFileMetadata(
        mime_type="text/plain", purpose=F.FILE_PURPOSE_MEDIA, expected_sha256=b"x" * 32
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await files.UploadFile(upload_messages(bad_hash, iter([b"hello"])))
    assert "expected_sha256" in (info.value.details() or "")
    assert stored_names(storage, "gw/files/") == before
    cases = [
        ([F.UploadFileRequest(chunk=b"x")], "metadata"),
        ([F.UploadFileRequest(metadata=F.UploadFileMetadata(mime_type="text/plain"))], "purpose"),
        ([F.UploadFileRequest(metadata=F.UploadFileMetadata(purpose=F.FILE_PURPOSE_MEDIA))], "mime_type"),
        ([F.UploadFileRequest(metadata=F.UploadFileMetadata(mime_type="text/plain", purpose=F.FILE_PURPOSE_MEDIA)),
          F.UploadFileRequest(metadata=F.UploadFileMetadata())], "metadata"),
    ]  # fmt: skip
    for messages, needle in cases:

        async def stream(
            m: list[F.UploadFileRequest] = messages,
        ) -> AsyncIterator[F.UploadFileRequest]:
            for x in m:
                yield x

        with pytest.raises(grpc.aio.AioRpcError) as info:
            await files.UploadFile(stream())
        d = error_details(info.value)
        assert d.code == grpc.StatusCode.INVALID_ARGUMENT and needle in d.message, d.message


async def test_lookups(files: file_pb2_grpc.FileServiceStub) -> None:
    meta = F.UploadFileMetadata(mime_type="text/plain", purpose=F.FILE_PURPOSE_MEDIA)
    stored = await files.UploadFile(upload_messages(meta, iter([b"0123456789"])))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await download(files, name=stored.name, read_offset=10)
    assert info.value.code() == grpc.StatusCode.OUT_OF_RANGE
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await files.GetFile(F.GetFileRequest(name="files/" + "0" * 32))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await files.GetFile(F.GetFileRequest(name="gs://bucket/x"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


async def test_200_mb_round_trip_in_bounded_memory(
    emulator: EmulatorProcess, service_account: dict[str, Any]
) -> None:
    """A separate gateway process, so its peak RSS is its own."""
    port = _free_port()
    env = {**os.environ, **gateway_env(emulator, service_account), "VG_LISTEN": f"127.0.0.1:{port}",
           "VG_EMULATOR": "off", "VG_LOG_LEVEL": "WARNING",
           "PYTHONPATH": f"{ROOT}:{ROOT / 'clients' / 'python'}"}  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "server"], env=env, cwd=ROOT)  # noqa: ASYNC220
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await asyncio_wait_ready(channel)
            stub = file_pb2_grpc.FileServiceStub(channel)
            small = F.UploadFileMetadata(mime_type="text/plain", purpose=F.FILE_PURPOSE_MEDIA)
            warm = await stub.UploadFile(upload_messages(small, iter([b"warm-up"])))  # lazy imports
            async for _ in stub.DownloadFile(F.DownloadFileRequest(name=warm.name)):
                pass
            baseline = _peak_rss_mb(process.pid)
            size, piece = 200 * 1024 * 1024, 1024 * 1024
            block = hashlib.sha256(b"seed").digest() * (piece // 32)
            sent = hashlib.sha256()

            def pieces() -> Iterator[bytes]:
                for i in range(size // piece):
                    chunk = i.to_bytes(4, "big") + block[4:]
                    sent.update(chunk)
                    yield chunk

            meta = F.UploadFileMetadata(
                mime_type="application/octet-stream",
                purpose=F.FILE_PURPOSE_MEDIA,
                expected_size_bytes=size,
            )
            stored = await stub.UploadFile(upload_messages(meta, pieces()), timeout=600)
            assert stored.size_bytes == size and stored.sha256 == sent.digest()
            after_upload = _peak_rss_mb(process.pid) - baseline
            received = hashlib.sha256()
            total = 0
            async for message in stub.DownloadFile(
                F.DownloadFileRequest(name=stored.name), timeout=600
            ):
                received.update(message.chunk)
                total += len(message.chunk)
            assert total == size and received.digest() == sent.digest()
            growth = _peak_rss_mb(process.pid) - baseline
            print(f"peak RSS growth: upload {after_upload:.0f} MB, both {growth:.0f} MB")
            assert growth < 64, f"peak RSS grew {growth:.0f} MB moving a 200 MB file"
    finally:
        process.terminate()
        process.wait(timeout=30)


async def asyncio_wait_ready(channel: grpc.aio.Channel) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            await channel.channel_ready()
            return
        except grpc.aio.AioRpcError:
            if time.monotonic() > deadline:
                raise
