"""A conversation's turns: in arrival order, one worker at a time, the bot muted after handoff.

Each delivered turn message only wakes the worker up for its conversation. Under the
conversation's lease (taken with the state itself) the worker reads every turn stored since
the last one it consumed (a burst becomes one agent turn), lets the agent answer unless a
human holds the conversation, and records progress in the conversation state, giving the
lease back in the same write. A redelivered or already-covered message finds nothing
pending and is simply acked. When the turn was stored right after the previous turn of its
conversation (JetStream checked it, see :func:`~libs.platform.publishing.publish_turn`) and
that is the last one consumed, nothing else can be waiting, so the delivered turn is
answered as it came, without reading the stream.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from faststream.nats import NatsMessage
from opentelemetry import trace

from libs.contracts.conversation import record_turns
from libs.contracts.messages import CustomerTurn, TranscriptLine
from libs.platform.publishing import stored_right_after
from services.agent_worker.agent import TurnContext
from services.agent_worker.agent_turn import AgentRunner
from services.agent_worker.turn_lease import HeldConversation, TurnLease
from services.agent_worker.turn_log import LoggedTurn, TurnLog

log = logging.getLogger("baton.agent_worker.turns")


@dataclass(frozen=True)
class Delivery:
    """The JetStream delivery that woke the worker: where the turn is stored, and with what."""

    sequence: int
    headers: Mapping[str, str]
    heartbeat: Callable[[], Awaitable[None]]
    """Tells JetStream the message is still in progress."""

    @classmethod
    def of(cls, message: NatsMessage) -> Delivery:
        raw = message.raw_message
        return cls(raw.metadata.sequence.stream, dict(raw.headers or {}), message.in_progress)


class TurnProcessor:
    def __init__(
        self,
        *,
        log_reader: TurnLog,
        lease: TurnLease,
        runner: AgentRunner,
        wait_seconds: float,
    ) -> None:
        self._log = log_reader
        self._lease = lease
        self._runner = runner
        self._wait = wait_seconds

    async def handle(self, turn: CustomerTurn, delivery: Delivery) -> None:
        async with self._lease.held(
            turn.conversation_id, wait_seconds=self._wait, heartbeat=delivery.heartbeat
        ) as held:
            while await self._answer_pending(turn, delivery, held):
                pass

    async def _pending(
        self, turn: CustomerTurn, delivery: Delivery, consumed: int
    ) -> list[LoggedTurn]:
        """The turns after ``consumed`` up to the delivered one, in arrival order."""
        if consumed >= delivery.sequence:
            return []  # answered already: with a later turn, or before this redelivery
        if stored_right_after(turn, delivery.headers) == consumed:
            return [LoggedTurn(delivery.sequence, turn, delivery.headers)]
        return await self._log.pending(turn.conversation_id, consumed, delivery.sequence)

    async def _answer_pending(
        self, turn: CustomerTurn, delivery: Delivery, held: HeldConversation
    ) -> bool:
        """Answer the turns up to the delivered one; True while some are still unread."""
        conversation_id = turn.conversation_id
        state = held.state
        pending = await self._pending(turn, delivery, state.last_turn_seq)
        if not pending:
            return False
        latest = pending[-1]
        lines = [
            TranscriptLine(role="customer", text=p.turn.text, at=p.turn.received_at)
            for p in pending
        ]
        if state.bot_may_answer:
            context = TurnContext(
                conversation_id=conversation_id,
                epoch=state.epoch,
                route=latest.turn.route,
                text="\n".join(p.turn.text for p in pending),
                history=list(state.history),
                turn_sequence=latest.sequence,
                turn_received_at=latest.turn.received_at,
            )
            text = await self._runner.answer(context, latest, coalesced=len(pending))
            if text:
                lines.append(TranscriptLine(role="agent", text=text, turn=latest.sequence))
        else:
            log.info(
                "conversation %s is %s: turn recorded, no reply", conversation_id, state.status
            )
            trace.get_current_span().add_event(
                "turn recorded without a reply", {"baton.conversation.status": state.status.value}
            )
        unread = latest.sequence < delivery.sequence
        recorded = record_turns(latest.sequence, latest.turn.route, lines)
        await self._lease.write(held, recorded, release=not unread)
        return unread
