"""The handoff SLIs, recorded once per handoff where its end is seen: in the dispatcher.

``requested_at`` (the tool call) and ``turn_received_at`` (the customer's turn reaching a
gateway) travel in ``HandoffRequested``, so the dispatcher sees both ends of "customer turn
→ Twilio has the handoff". A redelivered request whose delivery was already settled
records nothing: each handoff counts once.
"""

from __future__ import annotations

from libs.contracts.messages import Channel, HandoffOutcome, HandoffRequested, HandoffResult
from services.handoff_dispatcher.metrics import (
    HANDOFF_OUTCOMES,
    HANDOFF_STUDIO_ACCEPTED,
    HANDOFF_TURN_TO_TWILIO,
    HANDOFF_VOICE_END_SENT,
)


def record_handoff_slis(request: HandoffRequested, result: HandoffResult) -> None:
    channel = request.route.channel
    HANDOFF_OUTCOMES.inc(
        channel=channel.value,
        outcome=result.outcome.value,
        failure=result.failure.value if result.failure else "none",
    )
    if result.outcome is not HandoffOutcome.DELIVERED:
        return
    since_tool_call = (result.completed_at - request.requested_at).total_seconds()
    if channel is Channel.VOICE:
        HANDOFF_VOICE_END_SENT.observe(since_tool_call)
    else:
        HANDOFF_STUDIO_ACCEPTED.observe(since_tool_call, channel=channel.value)
    if request.turn_received_at is not None:
        since_turn = (result.completed_at - request.turn_received_at).total_seconds()
        HANDOFF_TURN_TO_TWILIO.observe(since_turn, channel=channel.value)
