"""Two versions compared in turns: the summary of their rounds, the checkout of the older, and
runs on one stack counted apart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from baton_devtools.bench import side_by_side, throughput
from baton_devtools.nats_server import free_port, port_open
from tests.support.waits import until

ROOT = Path(__file__).resolve().parents[2]


def measured(cpu: float, tokens_p50: float, sms: float) -> dict[str, Any]:
    return {
        "voice_saturation": {"cpu_ms_per_turn_relay_plus_worker": cpu, "turns_per_s": 1000 / cpu},
        "voice_pacing": {
            "first_token": {"p50_ms": tokens_p50, "p99_ms": tokens_p50 * 3},
            "p50_vs_nats_round_trip": tokens_p50 / 0.25,
            "p99_vs_nats_round_trip": tokens_p50 * 12,
            "p50_vs_paced_round_trip": tokens_p50 / 0.6,
        },
        "sms": {
            "answered_turns_per_s": sms,
            "cpu_ms_per_turn": {"messaging-gateway": 2.0, "agent-worker": 1.5},
        },
    }


def test_each_figure_keeps_every_round_its_median_and_the_ratio() -> None:
    rounds = {
        "before": [measured(3.0, 9.0, 240.0), measured(3.6, 7.0, 220.0), measured(3.2, 10.0, 250)],
        "after": [measured(2.2, 5.0, 260.0), measured(2.0, 6.0, 270.0), measured(2.6, 5.5, 255)],
    }
    compared = side_by_side.summary(rounds)
    assert set(compared) == set(side_by_side.FIGURES)
    cpu = compared["voice_cpu_ms_per_turn_relay_plus_worker"]
    assert cpu["before"] == [3.0, 3.6, 3.2] and cpu["after"] == [2.2, 2.0, 2.6]
    assert (cpu["median_before"], cpu["median_after"]) == (3.2, 2.2)
    assert cpu["after_over_before"] == pytest.approx(2.2 / 3.2, abs=0.001)
    assert compared["sms_answered_turns_per_s"]["median_after"] == 260.0
    assert compared["first_token_p50_ms"]["median_before"] == 9.0


def test_a_version_without_rounds_has_no_median() -> None:
    compared = side_by_side.summary({"before": [], "after": [measured(2.0, 5.0, 260.0)]})
    assert "median_after" not in compared["voice_turns_per_s"]


def test_the_older_version_is_checked_out_where_its_services_import_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    tree = side_by_side.checkout("HEAD", tmp_path)
    try:
        imported = subprocess.run(
            [sys.executable, "-c", "import services; print(services.__file__)"],
            cwd=tree,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert Path(imported).is_relative_to(tree), "a round must run the version's own code"
    finally:
        side_by_side.remove(tree)
    assert not tree.exists()


async def test_an_sms_run_counts_only_what_was_sent_to_its_own_customers() -> None:
    """Two runs on one stack: the second must not count the first's replies as doubled."""
    port = free_port()
    twilio = subprocess.Popen(
        [sys.executable, "-m", "baton_devtools.bench.fake_twilio", str(port), "0"]
    )
    try:
        stack = throughput.Stack(cast(Any, None), f"http://127.0.0.1:{port}", twilio)
        async with httpx.AsyncClient(base_url=stack.twilio_url) as http:
            await until(lambda: port_open("127.0.0.1", port))
            for to in ("+14150000001", "+14150000002", "+14150000002"):
                await http.post("/2010-04-01/Accounts/AC1/Messages.json", data={"To": to})
        sent = await throughput.sent_by_twilio(stack, {"+14150000002"})
        assert [m["to"] for m in sent["messages"]] == ["+14150000002", "+14150000002"]
    finally:
        twilio.kill()
        twilio.wait()
