"""The gateway's lock-free metric storage, as Prometheus renders it at scrape time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from server.observability import metrics


def test_histograms_render_cumulative_le_buckets_and_counters_their_totals() -> None:
    hist = metrics._Histogram("t_seconds", "test", ("method",), bounds=(0.01, 0.1, 1.0))
    for value in (0.005, 0.01, 0.05, 0.5, 7.0):
        hist.observe(("m",), value)
    counter = metrics._Counter("t_calls", "test", ("code",))
    counter.add(("OK",))
    counter.add(("OK",), 2)

    class Both(metrics.Collector):
        def collect(self):  # type: ignore[no-untyped-def]
            yield hist.family()
            yield counter.family()

    registry = CollectorRegistry()
    registry.register(Both())
    text = generate_latest(registry).decode()
    assert 't_seconds_bucket{le="0.01",method="m"} 2.0' in text  # 0.005 and 0.01 (le)
    assert 't_seconds_bucket{le="0.1",method="m"} 3.0' in text
    assert 't_seconds_bucket{le="1.0",method="m"} 4.0' in text
    assert 't_seconds_bucket{le="+Inf",method="m"} 5.0' in text
    assert 't_seconds_count{method="m"} 5.0' in text
    assert 't_seconds_sum{method="m"} 7.56' in text  # 7.5649999…
    assert 't_calls_total{code="OK"} 3.0' in text
