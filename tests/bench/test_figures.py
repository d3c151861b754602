"""The benchmark's arithmetic, checked without running a stack."""

from __future__ import annotations

import math
import os

from baton_devtools.bench import figures


def test_nearest_rank_percentiles() -> None:
    samples = [float(n) for n in range(100, 0, -1)]
    assert figures.percentile(samples, 0.5) == 50.0
    assert figures.percentile(samples, 0.99) == 99.0
    assert figures.percentile(samples, 1.0) == 100.0
    assert figures.percentile([7.0], 0.99) == 7.0
    assert math.isnan(figures.percentile([], 0.5))


def test_latency_summary_rounds_to_microseconds() -> None:
    assert figures.latency([1.23456, 2.0, 3.0]) == {"samples": 3, "p50_ms": 2.0, "p99_ms": 3.0}


def test_cpu_per_turn_and_rates() -> None:
    assert figures.per_turn_ms({"relay": 0.5, "worker": 1.5}, 1000) == {
        "relay": 0.5,
        "worker": 1.5,
    }
    assert math.isnan(figures.per_turn_ms({"relay": 1.0}, 0)["relay"])
    assert figures.rate(300, 2.0) == 150.0
    assert figures.ratio(4.0, 0.4) == 10.0
    assert math.isnan(figures.ratio(1.0, 0.0))


def test_lost_and_doubled_count_keys_not_messages() -> None:
    lost, doubled = figures.lost_and_doubled(["a", "b", "c"], ["a", "a", "a", "c", "x"])
    assert (lost, doubled) == (1, 1)


def test_this_process_cpu_and_memory_are_read() -> None:
    window = figures.CpuWindow({"me": os.getpid()})
    window.start()
    sum(n * n for n in range(200_000))
    assert window.stop()["me"] >= 0
    assert figures.rss_bytes(os.getpid()) > 1_000_000
