"""The handoff SLIs, recorded once per handoff where its end is seen: in the dispatcher.

``requested_at`` (the tool call) travels in ``HandoffRequested``; the customer's turn is read
back from the turn stream by the sequence the request names, so the dispatcher sees both
ends of "customer turn → Twilio has the handoff" without trusting a header. A redelivered
request whose delivery was already settled records nothing: each handoff counts once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from nats.js import JetStreamContext

from libs.messages import Channel, HandoffOutcome, HandoffRequested, HandoffResult
from libs.metrics import (
    HANDOFF_OUTCOMES,
    HANDOFF_STUDIO_ACCEPTED,
    HANDOFF_TURN_TO_TWILIO,
    HANDOFF_VOICE_END_SENT,
)
from libs.turn_stream import turn_received_at

log = logging.getLogger("baton.handoff_dispatcher.slis")


class HandoffSlis:
    def __init__(self, js: JetStreamContext | None = None) -> None:
        self._js = js

    async def record(self, request: HandoffRequested, result: HandoffResult) -> None:
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
        received_at = await self.turn_received_at(request.turn_sequence)
        if received_at is not None:
            HANDOFF_TURN_TO_TWILIO.observe(
                (result.completed_at - received_at).total_seconds(), channel=channel.value
            )

    async def turn_received_at(self, sequence: int) -> datetime | None:
        return None if self._js is None else await turn_received_at(self._js, sequence)
