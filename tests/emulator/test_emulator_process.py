"""The emulator as a process: CLI, port file, signals, and the synchronous admin client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from emulator.admin import EmulatorAdmin
from emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parents[2]
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
BODY = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
GATEWAY_UA = "vertex-gateway/0.1 (test)"


def model_url(base_url: str, method: str = "generateContent", *, express: bool = False) -> str:
    prefix = "" if express else "projects/p/locations/global/"
    return f"{base_url}/v1/{prefix}publishers/google/models/gemini-2.5-flash:{method}"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    with EmulatorProcess(["--api-key", "k1"], env={"VERTEX_EMULATOR_API_KEYS": "k2, k3"}) as emu:
        yield emu


@pytest.fixture
def admin(emulator: EmulatorProcess) -> Iterator[EmulatorAdmin]:
    client = EmulatorAdmin(emulator.base_url)
    client.reset()
    yield client
    client.close()


def test_cli_prints_one_line_writes_port_file_and_stops_on_sigterm(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", "--port-file", str(port_file)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        port = int(port_file.read_text().strip())
        assert line == f"vertex emulator listening on http://127.0.0.1:{port}\n"
        assert requests.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=5).json() == {
            "status": "ok"
        }
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        assert process.stdout.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sigint_also_stops_cleanly() -> None:
    emu = EmulatorProcess().start()
    try:
        assert emu._process is not None
        emu._process.send_signal(signal.SIGINT)
        assert emu._process.wait(10) == 0
    finally:
        emu.stop()


def test_process_context_manager(emulator: EmulatorProcess) -> None:
    assert emulator.base_url.startswith("http://127.0.0.1:")
    assert emulator.returncode is None


def test_api_keys_from_flag_and_environment(
    emulator: EmulatorProcess, admin: EmulatorAdmin
) -> None:
    for key in ("k1", "k2", "k3"):
        response = requests.post(
            model_url(emulator.base_url, express=True),
            json=BODY,
            headers={"x-goog-api-key": key},
            timeout=10,
        )
        assert response.status_code == 200, key
    response = requests.post(model_url(emulator.base_url), json=BODY, timeout=10)
    assert response.status_code == 401


def test_admin_client_round_trip(emulator: EmulatorProcess, admin: EmulatorAdmin) -> None:
    key = admin.create_service_account(project_id="proj-x")
    assert key["project_id"] == "proj-x" and key["token_uri"] == f"{emulator.base_url}/token"
    creds = service_account.Credentials.from_service_account_info(key, scopes=SCOPES)
    creds.refresh(Request())
    headers = {"Authorization": f"Bearer {creds.token}", "User-Agent": GATEWAY_UA}

    assert (
        requests.post(
            model_url(emulator.base_url), json=BODY, headers=headers, timeout=10
        ).status_code
        == 200
    )
    assert admin.stats() == {
        "token_requests": 1,
        "tokens_issued": 1,
        "vertex_requests": 1,
        "in_flight": 0,
        "max_in_flight": 1,
    }
    paths = [r["path"] for r in admin.requests()]
    assert paths == [
        "/token",
        "/v1/projects/p/locations/global/publishers/google/models/gemini-2.5-flash:generateContent",
    ]

    admin.arm_fault("429", times=1, path_contains="gemini-2.5-flash")
    assert (
        requests.post(
            model_url(emulator.base_url), json=BODY, headers=headers, timeout=10
        ).status_code
        == 429
    )
    assert admin.requests()[-1]["fault"] == "429"

    admin.clear_requests()
    assert admin.requests() == []

    config = admin.set_config(reject_function_call_id=False)
    assert config == {
        "token_ttl_seconds": 3600,
        "reject_function_call_id": False,
        "lenient_field_names": False,
        "batch_step_seconds": 0.2,
        "batch_lines_per_step": 1000,
        "veo_pending_fetches": 2,
        "tuning_step_seconds": 0.2,
    }

    admin.revoke_tokens()
    assert (
        requests.post(
            model_url(emulator.base_url), json=BODY, headers=headers, timeout=10
        ).status_code
        == 401
    )

    admin.reset()
    assert admin.stats() == {
        "token_requests": 0,
        "tokens_issued": 0,
        "vertex_requests": 0,
        "in_flight": 0,
        "max_in_flight": 0,
    }
    assert admin.set_config()["reject_function_call_id"] is True


def test_set_config_rejects_bad_settings(admin: EmulatorAdmin) -> None:
    with pytest.raises(requests.HTTPError):
        admin.set_config(token_ttl_seconds="soon")
    with pytest.raises(requests.HTTPError):
        admin.set_config(no_such_setting=True)


def test_audit_counts_gateway_bodies_across_resets(
    emulator: EmulatorProcess, admin: EmulatorAdmin
) -> None:
    before = admin.audit(user_agent_prefix=GATEWAY_UA)
    headers = {"x-goog-api-key": "k1", "User-Agent": GATEWAY_UA}
    url = model_url(emulator.base_url, express=True)
    requests.post(url, json=BODY, headers=headers, timeout=10)
    requests.post(url, json={"contents": [], "bogus": 1}, headers=headers, timeout=10)
    requests.post(
        url, json=BODY, headers={"x-goog-api-key": "k1", "User-Agent": "someone-else"}, timeout=10
    )
    admin.reset()
    admin.clear_requests()
    after = admin.audit(user_agent_prefix=GATEWAY_UA)
    assert after["checked"] == before["checked"] + 2
    new = after["violations"][len(before["violations"]) :]
    assert len(new) == 1
    assert new[0]["path"] == "/v1/publishers/google/models/gemini-2.5-flash:generateContent"
    assert 'Unknown name "bogus"' in new[0]["schema_errors"][0]


def test_anonymous_and_lenient_flags() -> None:
    with EmulatorProcess(["--allow-anonymous", "--lenient-field-names"]) as emu:
        admin = EmulatorAdmin(emu.base_url)
        body = {
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "generation_config": {"temperature": 0.5},
        }
        assert requests.post(model_url(emu.base_url), json=body, timeout=10).status_code == 200
        assert (
            requests.post(model_url(emu.base_url, express=True), json=body, timeout=10).status_code
            == 200
        )
        bad_key = requests.post(
            model_url(emu.base_url), json=body, headers={"x-goog-api-key": "nope"}, timeout=10
        )
        assert bad_key.status_code == 400
        admin.reset()
        assert admin.set_config()["lenient_field_names"] is True
        admin.close()


def test_process_start_fails_cleanly_on_bad_arguments() -> None:
    # "exited during start-up", not the start-up timeout: the failure is noticed when the
    # process exits, without waiting out the timeout (which would say so instead).
    emu = EmulatorProcess(["--port-file-ignored"], startup_timeout=60)
    with pytest.raises(RuntimeError, match="exited during start-up"):
        emu.start()
    assert emu.returncode is None
