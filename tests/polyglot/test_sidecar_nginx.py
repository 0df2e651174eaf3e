"""Debian's nginx in front of the gateway (`grpc_pass` over cleartext HTTP/2), as a sidecar
would be: unary replies, stream chunks, deadlines and rich error details arrive unchanged,
compared byte for byte with the same calls made directly.

nginx runs from a private directory with a generated configuration (the one docs/sidecar.md
explains); started as root, its worker drops to `nobody` as in production.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from vertex_gateway.v1 import chat_pb2, chat_pb2_grpc, common_pb2

from .polyglot_gateway import RunningGateway, running_gateway

NGINX_START_SECONDS = 10.0
# Large enough for the gateway's default 64 MiB messages (server.max_message_bytes).
MAX_BODY = "64m"
DETAILS_KEY = "grpc-status-details-bin"
UNARY_PATH, STREAM_PATH = ":generateContent", ":streamGenerateContent"


def nginx_binary() -> str:
    """nginx from PATH or /usr/sbin; installs Debian's nginx-light (as `make bench-tools`
    does) when it is missing, and insists on the HTTP/2 and gRPC modules."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        if shutil.which("apt-get") is None or (sudo and shutil.which("sudo") is None):
            pytest.skip("nginx is missing and there is no apt-get (or sudo) to install it")
        for args in (["update", "-q"], ["install", "-y", "-q", "nginx-light"]):
            subprocess.run([*sudo, "apt-get", *args], check=True, timeout=600)
        found = "/usr/sbin/nginx"
    built = subprocess.run([found, "-V"], capture_output=True, text=True, check=True).stderr
    assert "--with-http_v2_module" in built, built
    assert "--without-http_grpc_module" not in built, built
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nginx_conf(root: Path, listen_port: int, upstream: str) -> str:
    """A gRPC sidecar: h2c in, h2c to the gateway; the settings docs/sidecar.md discusses."""
    return f"""
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log notice;
events {{ worker_connections 1024; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    # File uploads and inline media: nginx's 1 MiB default would refuse them with 413.
    client_max_body_size {MAX_BODY};
    # A client streaming an upload may pause; nginx's default drops it after 60 s.
    client_body_timeout 1h;
    http2_max_concurrent_streams 1000;
    keepalive_timeout 1h;
    upstream gateway {{
        server {upstream};
        # nginx carries one call per upstream connection: keep a pool of them warm.
        keepalive 64;
        keepalive_timeout 1h;
    }}
    server {{
        listen 127.0.0.1:{listen_port} http2;
        location / {{
            grpc_pass grpc://gateway;
            # Time between two reads/writes, not per call: a stream may be silent while a
            # model thinks; the caller's deadline (grpc-timeout, passed through) bounds it.
            grpc_read_timeout 1h;
            grpc_send_timeout 1h;
            grpc_socket_keepalive on;
        }}
    }}
}}
"""


class NginxSidecar:
    """nginx proxying gRPC to `upstream`, from a private directory; stopped with SIGQUIT."""

    def __init__(self, binary: str, upstream: str) -> None:
        self.binary = binary
        self.upstream = upstream
        self.root = Path(tempfile.mkdtemp(prefix="vg-nginx-"))
        # Readable by the `nobody` worker nginx switches to when started as root.
        self.root.chmod(0o755)
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> NginxSidecar:
        for _ in range(3):  # another process may take the free port before nginx binds it
            self.port = free_port()
            conf = self.root / "nginx.conf"
            conf.write_text(nginx_conf(self.root, self.port, self.upstream))
            # Before it reads error_log from the configuration, nginx reports on stderr.
            with (self.root / "stderr.log").open("wb") as stderr:
                self.process = subprocess.Popen(
                    [self.binary, "-p", str(self.root), "-c", str(conf)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                )
            if self._wait_serving():
                return self
            if "Address already in use" not in self.log():
                break
        raise RuntimeError(f"nginx did not start:\n{self.log()}")

    def _wait_serving(self) -> bool:
        """True once a health check through nginx says SERVING; False if nginx exited."""
        assert self.process is not None
        deadline = time.monotonic() + NGINX_START_SECONDS
        # Poll the port itself first: a gRPC channel refused once backs off for a second.
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.02)
        else:
            raise RuntimeError(f"nginx did not listen in {NGINX_START_SECONDS} s:\n{self.log()}")
        with grpc.insecure_channel(self.target) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(),
                timeout=max(deadline - time.monotonic(), 1),
                wait_for_ready=True,
            )
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            raise RuntimeError(f"the gateway behind nginx is not serving:\n{self.log()}")
        return True

    def log(self) -> str:
        """What nginx reported: start-up complaints, then its error log."""
        paths = (self.root / "stderr.log", self.root / "error.log")
        return "".join(p.read_text(errors="replace") for p in paths if p.exists())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish in-flight calls
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def live_gateway() -> Iterator[RunningGateway]:
    with running_gateway() as gateway:
        yield gateway


@pytest.fixture(scope="module")
def sidecar(live_gateway: RunningGateway) -> Iterator[NginxSidecar]:
    nginx = NginxSidecar(nginx_binary(), live_gateway.target)
    try:
        yield nginx.start()
    finally:
        nginx.stop()


@pytest.fixture(autouse=True)
def _no_faults(live_gateway: RunningGateway) -> None:
    live_gateway.admin.reset()


@pytest.fixture(scope="module")
def direct(live_gateway: RunningGateway) -> Iterator[chat_pb2_grpc.ChatServiceStub]:
    with grpc.insecure_channel(live_gateway.target) as channel:
        yield chat_pb2_grpc.ChatServiceStub(channel)


@pytest.fixture(scope="module")
def proxied(sidecar: NginxSidecar) -> Iterator[chat_pb2_grpc.ChatServiceStub]:
    with grpc.insecure_channel(sidecar.target) as channel:
        yield chat_pb2_grpc.ChatServiceStub(channel)


def ask(text: str, model: str = "gemini-2.5-flash") -> chat_pb2.ChatRequest:
    message = chat_pb2.Message(role=chat_pb2.ROLE_USER, parts=[chat_pb2.Part(text=text)])
    return chat_pb2.ChatRequest(model=model, messages=[message])


def failure(
    stub: chat_pb2_grpc.ChatServiceStub,
    request: chat_pb2.ChatRequest,
    *,
    streaming: bool = False,
    timeout: float = 10,
) -> tuple[list[chat_pb2.StreamChatResponse], grpc.RpcError]:
    """A call that must fail: the chunks a stream sent first, and the error."""
    received: list[chat_pb2.StreamChatResponse] = []
    with pytest.raises(grpc.RpcError) as info:
        if streaming:
            received.extend(stub.StreamChat(request, timeout=timeout))
        else:
            stub.Chat(request, timeout=timeout)
    return received, info.value


def status_details(err: grpc.RpcError) -> bytes:
    """The serialized google.rpc.Status in the trailers (the gateway always sends one)."""
    found = [m.value for m in err.trailing_metadata() or () if m.key == DETAILS_KEY]
    assert len(found) == 1, err.trailing_metadata()
    assert isinstance(found[0], bytes)
    return found[0]


def unpack(details: bytes) -> dict[str, Any]:
    """A serialized google.rpc.Status: its code and its details keyed by message name."""
    status = status_pb2.Status.FromString(details)
    out: dict[str, Any] = {"code": status.code}
    for any_detail in status.details:
        for kind in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.BadRequest,
            error_details_pb2.RetryInfo,
        ):
            if any_detail.Is(kind.DESCRIPTOR):
                out[kind.DESCRIPTOR.name] = kind()
                any_detail.Unpack(out[kind.DESCRIPTOR.name])
    return out


def test_unary_chat_is_unchanged(
    direct: chat_pb2_grpc.ChatServiceStub, proxied: chat_pb2_grpc.ChatServiceStub
) -> None:
    through = proxied.Chat(ask("What is a sidecar?"), timeout=10)
    straight = direct.Chat(ask("What is a sidecar?"), timeout=10)
    assert through.candidates[0].finish_reason == common_pb2.FINISH_REASON_STOP
    assert through.usage.total_tokens > 0
    # Two identical calls differ only in when they were made.
    through.ClearField("create_time")
    straight.ClearField("create_time")
    assert through == straight


def test_large_request_within_the_body_limit(
    direct: chat_pb2_grpc.ChatServiceStub, proxied: chat_pb2_grpc.ChatServiceStub
) -> None:
    """A 3 MiB request passes nginx (client_max_body_size), not only 1 MiB ones."""
    text = "tide " * (700 * 1024)
    request = chat_pb2.CountTokensRequest(model="gemini-2.5-flash", messages=ask(text).messages)
    assert request.ByteSize() > 3 * 1024 * 1024
    through = proxied.CountTokens(request, timeout=10)
    assert through.total_tokens >= 700 * 1024
    assert through == direct.CountTokens(request, timeout=10)


def test_stream_chunks_arrive_in_order_unchanged(
    direct: chat_pb2_grpc.ChatServiceStub, proxied: chat_pb2_grpc.ChatServiceStub
) -> None:
    request = ask("Tell me about the tides")
    through = list(proxied.StreamChat(request, timeout=10))
    straight = list(direct.StreamChat(request, timeout=10))
    assert len(through) >= 3
    assert through == straight
    text = "".join(p.text for c in through for p in c.candidates[0].message.parts)
    assert text == direct.Chat(request, timeout=10).candidates[0].message.parts[0].text
    assert through[-1].candidates[0].finish_reason == common_pb2.FINISH_REASON_STOP
    assert through[-1].HasField("usage")


@pytest.mark.parametrize("streaming", [False, True], ids=["unary", "stream"])
def test_short_deadline_on_a_slow_upstream_is_deadline_exceeded(
    live_gateway: RunningGateway, proxied: chat_pb2_grpc.ChatServiceStub, streaming: bool
) -> None:
    """Vertex's first byte comes after 5 s; the caller's 0.5 s deadline ends the call, not
    nginx's read timeout, and the connection through nginx stays usable."""
    live_gateway.admin.arm_fault(
        "slow:5000", path_contains=STREAM_PATH if streaming else UNARY_PATH
    )
    received, err = failure(proxied, ask("Take your time"), streaming=streaming, timeout=0.5)
    assert received == []
    assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    reply = proxied.Chat(ask("And now?"), timeout=10)
    assert reply.candidates[0].finish_reason == common_pb2.FINISH_REASON_STOP


def test_deadline_reaches_the_gateway_through_nginx(
    live_gateway: RunningGateway,
    direct: chat_pb2_grpc.ChatServiceStub,
    proxied: chat_pb2_grpc.ChatServiceStub,
) -> None:
    """nginx forwards grpc-timeout: after a 429, Vertex asks for 2 s before a retry; the
    gateway sees only 1.5 s left and answers at once with RetryInfo. Had the deadline been
    dropped, the gateway would wait to retry and the caller would get DEADLINE_EXCEEDED."""
    errors = []
    for stub in (proxied, direct):
        live_gateway.admin.arm_fault("429", times=3, path_contains=UNARY_PATH)
        _, err = failure(stub, ask("Busy?"), timeout=1.5)
        errors.append(err)
        live_gateway.admin.clear_faults()
    through, straight = errors
    assert through.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    details = unpack(status_details(through))
    assert details["ErrorInfo"].metadata["attempts"] == "1"
    assert details["RetryInfo"].retry_delay.seconds == 2
    assert status_details(through) == status_details(straight)


class ErrorCase(NamedTuple):
    """A failing call: the emulator fault armed first (if any), and what the caller must see."""

    fault: str | None
    streaming: bool
    request: chat_pb2.ChatRequest
    reason: str
    code: grpc.StatusCode


NO_MESSAGES = chat_pb2.ChatRequest(model="gemini-2.5-flash")
C = grpc.StatusCode
CASES = {
    "unknown-model": ErrorCase(None, False, ask("hi", "nope-1"), "MODEL_NOT_FOUND", C.NOT_FOUND),
    "bad-request": ErrorCase(None, False, NO_MESSAGES, "INVALID_REQUEST", C.INVALID_ARGUMENT),
    "bad-request-stream": ErrorCase(None, True, NO_MESSAGES, "INVALID_REQUEST", C.INVALID_ARGUMENT),
    "upstream-400": ErrorCase(
        "400", False, ask("hi"), "UPSTREAM_INVALID_ARGUMENT", C.INVALID_ARGUMENT
    ),
    "error-mid-stream": ErrorCase(
        "stream-error", True, ask("Tell me a story"), "UPSTREAM_RATE_LIMITED", C.RESOURCE_EXHAUSTED
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_error_details_pass_through_unchanged(
    live_gateway: RunningGateway,
    direct: chat_pb2_grpc.ChatServiceStub,
    proxied: chat_pb2_grpc.ChatServiceStub,
    case: str,
) -> None:
    """Code, message and the grpc-status-details-bin trailer are the gateway's, byte for byte,
    whether the gateway failed at once (Trailers-Only) or after sending chunks."""
    fault, streaming, request, reason, code = CASES[case]
    outcomes = []
    for stub in (proxied, direct):
        if fault:
            path = STREAM_PATH if streaming else UNARY_PATH
            live_gateway.admin.arm_fault(fault, path_contains=path)
        outcomes.append(failure(stub, request, streaming=streaming))
    (through_chunks, through), (straight_chunks, straight) = outcomes
    assert through.code() == straight.code() == code
    assert through.details() == straight.details()
    assert status_details(through) == status_details(straight)
    assert through_chunks == straight_chunks
    details = unpack(status_details(through))
    assert details["code"] == code.value[0]
    assert (details["ErrorInfo"].domain, details["ErrorInfo"].reason) == ("vertex-gateway", reason)
    if case.startswith("bad-request"):
        assert [v.field for v in details["BadRequest"].field_violations] == ["messages"]
    if case == "error-mid-stream":
        assert through_chunks and through_chunks[0].candidates  # chunks came before the error
