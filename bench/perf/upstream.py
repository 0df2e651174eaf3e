"""The zero-cost fake Vertex: Debian's nginx answering with canned Vertex JSON and SSE bodies.

nginx serves every request from memory (`return 200 '...'`), so the upstream never limits the
figures. It listens on two ports: HTTP/1.1 for the gateway and LiteLLM (both use HTTP/1.1
pools), and h2c for h2load's "direct upstream" baseline.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

STREAM_CHUNKS = 100
MODEL = "gemini-2.5-flash"


def unary_body() -> dict[str, object]:
    """A typical short Gemini reply."""
    return {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"text": "The moon is about 384,400 km from Earth."}],
                },
                "finishReason": "STOP",
                "avgLogprobs": -0.12,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 9,
            "candidatesTokenCount": 12,
            "totalTokenCount": 21,
            "trafficType": "ON_DEMAND",
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}],
            "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 12}],
        },
        "modelVersion": MODEL,
        "createTime": "2026-11-21T10:00:00.000000Z",
        "responseId": "bench-unary-1",
    }


def stream_body(chunks: int = STREAM_CHUNKS) -> str:
    """An SSE stream of `chunks` events, the last with the finish reason and usage."""
    lines = []
    for i in range(chunks):
        event: dict[str, object] = {
            "candidates": [{"content": {"role": "model", "parts": [{"text": f"chunk {i:03d} "}]}}],
            "usageMetadata": {"trafficType": "ON_DEMAND"},
            "modelVersion": MODEL,
            "createTime": "2026-11-21T10:00:00.000000Z",
            "responseId": "bench-stream-1",
        }
        if i == chunks - 1:
            event["candidates"][0]["finishReason"] = "STOP"  # type: ignore[index]
            event["usageMetadata"] = {
                "promptTokenCount": 9,
                "candidatesTokenCount": chunks * 3,
                "totalTokenCount": 9 + chunks * 3,
                "trafficType": "ON_DEMAND",
            }
        lines.append("data: " + json.dumps(event, separators=(",", ":")) + "\n\n")
    return "".join(lines)


EMBED_TEXTS = 250
EMBED_DIMS = 768


def predict_body(count: int = EMBED_TEXTS, dims: int = EMBED_DIMS) -> dict[str, object]:
    """A text-embedding-005 `:predict` reply: `count` vectors of `dims` values."""
    vector = [round(((i * 7919) % 2000 - 1000) / 31622.0, 6) for i in range(dims)]
    return {
        "predictions": [
            {"embeddings": {"values": vector, "statistics": {"token_count": 6, "truncated": False}}}
            for _ in range(count)
        ],
        "metadata": {"billableCharacterCount": 30 * count},
    }


TOKEN_BODY = {"access_token": "bench-token", "expires_in": 3600, "token_type": "Bearer"}


def nginx_conf(root: Path, http1_port: int, h2_port: int) -> str:
    """The configuration: canned answers by method suffix, whatever the path prefix.

    Bodies are files (nginx's config tokens are too short for a 100-event stream); nginx's
    static module refuses POST, so each location answers 405 and `error_page` turns that into
    an internal GET of the canned file with status 200.
    """
    canned = root / "canned"
    canned.mkdir(parents=True, exist_ok=True)
    (canned / "token.json").write_text(json.dumps(TOKEN_BODY))
    (canned / "unary.json").write_text(json.dumps(unary_body(), separators=(",", ":")))
    (canned / "stream.sse").write_text(stream_body())
    (canned / "predict.json").write_text(json.dumps(predict_body(), separators=(",", ":")))

    def answer(file: str) -> str:
        return f"error_page 405 =200 /canned/{file}; return 405;"

    # nginx's worker drops to an unprivileged user when started as root; keep it able to read
    # the canned files in this private directory.
    user = "user root root;" if os.geteuid() == 0 else ""
    return f"""
{user}
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 8192; multi_accept on; }}
http {{
    access_log off;
    client_body_buffer_size 1m;
    client_max_body_size 64m;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    http2_max_concurrent_streams 4096;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    types {{ application/json json; text/event-stream sse; }}
    server {{
        listen 127.0.0.1:{http1_port};
        listen 127.0.0.1:{h2_port} http2;
        location /canned/ {{ internal; root {root}; }}
        location = /token {{ {answer("token.json")} }}
        location ~ :generateContent$ {{ {answer("unary.json")} }}
        location ~ :streamGenerateContent$ {{ {answer("stream.sse")} }}
        location ~ :predict$ {{ {answer("predict.json")} }}
        location / {{ return 404; }}
    }}
}}
"""


@dataclass
class Upstream:
    """A running nginx."""

    process: subprocess.Popen[bytes]
    http1_port: int
    h2_port: int

    @property
    def base_url(self) -> str:
        """The HTTP/1.1 base URL (for the gateway and LiteLLM)."""
        return f"http://127.0.0.1:{self.http1_port}"

    def stop(self) -> None:
        """Stop nginx."""
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_upstream(root: Path, http1_port: int, h2_port: int) -> Upstream:
    """Start nginx with the canned answers; wait until it answers."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    root.mkdir(parents=True, exist_ok=True)
    conf = root / "nginx.conf"
    conf.write_text(nginx_conf(root, http1_port, h2_port))
    process = subprocess.Popen([nginx, "-p", str(root), "-c", str(conf)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    import urllib.request

    while time.monotonic() < deadline:
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{http1_port}/token", data=b"x")
            with urllib.request.urlopen(req, timeout=1) as resp:
                if resp.status == 200:
                    return Upstream(process, http1_port, h2_port)
        except OSError:
            if process.poll() is not None:
                err = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"nginx did not start: {err}") from None
            time.sleep(0.05)
    raise RuntimeError("nginx did not answer in 10 s")
