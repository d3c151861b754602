"""What the handoff tool does: claim the episode, then ask the dispatcher to deliver it.

The claim is a compare-and-set of the conversation from ``active`` to ``handoff_pending``
in the current epoch, so a model that calls the tool twice, or two racing turns, produce
one request. The request is published with ``Nats-Msg-Id`` = conversation + epoch. If it
cannot be published the claim is released, so the customer hears the honest failure reply
instead of being muted in ``handoff_pending``.
"""

from __future__ import annotations

import logging
from typing import Any

from faststream.nats import NatsBroker

from libs.contracts.conversation import claim_handoff, release_claim
from libs.contracts.messages import HandoffRequested, TranscriptLine
from libs.contracts.subjects import HANDOFF_REQUESTED, HANDOFF_STREAM
from libs.platform.conversation_store import ConversationStore
from libs.platform.publishing import publish_once
from services.agent_worker.agent import Summarize, TurnContext
from services.agent_worker.summary import extractive_summary, fit_summary

log = logging.getLogger("baton.agent_worker.handoff")


class HandoffRequester:
    def __init__(self, broker: NatsBroker, store: ConversationStore) -> None:
        self._broker = broker
        self._store = store

    async def request(
        self,
        turn: TurnContext,
        reason: str,
        attributes: dict[str, Any] | None = None,
        summarize: Summarize | None = None,
    ) -> dict[str, Any]:
        change = await self._store.apply(
            turn.conversation_id, claim_handoff(turn.epoch, reason, turn.turn_received_at)
        )
        state = change.state
        if not change.applied:
            return {
                "status": "handoff_already_requested",
                "channel": turn.route.channel.value.upper(),
                "detail": f"conversation is {state.status.value}",
            }
        summary = await self._summary(turn, reason, summarize)
        request = HandoffRequested(
            conversation_id=turn.conversation_id,
            epoch=turn.epoch,
            route=turn.route,
            reason=reason,
            summary=summary,
            attributes=dict(attributes or {}),
            transcript=[*turn.history, TranscriptLine(role="customer", text=turn.text)],
            turn_sequence=turn.turn_sequence,
            turn_received_at=turn.turn_received_at,
        )
        try:
            await publish_once(
                self._broker,
                request,
                subject=HANDOFF_REQUESTED.subject(turn.conversation_id),
                stream=HANDOFF_STREAM,
                message_id=f"handoff:{request.handoff_id}",
            )
        except Exception:
            await self._release(turn)
            raise
        return {"status": "handoff_initiated", "channel": turn.route.channel.value.upper()}

    @staticmethod
    async def _summary(turn: TurnContext, reason: str, summarize: Summarize | None) -> str:
        """The given summary when it can be had, else the extractive one: never no summary."""
        if summarize is not None:
            try:
                given = await summarize()
            except Exception as error:
                log.warning("summary unavailable (%r): using the extractive one", error)
            else:
                if given.strip():
                    return fit_summary(given)
        return extractive_summary(turn.history, turn.text, reason)

    async def _release(self, turn: TurnContext) -> None:
        """Give the conversation back to the bot in the same epoch: a retry reuses the id."""

        await self._store.apply(turn.conversation_id, release_claim(turn.epoch))
