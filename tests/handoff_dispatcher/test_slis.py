"""The handoff SLIs: what each settled handoff adds, by channel and outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from libs.contracts.messages import (
    Channel,
    HandoffFailure,
    HandoffOutcome,
    HandoffRequested,
    HandoffResult,
    Route,
)
from libs.platform.metrics import REGISTRY
from services.handoff_dispatcher.slis import record_handoff_slis

REQUESTED = datetime(2026, 1, 5, 10, 0, 0, tzinfo=UTC)
SAMPLES = (
    ("baton_handoff_outcomes_total", {"channel": "sms", "outcome": "delivered", "failure": "none"}),
    (
        "baton_handoff_outcomes_total",
        {"channel": "sms", "outcome": "failed", "failure": "rate_limited"},
    ),
    (
        "baton_handoff_outcomes_total",
        {"channel": "voice", "outcome": "delivered", "failure": "none"},
    ),
    ("baton_handoff_studio_accepted_seconds_sum", {"channel": "sms"}),
    ("baton_handoff_studio_accepted_seconds_count", {"channel": "sms"}),
    ("baton_handoff_voice_end_sent_seconds_sum", {}),
    ("baton_handoff_voice_end_sent_seconds_count", {}),
    ("baton_handoff_turn_to_twilio_seconds_sum", {"channel": "sms"}),
    ("baton_handoff_turn_to_twilio_seconds_sum", {"channel": "voice"}),
    ("baton_handoff_turn_to_twilio_seconds_count", {"channel": "sms"}),
)


def snapshot() -> dict[str, float]:
    return {
        f"{name}{sorted(labels.items())}": REGISTRY.get_sample_value(name, labels) or 0.0
        for name, labels in SAMPLES
    }


def changes(before: dict[str, float]) -> dict[str, float]:
    after = snapshot()
    return {key: round(after[key] - before[key], 6) for key in after if after[key] != before[key]}


def settled(
    channel: Channel,
    outcome: HandoffOutcome,
    failure: HandoffFailure | None = None,
    turn_received_at: datetime | None = None,
) -> tuple[HandoffRequested, HandoffResult]:
    request = HandoffRequested(
        conversation_id="conv-1",
        epoch=0,
        route=Route(channel=channel, customer_address="+15005550006", agent_address="ours"),
        reason="asked",
        requested_at=REQUESTED,
        turn_received_at=turn_received_at,
    )
    result = HandoffResult(
        conversation_id="conv-1",
        epoch=0,
        channel=channel,
        outcome=outcome,
        failure=failure,
        requested_at=REQUESTED,
        completed_at=REQUESTED + timedelta(seconds=1.5),
    )
    return request, result


def test_a_delivered_digital_handoff_records_studio_accepted_and_turn_to_twilio() -> None:
    before = snapshot()
    record_handoff_slis(
        *settled(
            Channel.SMS, HandoffOutcome.DELIVERED, turn_received_at=REQUESTED - timedelta(seconds=2)
        )
    )
    assert changes(before) == {
        "baton_handoff_outcomes_total[('channel', 'sms'), ('failure', 'none'), "
        "('outcome', 'delivered')]": 1.0,
        "baton_handoff_studio_accepted_seconds_sum[('channel', 'sms')]": 1.5,
        "baton_handoff_studio_accepted_seconds_count[('channel', 'sms')]": 1.0,
        "baton_handoff_turn_to_twilio_seconds_sum[('channel', 'sms')]": 3.5,
        "baton_handoff_turn_to_twilio_seconds_count[('channel', 'sms')]": 1.0,
    }


def test_a_delivered_voice_handoff_records_end_sent() -> None:
    before = snapshot()
    record_handoff_slis(
        *settled(
            Channel.VOICE,
            HandoffOutcome.DELIVERED,
            turn_received_at=REQUESTED - timedelta(seconds=0.5),
        )
    )
    assert changes(before) == {
        "baton_handoff_outcomes_total[('channel', 'voice'), ('failure', 'none'), "
        "('outcome', 'delivered')]": 1.0,
        "baton_handoff_voice_end_sent_seconds_sum[]": 1.5,
        "baton_handoff_voice_end_sent_seconds_count[]": 1.0,
        "baton_handoff_turn_to_twilio_seconds_sum[('channel', 'voice')]": 2.0,
    }


def test_a_failed_handoff_is_only_counted_by_its_failure() -> None:
    before = snapshot()
    record_handoff_slis(
        *settled(
            Channel.SMS,
            HandoffOutcome.FAILED,
            HandoffFailure.RATE_LIMITED,
            turn_received_at=REQUESTED,
        )
    )
    assert changes(before) == {
        "baton_handoff_outcomes_total[('channel', 'sms'), ('failure', 'rate_limited'), "
        "('outcome', 'failed')]": 1.0,
    }


def test_without_the_turns_arrival_there_is_no_turn_to_twilio() -> None:
    before = snapshot()
    record_handoff_slis(*settled(Channel.SMS, HandoffOutcome.DELIVERED))
    moved = changes(before)
    assert "baton_handoff_turn_to_twilio_seconds_count[('channel', 'sms')]" not in moved
    assert moved["baton_handoff_studio_accepted_seconds_count[('channel', 'sms')]"] == 1.0
