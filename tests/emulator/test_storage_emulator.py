"""The Cloud Storage emulator process, the emulator's GCS client, and ``--storage-url``."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from emulator import gcs as gcs_module
from emulator.cli import options_from_args
from emulator.config import RuntimeConfig
from emulator.gcs import GcsClient, GcsNotFound, GcsUri
from emulator.process import EmulatorProcess
from emulator.storage_process import DEFAULT_BUCKET, StorageEmulatorProcess


def test_gs_uris_parse() -> None:
    assert GcsUri.parse("gs://my-bucket/a/b.jsonl") == GcsUri("my-bucket", "a/b.jsonl")
    assert str(GcsUri.parse("gs://my-bucket", require_object=False)) == "gs://my-bucket/"
    assert GcsUri("b1", "out/").child("x.jsonl") == GcsUri("b1", "out/x.jsonl")
    for bad in ("s3://b/o", "gs://B/o", "gs://b", "gs:///o", "/tmp/x"):
        with pytest.raises(ValueError):
            GcsUri.parse(bad)


async def test_write_read_list_and_stream(storage: StorageEmulatorProcess) -> None:
    folder = f"gcs-tests/{uuid.uuid4().hex}"
    lines = [json.dumps({"n": i}) for i in range(1000)]
    data = ("\n".join(lines) + "\n").encode()
    async with GcsClient(storage.base_url) as gcs:
        uri = GcsUri(DEFAULT_BUCKET, f"{folder}/in put.jsonl")
        written = await gcs.write_object(uri, data)
        assert written["size"] == str(len(data))
        assert written["contentType"] == "application/octet-stream"
        assert await gcs.read_object(uri) == data
        assert (await gcs.object_metadata(uri))["name"] == uri.name
        streamed = b"".join([chunk async for chunk in gcs.stream_object(uri, chunk_size=1000)])
        assert streamed == data
        assert [line.decode() async for line in gcs.iter_lines(uri)] == lines
        await gcs.write_object(GcsUri(DEFAULT_BUCKET, f"{folder}/empty.jsonl"), b"")
        names = [item["name"] for item in await gcs.list_objects(DEFAULT_BUCKET, folder + "/")]
        assert sorted(names) == [f"{folder}/empty.jsonl", f"{folder}/in put.jsonl"]
        matched = await gcs.expand(GcsUri(DEFAULT_BUCKET, f"{folder}/in*"))
        assert matched == [uri]
        with pytest.raises(GcsNotFound):
            await gcs.read_object(GcsUri(DEFAULT_BUCKET, f"{folder}/missing"))
        with pytest.raises(GcsNotFound):
            await gcs.list_objects("no-such-bucket-anywhere")


async def test_large_uploads_go_in_chunks(
    storage: StorageEmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gcs_module, "UPLOAD_CHUNK_BYTES", 256 * 1024)
    data = bytes(range(256)) * 3000  # 768,000 bytes: three full chunks and a short one
    uri = GcsUri(DEFAULT_BUCKET, f"gcs-tests/{uuid.uuid4().hex}/big.bin")
    async with GcsClient(storage.base_url) as gcs:
        await gcs.write_object(uri, data)
        assert await gcs.read_object(uri) == data


def test_extra_buckets(storage: StorageEmulatorProcess) -> None:
    name = f"extra-{uuid.uuid4().hex[:12]}"
    assert storage.create_bucket(name)["name"] == name
    assert storage.create_bucket(name)["name"] == name  # exist_ok
    with pytest.raises(RuntimeError):
        storage.create_bucket(name, exist_ok=False)


def test_a_process_without_default_bucket_stops_cleanly() -> None:
    with StorageEmulatorProcess(default_bucket=None) as process:
        url = process.base_url
        assert requests.get(f"{url}/storage/v1/b/{DEFAULT_BUCKET}/o", timeout=5).status_code == 404
        running = process
    assert running.port is None and running.returncode is None
    with pytest.raises(RuntimeError):
        _ = running.base_url


def test_storage_url_option_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    assert options_from_args([]).storage_url is None
    assert options_from_args(["--storage-url", "http://h:1/"]).storage_url == "http://h:1"
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "localhost:9023")
    assert options_from_args([]).storage_url == "http://localhost:9023"
    assert options_from_args(["--storage-url", "http://x:2"]).storage_url == "http://x:2"


def test_emulator_process_runs_a_batch_job(storage: StorageEmulatorProcess) -> None:
    folder = f"gcs-tests/{uuid.uuid4().hex}"
    line = {"request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}}
    requests.post(
        f"{storage.base_url}/upload/storage/v1/b/{DEFAULT_BUCKET}/o",
        params={"uploadType": "media", "name": f"{folder}/in.jsonl"},
        data=json.dumps(line).encode(),
        headers={"Content-Type": "application/octet-stream"},
        timeout=5,
    ).raise_for_status()
    body = {
        "displayName": "process",
        "model": "publishers/google/models/gemini-2.5-flash",
        "inputConfig": {
            "instancesFormat": "jsonl",
            "gcsSource": {"uris": [f"gs://{DEFAULT_BUCKET}/{folder}/in.jsonl"]},
        },
        "outputConfig": {
            "predictionsFormat": "jsonl",
            "gcsDestination": {"outputUriPrefix": f"gs://{DEFAULT_BUCKET}/{folder}/out"},
        },
    }
    with EmulatorProcess(["--allow-anonymous"], storage_url=storage.base_url) as emu:
        requests.post(
            f"{emu.base_url}/_emulator/config", json={"batch_step_seconds": 0.01}, timeout=5
        ).raise_for_status()
        url = f"{emu.base_url}/v1/projects/p/locations/us-central1/batchPredictionJobs"
        created = requests.post(url, json=body, timeout=10).json()
        deadline = time.monotonic() + 10
        while True:
            job = requests.get(f"{emu.base_url}/v1/{created['name']}", timeout=5).json()
            if job["state"] == "JOB_STATE_SUCCEEDED":
                break
            assert time.monotonic() < deadline, job
            time.sleep(0.02)
    listing = requests.get(
        f"{storage.base_url}/storage/v1/b/{DEFAULT_BUCKET}/o",
        params={"prefix": f"{folder}/out/prediction-model-"},
        timeout=5,
    ).json()
    assert [item["name"].rsplit("/", 1)[1] for item in listing["items"]] == [
        "predictions_00001.jsonl"
    ]


def test_batch_pace_settings_are_checked() -> None:
    config = RuntimeConfig()
    config.update({"batch_step_seconds": 1, "batch_lines_per_step": 3})
    assert (config.batch_step_seconds, config.batch_lines_per_step) == (1.0, 3)
    assert isinstance(config.batch_step_seconds, float)
    for bad in (
        {"batch_step_seconds": -0.1},
        {"batch_step_seconds": True},
        {"batch_lines_per_step": 0},
        {"batch_lines_per_step": 2.5},
    ):
        with pytest.raises(ValueError):
            config.update(bad)
    assert (config.batch_step_seconds, config.batch_lines_per_step) == (1.0, 3)
