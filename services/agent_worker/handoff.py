"""One turn's handoff: claim the episode, write the summary, store the request, once.

The first request of an episode claims it with compare-and-set (``claim_handoff``), so a
second tool call, a racing turn or a redelivered turn is told the handoff was already
requested instead of causing a second Studio execution or ``end``. Only the claiming call
writes the summary for the human. A request that cannot be stored releases the claim, so
the bot can still answer and a retry of the turn reuses the same ``Nats-Msg-Id``.

Each request is a ``tool handoff`` span in the turn's trace; an initiated handoff also
times the decision (customer turn received → handoff requested).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from faststream.nats import NatsBroker
from opentelemetry.trace import Tracer

from libs.contracts.conversation import claim_handoff, release_claim
from libs.contracts.messages import HandoffRequested, TranscriptLine, utc_now
from libs.contracts.subjects import HANDOFF_REQUESTED, HANDOFF_STREAM
from libs.platform.conversation_store import ConversationStore
from libs.platform.publishing import publish_once
from libs.platform.span_attributes import CHANNEL, CONVERSATION_ID
from services.agent_worker.agent import HandoffAnswer, HandoffStatus, TurnContext
from services.agent_worker.channels import tac_channel
from services.agent_worker.metrics import HANDOFF_DECISION
from services.agent_worker.summary import Summarizer, write_summary

log = logging.getLogger("baton.agent_worker.handoff")

DEFAULT_REASON = "customer needs a human agent"
REASON_LIMIT = 200


def clean_reason(reason: object) -> str:
    """The model's reason on one line, bounded; never empty."""
    return " ".join(str(reason).split())[:REASON_LIMIT] or DEFAULT_REASON


class TurnHandoff:
    def __init__(
        self,
        turn: TurnContext,
        *,
        broker: NatsBroker,
        store: ConversationStore,
        summarizer: Summarizer,
        tracer: Tracer,
    ) -> None:
        self._turn = turn
        self._broker = broker
        self._store = store
        self._summarizer = summarizer
        self._tracer = tracer
        self._channel = tac_channel(turn.route)
        self.answers: list[HandoffAnswer] = []

    @property
    def initiated(self) -> bool:
        return any(answer.status is HandoffStatus.INITIATED for answer in self.answers)

    async def request(
        self, reason: str, attributes: Mapping[str, Any] | None = None
    ) -> HandoffAnswer:
        reason = clean_reason(reason)
        turn = self._turn
        with self._tracer.start_as_current_span(
            "tool handoff",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "handoff",
                CONVERSATION_ID: turn.conversation_id,
                CHANNEL: turn.route.channel.value,
                "baton.handoff.reason": reason,
            },
        ) as span:
            answer = await self._claim_and_publish(reason, dict(attributes or {}))
            span.set_attribute("baton.handoff.status", answer.status.value)
        self.answers.append(answer)
        return answer

    async def _claim_and_publish(self, reason: str, attributes: dict[str, Any]) -> HandoffAnswer:
        turn = self._turn
        claim = claim_handoff(turn.epoch, reason, turn.turn_received_at)
        change = await self._store.apply(turn.conversation_id, claim)
        if not change.applied:
            detail = f"conversation is {change.state.status.value}"
            return HandoffAnswer(HandoffStatus.ALREADY_REQUESTED, self._channel, detail)
        request = HandoffRequested(
            conversation_id=turn.conversation_id,
            epoch=turn.epoch,
            route=turn.route,
            reason=reason,
            summary=await write_summary(self._summarizer, turn, reason),
            attributes=attributes,
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
        except Exception as error:  # the model must hear the truth, not a success
            log.error("handoff of %s could not be stored: %r", turn.conversation_id, error)
            await self._store.apply(turn.conversation_id, release_claim(turn.epoch))
            detail = f"the handoff could not be requested ({type(error).__name__})"
            return HandoffAnswer(HandoffStatus.FAILED, self._channel, detail)
        if turn.turn_received_at is not None:
            decided = (utc_now() - turn.turn_received_at).total_seconds()
            HANDOFF_DECISION.observe(decided, channel=turn.route.channel.value)
        return HandoffAnswer(HandoffStatus.INITIATED, self._channel)
