"""Regenerate the Python stubs in clients/python/ from protos/, or check they are current.

One command for both (`make protos`, `make check-protos`): the check regenerates into a
temporary directory and compares byte for byte, so stale stubs fail CI.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
OUT_ROOT = ROOT / "clients" / "python"
PACKAGE_DIR = Path("vertex_gateway") / "v1"


def generate(out_root: Path) -> None:
    """Run protoc (grpcio-tools) with message, typing (mypy-protobuf) and gRPC stub outputs."""
    protos = sorted(
        str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / PACKAGE_DIR).glob("*.proto")
    )
    if not protos:
        sys.exit("no .proto files under protos/vertex_gateway/v1")
    bin_dir = Path(sys.executable).parent
    target = out_root / PACKAGE_DIR
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
        f"--python_out={out_root}",
        # mypy-protobuf's .pyi (strict-clean, unlike protoc's --pyi_out)
        f"--mypy_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--mypy_grpc_out={out_root}",
        *protos,
    ]
    subprocess.run(cmd, check=True, cwd=ROOT)
    # The package's own __init__.py is hand-written (it exports the client); only v1/ is
    # generated.
    (target / "__init__.py").write_text('"""Generated from protos/ by scripts/gen_protos.py."""\n')
    for pkg in (out_root / "vertex_gateway", target):
        (pkg / "py.typed").write_text("")


def differences(a: Path, b: Path) -> list[str]:
    """Relative paths that differ, or exist on one side only, between two trees."""
    out: list[str] = []
    cmp = filecmp.dircmp(a, b)
    out += [f"only in committed: {n}" for n in cmp.left_only]
    out += [f"missing from committed: {n}" for n in cmp.right_only]
    out += [f"differs: {n}" for n in cmp.diff_files]
    for name in cmp.common_files:
        if (a / name).read_bytes() != (b / name).read_bytes():
            out.append(f"differs: {name}")
    return sorted(set(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if committed stubs are stale")
    args = parser.parse_args()
    if not args.check:
        generate(OUT_ROOT)
        print(f"generated stubs in {OUT_ROOT / PACKAGE_DIR}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        committed = OUT_ROOT / PACKAGE_DIR
        if not committed.exists():
            sys.exit("stubs missing: run `make protos`")
        diff = differences(committed, Path(tmp) / PACKAGE_DIR)
        if diff:
            sys.exit("generated stubs are stale; run `make protos`:\n  " + "\n  ".join(diff))
    print("generated stubs are up to date")


if __name__ == "__main__":
    main()
