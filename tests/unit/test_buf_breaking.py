"""`make buf-breaking` compares protos/ with the previous commit; this shows the check it runs
does catch a breaking change (and lets an additive one through)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=repo, check=True, capture_output=True,
    )  # fmt: skip


def _breaking(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BUF), "breaking", "--against", ".git#ref=HEAD~1"],
        cwd=repo, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_buf_breaking_catches_a_removed_field(tmp_path: Path) -> None:
    if not BUF.exists():
        pytest.fail("buf is not installed (make test installs it from package-lock.json)")
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "buf.yaml", repo / "buf.yaml")
    shutil.copytree(ROOT / "protos", repo / "protos")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "base")
    common = repo / "protos" / "vertex_gateway" / "v1" / "common.proto"
    text = common.read_text()

    # Additive: a new field is not breaking.
    common.write_text(
        text.replace("  string account = 3;\n", "  string account = 3;\n  string zone = 4;\n")
    )
    _git(repo, "commit", "-qam", "add a field")
    assert _breaking(repo).returncode == 0

    # Removing a field is.
    common.write_text(text.replace("  string account = 3;\n", ""))
    _git(repo, "commit", "-qam", "remove a field")
    result = _breaking(repo)
    assert result.returncode != 0
    assert "ServedBy" in result.stdout + result.stderr
