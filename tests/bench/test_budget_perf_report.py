"""`make bench-budget --perf`: perf's per-binary report read into named shares."""

from __future__ import annotations

import pytest

from bench.perf.budget import dso_shares

REPORT = """\
# Samples: 9K of event 'cpu-clock'
#
# Overhead  Shared Object
# ........  ........................................
#
    44.49%  libpython3.11.so.1.0
    23.11%  [kernel.kallsyms]
    15.64%  cygrpc.cpython-311-x86_64-linux-gnu.so
     4.69%  _message.abi3.so
     4.62%  libc.so.6
     3.38%  loop.cpython-311-x86_64-linux-gnu.so
     1.44%  parser.cpython-311-x86_64-linux-gnu.so
     0.34%  libstdc++.so.6.0.30
     0.31%  ld-linux-x86-64.so.2

# (Tip: For hierarchical output, try: perf report --hierarchy)
"""


def test_binaries_are_named_and_the_rest_summed_largest_first() -> None:
    shares = dict(dso_shares(REPORT))
    assert list(shares)[:3] == ["the interpreter", "kernel", "grpc (core and Cython)"]
    assert shares["protobuf (upb)"] == pytest.approx(4.69)
    assert shares["uvloop"] == pytest.approx(3.38)
    assert shares["llhttp (httptools)"] == pytest.approx(1.44)
    assert shares["other"] == pytest.approx(0.65)  # libstdc++ and the dynamic loader
    assert sum(shares.values()) == pytest.approx(98.02)


def test_a_report_without_samples_gives_nothing() -> None:
    assert dso_shares("# Samples: 0\n#\n") == []
