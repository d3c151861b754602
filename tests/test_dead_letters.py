"""Dead letters: given up by age with the reason, listed and replayed with ``baton dlq``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from nats.js import JetStreamContext

from libs.contracts.subjects import DEAD_LETTER_STREAM, DEAD_LETTERS, REPLIES, REPLIES_STREAM
from libs.platform.consuming import (
    PermanentFailure,
    RedeliveryPolicy,
    RetryByAge,
    TransientFailure,
)


def baton(nats_url: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "baton.cli", *args],
        env={**os.environ, "NATS_URL": nats_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_retries_back_off_with_jitter_up_to_a_ceiling_until_the_age_limit() -> None:
    policy = RetryByAge(max_age_seconds=600, first_delay_seconds=1, max_delay_seconds=60)
    for delivered in range(1, 12):
        delay = policy.delay(delivered, age_seconds=10, retry_after=None)
        ceiling = min(60.0, 2.0 ** (delivered - 1))
        assert delay is not None and 1.0 <= delay <= ceiling
    assert policy.delay(3, age_seconds=10, retry_after=30) == 30, "Retry-After wins"
    near_the_end = policy.delay(9, age_seconds=590, retry_after=120)
    assert near_the_end == pytest.approx(10), "the last try is made at the age limit"
    assert policy.delay(9, age_seconds=600, retry_after=None) is None
    assert policy.delay(9, age_seconds=599.5, retry_after=None) == 0.5, "half a second left"


@pytest.mark.parametrize("end", ["low", "high"])
def test_the_jitter_spans_the_first_delay_to_a_doubling_ceiling(
    monkeypatch: pytest.MonkeyPatch, end: str
) -> None:
    """Full jitter: each delay is drawn between the first delay and 1, 2, 4, 8… times it."""
    monkeypatch.setattr(
        "libs.platform.consuming.random.uniform", lambda low, high: low if end == "low" else high
    )
    policy = RetryByAge(max_age_seconds=600, first_delay_seconds=0.5, max_delay_seconds=3)
    delays = [policy.delay(delivered, 10.0, None) for delivered in range(1, 6)]
    if end == "low":
        assert delays == [0.5, 0.5, 0.5, 0.5, 0.5]
    else:
        assert delays == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_policy_by_age_never_counts_deliveries() -> None:
    policy = RedeliveryPolicy.heartbeating("replies", 1.0, by_age=RetryByAge(max_age_seconds=60))
    assert policy.consumer_config().max_deliver == -1
    assert policy.ack_wait_seconds == 3.0
    assert policy.retry_delay(500, 5.0, TransientFailure("503")) is not None
    assert policy.retry_delay(1, 5.0, PermanentFailure("400")) is None
    assert policy.retry_delay(2, 61.0, TransientFailure("503")) is None


async def test_list_and_replay(nats_url: str, js: JetStreamContext) -> None:
    original = REPLIES.subject("conv-dlq")
    await js.publish(
        DEAD_LETTERS.subject("messaging-gateway-replies"),
        b'{"reply": 1}',
        stream=DEAD_LETTER_STREAM,
        headers={
            "Baton-Original-Subject": original,
            "Baton-Original-Sequence": "7",
            "Baton-Error": "gave up after 600 s (14 deliveries): TwilioUnavailable('503')",
        },
    )
    listed = baton(nats_url, "dlq", "list")
    assert "messaging-gateway-replies" in listed and "gave up after 600 s" in listed
    assert original in listed and "1 dead letter(s)" in listed

    replayed = baton(nats_url, "dlq", "replay", "--all")
    assert "replayed 1" in replayed
    again = await js.get_msg(REPLIES_STREAM, subject=original)
    assert again.data == b'{"reply": 1}'
    assert again.headers and again.headers["Nats-Msg-Id"].startswith("replay:")
    assert (await js.stream_info(DEAD_LETTER_STREAM)).state.messages == 0
