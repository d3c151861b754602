"""The handoff SLIs, recorded once per handoff where its end is seen: in the dispatcher."""

from __future__ import annotations

from libs.platform.metrics import HANDOFF_BUCKETS, Counter, Histogram

HANDOFF_STUDIO_ACCEPTED = Histogram(
    "baton_handoff_studio_accepted_seconds",
    "Handoff tool call -> Studio accepted the execution, retries included (digital channels).",
    otel_name="baton.handoff.studio_accepted.duration",
    buckets=HANDOFF_BUCKETS,
    labels=("channel",),
)

HANDOFF_VOICE_END_SENT = Histogram(
    "baton_handoff_voice_end_sent_seconds",
    "Handoff tool call -> the call's relay gateway sent `end` after the goodbye (voice).",
    otel_name="baton.handoff.voice_end_sent.duration",
    buckets=HANDOFF_BUCKETS,
)

HANDOFF_TURN_TO_TWILIO = Histogram(
    "baton_handoff_turn_to_twilio_seconds",
    "Customer turn received -> Twilio holds the handoff (Studio execution created, or `end` "
    "sent); SendToFlex creates the task inside that execution.",
    otel_name="baton.handoff.turn_to_twilio.duration",
    buckets=HANDOFF_BUCKETS,
    labels=("channel",),
)

HANDOFF_OUTCOMES = Counter(
    "baton_handoff_outcomes",
    "Handoffs the dispatcher settled, by outcome and typed failure (`none` when delivered).",
    otel_name="baton.handoff.settled",
    labels=("channel", "outcome", "failure"),
)

HANDOFF_UNVERIFIED = Counter(
    "baton_handoff_unverified",
    "Handoffs settled as delivered without seeing the delivery: Studio answered 409 for the "
    "contact and no execution of this handoff was found (or the call was gone after an `end`).",
    otel_name="baton.handoff.delivered_unverified",
    labels=("channel",),
)

METRICS = (
    HANDOFF_STUDIO_ACCEPTED,
    HANDOFF_VOICE_END_SENT,
    HANDOFF_TURN_TO_TWILIO,
    HANDOFF_OUTCOMES,
    HANDOFF_UNVERIFIED,
)
"""What this service records, for the dashboard and alert checks."""
