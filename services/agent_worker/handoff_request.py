"""What the handoff tool does: claim the episode, then ask the dispatcher to deliver it.

The claim is a compare-and-set of the conversation from ``active`` to ``handoff_pending``
in the current epoch, so a model that calls the tool twice, or two racing turns, produce
one request. The request is published with ``Nats-Msg-Id`` = conversation + epoch.
"""

from __future__ import annotations

from typing import Any

from faststream.nats import NatsBroker

from libs.conversation_state import ConversationState, ConversationStatus, ConversationStore
from libs.messages import HandoffRequested, TranscriptLine
from libs.subjects import HANDOFF_STREAM, handoff_requested_subject
from libs.telemetry import inject_trace_headers
from services.agent_worker.agent import TurnContext

SUMMARY_LIMIT = 480
"""Leaves room for routing attributes inside Studio's 1,024-character SendToFlex limit."""


def extractive_summary(history: list[TranscriptLine], latest: str, reason: str) -> str:
    """What the customer said, newest last, cut to fit: the human reads it before replying."""
    said = [line.text for line in history if line.role == "customer"] + [latest]
    text = f"Handoff reason: {reason}. Customer said: " + " | ".join(s for s in said if s)
    if len(text) <= SUMMARY_LIMIT:
        return text
    return "…" + text[-(SUMMARY_LIMIT - 1) :]


class HandoffRequester:
    def __init__(self, broker: NatsBroker, store: ConversationStore) -> None:
        self._broker = broker
        self._store = store

    async def request(
        self, turn: TurnContext, reason: str, attributes: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        claimed = False

        def claim(state: ConversationState) -> ConversationState | None:
            nonlocal claimed
            if state.status is not ConversationStatus.ACTIVE or state.epoch != turn.epoch:
                return None
            state.status = ConversationStatus.HANDOFF_PENDING
            state.handoff_reason = reason
            claimed = True
            return state

        state = await self._store.update(turn.conversation_id, claim)
        if not claimed:
            return {
                "status": "handoff_already_requested",
                "channel": turn.route.channel.value.upper(),
                "detail": f"conversation is {state.status.value}",
            }
        request = HandoffRequested(
            conversation_id=turn.conversation_id,
            epoch=turn.epoch,
            route=turn.route,
            reason=reason,
            summary=extractive_summary(turn.history, turn.text, reason),
            attributes=dict(attributes or {}),
            transcript=[*turn.history, TranscriptLine(role="customer", text=turn.text)],
            turn_sequence=turn.turn_sequence,
        )
        await self._broker.publish(
            request.model_dump(mode="json"),
            handoff_requested_subject(turn.conversation_id),
            stream=HANDOFF_STREAM,
            headers=inject_trace_headers({"Nats-Msg-Id": f"handoff:{request.handoff_id}"}),
            timeout=5.0,
        )
        return {"status": "handoff_initiated", "channel": turn.route.channel.value.upper()}
