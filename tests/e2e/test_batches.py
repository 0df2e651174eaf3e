"""BatchService end to end: staging through the storage stand-in, the emulator's batch jobs,
typed results matched to the caller's ids."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import pytest
from vertex_gateway.v1 import (
    batch_pb2,
    batch_pb2_grpc,
    common_pb2,
    embedding_pb2,
    file_pb2,
    file_pb2_grpc,
)

from emulator.admin import EmulatorAdmin
from emulator.storage_process import StorageEmulatorProcess

from ..conftest import error_details
from .conftest import BUCKET, ask

B = batch_pb2
ENDED = {
    common_pb2.JOB_STATE_SUCCEEDED,
    common_pb2.JOB_STATE_PARTIALLY_SUCCEEDED,
    common_pb2.JOB_STATE_FAILED,
    common_pb2.JOB_STATE_CANCELLED,
}


@pytest.fixture
def batches(channel: grpc.aio.Channel) -> batch_pb2_grpc.BatchServiceStub:
    return batch_pb2_grpc.BatchServiceStub(channel)


@pytest.fixture(autouse=True)
def _fast_jobs(admin: EmulatorAdmin) -> None:
    admin.set_config(batch_step_seconds=0.05)


async def finished(stub: batch_pb2_grpc.BatchServiceStub, name: str) -> B.Batch:
    for _ in range(1200):
        batch = await stub.GetBatch(B.GetBatchRequest(name=name))
        if batch.state in ENDED:
            return batch
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} did not end")


async def results(
    stub: batch_pb2_grpc.BatchServiceStub, name: str, **kw: Any
) -> list[B.BatchResult]:
    out: list[B.BatchResult] = []
    async for message in stub.ListBatchResults(
        B.ListBatchResultsRequest(name=name, **kw), timeout=300
    ):
        out.extend(message.results)
    return out


def stored(storage: StorageEmulatorProcess) -> int:
    url = f"{storage.base_url}/storage/v1/b/{BUCKET}/o?prefix=gw/batches/"
    with urllib.request.urlopen(url) as resp:
        return len(json.loads(resp.read()).get("items") or [])


async def _upload_batch_input(channel: grpc.aio.Channel, lines: bytes) -> file_pb2.File:
    """Upload JSONL batch input through FileService in one chunk."""

    async def upload() -> AsyncIterator[file_pb2.UploadFileRequest]:
        yield file_pb2.UploadFileRequest(
            metadata=file_pb2.UploadFileMetadata(
                mime_type="application/jsonl", purpose=file_pb2.FILE_PURPOSE_BATCH_INPUT
            )
        )
        yield file_pb2.UploadFileRequest(chunk=lines)

    return await file_pb2_grpc.FileServiceStub(channel).UploadFile(upload())


async def test_10000_chat_requests_with_failures(
    batches: batch_pb2_grpc.BatchServiceStub, admin: EmulatorAdmin
) -> None:
    failing = {17, 4242, 9999}
    items = [
        B.BatchItem(
            id=f"row-{i}", chat=ask(f"Summarize item {i}" + (" [fail]" if i in failing else ""))
        )
        for i in range(10_000)
    ]
    batch = await batches.CreateBatch(
        B.CreateBatchRequest(
            model="gemini-2.5-flash",
            requests=items,
            display_name="nightly",
            labels={"team": "eval"},
        ),
        timeout=120,
    )
    assert batch.name.startswith("batches/") and batch.total_count == 10_000
    assert batch.labels == {"team": "eval"} and batch.model == "gemini-2.5-flash"
    done = await finished(batches, batch.name)
    assert done.state == common_pb2.JOB_STATE_PARTIALLY_SUCCEEDED
    assert (done.succeeded_count, done.failed_count) == (9_997, 3)
    got = await results(batches, batch.name)
    assert len(got) == 10_000
    by_id = {r.id: r for r in got}
    assert set(by_id) == {f"row-{i}" for i in range(10_000)}
    for i in failing:
        assert by_id[f"row-{i}"].WhichOneof("result") == "error"
        assert by_id[f"row-{i}"].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    ok = by_id["row-123"]
    assert ok.WhichOneof("result") == "chat" and ok.chat.candidates[0].message.parts[0].text
    assert ok.chat.served_by.vertex_model == "publishers/google/models/gemini-2.5-flash"
    # Paged reading gives the same results, each once.
    first = await results(batches, batch.name, page_size=4000)
    assert len(first) == 4000
    assert admin.audit()["violations"] == []


async def test_10000_embedding_requests(batches: batch_pb2_grpc.BatchServiceStub) -> None:
    items = [
        B.BatchItem(
            id=f"doc-{i}",
            embed=embedding_pb2.EmbedRequest(
                inputs=[
                    embedding_pb2.EmbedInput(
                        text=f"article {i % 9000}" + (" [fail]" if i == 5 else "")
                    )
                ]
            ),
        )
        for i in range(10_000)
    ]
    batch = await batches.CreateBatch(
        B.CreateBatchRequest(model="text-embedding-005", requests=items), timeout=120
    )
    done = await finished(batches, batch.name)
    assert done.failed_count == 1
    got = await results(batches, batch.name)
    assert len(got) == 10_000 and len({r.id for r in got}) == 10_000
    by_id = {r.id: r for r in got}
    assert by_id["doc-5"].WhichOneof("result") == "error"
    assert len(by_id["doc-7"].embed.embeddings[0].values) == 768
    # Identical texts get identical vectors wherever Vertex wrote them.
    assert list(by_id["doc-9001"].embed.embeddings[0].values) == list(
        by_id["doc-1"].embed.embeddings[0].values
    )


async def test_cancel_and_its_preconditions(
    batches: batch_pb2_grpc.BatchServiceStub, admin: EmulatorAdmin
) -> None:
    admin.set_config(batch_step_seconds=0.5)
    items = [B.BatchItem(id=f"q{i}", chat=ask(f"question {i}")) for i in range(3000)]
    batch = await batches.CreateBatch(
        B.CreateBatchRequest(model="gemini-2.5-flash", requests=items)
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await results(batches, batch.name)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    cancelled = await batches.CancelBatch(B.CancelBatchRequest(name=batch.name))
    assert cancelled.state in (common_pb2.JOB_STATE_CANCELLING, common_pb2.JOB_STATE_CANCELLED)
    again = await batches.CancelBatch(B.CancelBatchRequest(name=batch.name))  # idempotent
    assert again.name == batch.name
    done = await finished(batches, batch.name)
    assert done.state == common_pb2.JOB_STATE_CANCELLED
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await batches.CancelBatch(B.CancelBatchRequest(name=batch.name))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    got = await results(batches, batch.name)
    assert len(got) == 3000  # every id once: unanswered ones carry CANCELLED
    assert any(r.error.code == grpc.StatusCode.CANCELLED.value[0] for r in got)


async def test_list_pages_and_idempotency(batches: batch_pb2_grpc.BatchServiceStub) -> None:
    names = []
    for i in range(3):
        b = await batches.CreateBatch(
            B.CreateBatchRequest(
                model="gemini-2.5-flash", requests=[B.BatchItem(id="a", chat=ask(f"x{i}"))]
            )
        )
        names.append(b.name)
    seen: list[str] = []
    token = ""
    while True:
        page = await batches.ListBatches(B.ListBatchesRequest(page_size=2, page_token=token))
        assert len(page.batches) <= 2
        seen += [b.name for b in page.batches]
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)) and set(names) <= set(seen)
    request = B.CreateBatchRequest(
        model="gemini-2.5-flash", requests=[B.BatchItem(id="a", chat=ask("once"))],
        request_id="6f1c2b9e-3f7a-4c7e-9a51-0c1d2e3f4a5b",
    )  # fmt: skip
    first = await batches.CreateBatch(request)
    assert (await batches.CreateBatch(request)).name == first.name


async def test_invalid_batches_are_refused_before_any_upload(
    batches: batch_pb2_grpc.BatchServiceStub, admin: EmulatorAdmin, storage: StorageEmulatorProcess
) -> None:
    before = stored(storage)
    admin.clear_requests()
    items = [B.BatchItem(id=f"r{i}", chat=ask("hello")) for i in range(5)]
    items[3].chat.generation_config.temperature = -1
    items.append(B.BatchItem(id="r0", chat=ask("dup")))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await batches.CreateBatch(B.CreateBatchRequest(model="gemini-2.5-flash", requests=items))
    d = error_details(info.value)
    assert d.code == grpc.StatusCode.INVALID_ARGUMENT
    fields = [v.field for v in d.bad_request.field_violations] if d.bad_request else []
    assert any(f.startswith("requests[3].chat.generation_config") for f in fields), fields
    assert "requests[5].id" in fields
    assert stored(storage) == before
    assert not [r for r in admin.requests() if "batchPredictionJobs" in r["path"]]
    for request, needle in (
        (B.CreateBatchRequest(model="gemini-2.5-flash"), "requests"),
        (B.CreateBatchRequest(model="imagen-4.0-generate-001", requests=items[:1]), "batch"),
        (B.CreateBatchRequest(model="text-embedding-005", requests=items[:1]), "requests[0]"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await batches.CreateBatch(request)
        d = error_details(info.value)
        assert d.code == grpc.StatusCode.INVALID_ARGUMENT and needle in d.message, d.message
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await batches.GetBatch(B.GetBatchRequest(name="batches/us-central1-999999"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_batch_from_an_uploaded_file(
    batches: batch_pb2_grpc.BatchServiceStub, channel: grpc.aio.Channel
) -> None:
    from google.protobuf import json_format

    lines = b"".join(
        json_format.MessageToJson(
            B.BatchItem(id=f"f{i}", chat=ask(f"line {i}")), indent=None
        ).encode()
        + b"\n"
        for i in range(50)
    )

    stored_file = await _upload_batch_input(channel, lines)
    batch = await batches.CreateBatch(
        B.CreateBatchRequest(model="gemini-2.5-flash", input_file=stored_file.name)
    )
    assert batch.input_file == stored_file.name and batch.total_count == 50
    await finished(batches, batch.name)
    assert {r.id for r in await results(batches, batch.name)} == {f"f{i}" for i in range(50)}


async def test_claude_batch(batches: batch_pb2_grpc.BatchServiceStub, admin: EmulatorAdmin) -> None:
    items = [B.BatchItem(id=f"c{i}", chat=ask(f"hi {i}", model="")) for i in range(20)]
    batch = await batches.CreateBatch(
        B.CreateBatchRequest(model="anthropic/claude-sonnet-4-5@20250929", requests=items)
    )
    assert batch.name.startswith("batches/us-east5-")
    await finished(batches, batch.name)
    got = {r.id: r for r in await results(batches, batch.name)}
    assert set(got) == {f"c{i}" for i in range(20)}
    assert all(r.WhichOneof("result") == "chat" for r in got.values())
    created = [
        r
        for r in admin.requests()
        if r["path"].endswith("/batchPredictionJobs") and r["method"] == "POST"
    ]
    assert created[-1]["body"]["model"] == "publishers/anthropic/models/claude-sonnet-4-5@20250929"


async def test_an_input_file_over_the_limit_is_refused_before_it_is_read(
    emulator: Any, service_account: dict[str, Any]
) -> None:
    """storage.max_batch_input_bytes keeps a worker from reading a huge file into memory."""
    from google.protobuf import json_format

    from server.app import create_gateway
    from server.config import load_config

    from .conftest import gateway_env

    gw = await create_gateway(
        load_config(env=gateway_env(emulator, service_account, VG_MAX_BATCH_INPUT_BYTES="1000"))
    )
    await gw.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel:
            lines = b"".join(
                json_format.MessageToJson(B.BatchItem(id=f"f{i}", chat=ask("x")), indent=None)
                .encode() + b"\n"
                for i in range(20)
            )  # fmt: skip

            stored = await _upload_batch_input(channel, lines)
            assert stored.size_bytes > 1000
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await batch_pb2_grpc.BatchServiceStub(channel).CreateBatch(
                    B.CreateBatchRequest(model="gemini-2.5-flash", input_file=stored.name)
                )
            details = error_details(caught.value)
            assert details.code == grpc.StatusCode.INVALID_ARGUMENT
            assert details.bad_request is not None
            assert details.bad_request.field_violations[0].field == "input_file"
    finally:
        await gw.shutdown()
