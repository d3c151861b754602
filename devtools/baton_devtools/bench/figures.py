"""The benchmark's arithmetic: percentiles, CPU and memory of service processes, ratios.

Kept apart from the scenarios so that a unit test checks it without running a stack.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``samples``."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def latency(samples_ms: Sequence[float]) -> dict[str, float]:
    return {
        "samples": len(samples_ms),
        "p50_ms": round(percentile(samples_ms, 0.50), 3),
        "p99_ms": round(percentile(samples_ms, 0.99), 3),
    }


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used (``/proc/<pid>/stat``)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (``VmRSS`` in ``/proc/<pid>/status``)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


@dataclass
class CpuWindow:
    """CPU used by named processes between ``start()`` and ``stop()``."""

    pids: Mapping[str, int]

    def start(self) -> None:
        self._start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) - self._start[name] for name, pid in self.pids.items()}


def per_turn_ms(cpu: Mapping[str, float], turns: int) -> dict[str, float]:
    """CPU milliseconds per turn for each process (``nan`` without turns)."""
    return {
        name: round(seconds * 1000 / turns, 3) if turns else math.nan
        for name, seconds in cpu.items()
    }


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else math.nan


def ratio(value: float, reference: float) -> float:
    return round(value / reference, 1) if reference > 0 else math.nan


def lost_and_doubled(expected: Iterable[str], received: Iterable[str]) -> tuple[int, int]:
    """How many expected keys never arrived, and how many arrived more than once."""
    counts: dict[str, int] = {}
    for key in received:
        counts[key] = counts.get(key, 0) + 1
    wanted = set(expected)
    lost = sum(1 for key in wanted if key not in counts)
    doubled = sum(1 for count in counts.values() if count > 1)
    return lost, doubled


def write_results(path: Path, results: Mapping[str, Any], *, show: bool = True) -> None:
    """Write one part's figures to ``bench-results/`` (and print them) so a rerun compares."""
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    if show:
        print(json.dumps(results, indent=2))
        print(f"written to {path}")
