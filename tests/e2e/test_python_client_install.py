"""`pip install ./clients/python` into a fresh virtual environment gets a client without the
server's dependencies, and five lines of code there call Chat on the running gateway.

Everything runs as asyncio subprocesses so the in-process gateway keeps serving on the test's
event loop. pip uses its usual cache, so only a first run downloads the wheels.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from server.app import Gateway

ROOT = Path(__file__).resolve().parents[2]
CLIENT_DIR = ROOT / "clients" / "python"
# Packages the gateway needs and a client must not drag in.
SERVER_ONLY = ("orjson", "aiohttp", "google.auth", "httptools", "yaml", "jsonschema")
SCRIPT = """\
import sys
from vertex_gateway import VertexGateway, reply_text

with VertexGateway(sys.argv[1]) as gateway:
    print(reply_text(gateway.chat("gemini-2.5-flash", "Hello")))
"""
# Where the package was imported from, which of the modules named in argv exist, and its typing.
PROBE = """\
import importlib.util, json, pathlib, sys, vertex_gateway
package = pathlib.Path(vertex_gateway.__file__).parent
print(json.dumps({
    "location": str(package),
    "present": [m for m in sys.argv[1:] if importlib.util.find_spec(m) is not None],
    "typed": sorted(str(p.relative_to(package)) for p in package.rglob("py.typed")),
    "stubs": len(list(package.glob("v1/*.pyi"))),
}))
"""


def _clean_env() -> dict[str, str]:
    """The environment without anything that would let the new venv see this checkout's."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.pop("VIRTUAL_ENV", None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


async def _run(*args: str | Path, cwd: Path) -> str:
    proc = await asyncio.create_subprocess_exec(
        *map(str, args),
        cwd=cwd,
        env=_clean_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, (
        f"{args} failed ({proc.returncode}):\n{out.decode()}\n{err.decode()}"
    )
    return out.decode()


async def test_fresh_venv_installs_the_client_alone_and_calls_chat(
    gateway: Gateway, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    await _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    await _run(python, "-m", "pip", "install", "--quiet", CLIENT_DIR, cwd=tmp_path)

    probe = json.loads(await _run(python, "-I", "-c", PROBE, *SERVER_ONLY, cwd=tmp_path))
    assert Path(probe["location"]).is_relative_to(venv), "imported from outside the venv"
    assert probe["present"] == [], f"server dependencies installed: {probe['present']}"
    assert probe["typed"] == ["py.typed", "v1/py.typed"]
    assert probe["stubs"] == len(list((CLIENT_DIR / "vertex_gateway" / "v1").glob("*.pyi")))

    script = tmp_path / "hello.py"
    script.write_text(SCRIPT)
    assert len(SCRIPT.strip().splitlines()) <= 5
    reply = await _run(python, "-I", script, f"127.0.0.1:{gateway.port}", cwd=tmp_path)
    assert 'you asked about "Hello"' in reply
    assert "Vertex emulator" in reply
