"""The bench's floors: the raw NATS round trip back to back, and at the calls' pacing."""

from __future__ import annotations

from baton_devtools.bench import throughput


async def test_the_paced_round_trip_asks_once_a_second_per_caller(nats_url: str) -> None:
    paced = await throughput.paced_round_trip(nats_url, callers=4, seconds=1.5)
    assert 4 <= paced["samples"] <= 8, "each caller asks once, then once a second"
    assert 0 < paced["p50_ms"] <= paced["p99_ms"]
