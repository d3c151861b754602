"""Handling a conversation's turns: in arrival order, one worker at a time, bot muted after handoff.

Each delivered turn message only wakes the worker up for its conversation. Under the
conversation's lease the worker reads every turn stored since the last one it consumed
(a burst becomes one agent turn), lets the agent answer, publishes the reply, and records
progress in the conversation state. A redelivered or already-covered message finds nothing
pending and is simply acked.
"""

from __future__ import annotations

import asyncio
import logging

from faststream.nats import NatsBroker, NatsMessage
from nats.aio.msg import Msg

from libs.conversation_state import ConversationState, ConversationStore
from libs.messages import (
    AgentReply,
    Channel,
    CustomerTurn,
    ReplyKind,
    TranscriptLine,
    VoiceCancel,
    VoiceToken,
)
from libs.publishing import publish_reply
from libs.subjects import voice_call_subject, voice_cancel_subject
from libs.telemetry import inject_trace_headers
from services.agent_worker.agent import Agent, TurnContext, TurnTools
from services.agent_worker.handoff_request import HandoffRequester
from services.agent_worker.turn_lease import TurnLease
from services.agent_worker.turn_log import LoggedTurn, TurnLog

log = logging.getLogger("baton.agent_worker.turns")


class TurnProcessor:
    def __init__(
        self,
        *,
        broker: NatsBroker,
        store: ConversationStore,
        log_reader: TurnLog,
        lease: TurnLease,
        agent: Agent,
        handoff: HandoffRequester,
        wait_seconds: float,
    ) -> None:
        self._broker = broker
        self._store = store
        self._log = log_reader
        self._lease = lease
        self._agent = agent
        self._handoff = handoff
        self._wait = wait_seconds

    async def handle(self, turn: CustomerTurn, message: NatsMessage) -> None:
        conversation_id = turn.conversation_id
        async with self._lease.held(
            conversation_id, wait_seconds=self._wait, heartbeat=message.in_progress
        ):
            while await self._answer_pending(conversation_id):
                pass

    async def _answer_pending(self, conversation_id: str) -> bool:
        state = await self._store.get(conversation_id)
        pending = await self._log.pending(conversation_id, state.last_turn_seq)
        if not pending:
            return False
        lines = [
            TranscriptLine(role="customer", text=p.turn.text, at=p.turn.received_at)
            for p in pending
        ]
        if not state.bot_may_answer:
            log.info(
                "conversation %s is %s: turn recorded, no reply", conversation_id, state.status
            )
            await self._record(conversation_id, pending, lines)
            return True
        latest = pending[-1]
        context = TurnContext(
            conversation_id=conversation_id,
            epoch=state.epoch,
            route=latest.turn.route,
            text="\n".join(p.turn.text for p in pending),
            history=list(state.history),
            turn_sequence=latest.sequence,
        )
        tools = TurnTools(
            handoff=lambda reason, attributes: self._handoff.request(context, reason, attributes)
        )
        if context.route.channel is Channel.VOICE:
            text = await self._speak(context, tools)
        else:
            text = "".join([token async for token in self._agent.respond(context, tools)])
            if text:
                kind = ReplyKind.HANDOFF_NOTICE if tools.handoff_initiated else ReplyKind.ANSWER
                await self._publish_reply(context, latest, text, kind)
        if text:
            lines.append(TranscriptLine(role="agent", text=text))
        await self._record(conversation_id, pending, lines)
        return True

    async def _speak(self, context: TurnContext, tools: TurnTools) -> str:
        """Stream the reply to the call's gateway token by token; stop if the caller cuts in."""
        connection = self._broker.connection
        call_sid = context.route.call_sid or context.conversation_id
        call_subject = voice_call_subject(call_sid)
        turn = context.turn_sequence
        spoken: list[str] = []

        async def generate() -> None:
            async for token in self._agent.respond(context, tools):
                spoken.append(token)
                message = VoiceToken(turn=turn, token=token)
                await connection.publish(
                    call_subject, message.model_dump_json().encode(), headers=inject_trace_headers()
                )

        generation = asyncio.create_task(generate())

        async def on_cancel(message: Msg) -> None:
            if VoiceCancel.model_validate_json(message.data).through_turn >= turn:
                generation.cancel()

        subscription = await connection.subscribe(voice_cancel_subject(call_sid), cb=on_cancel)
        try:
            await asyncio.wait({generation})
        finally:
            await subscription.unsubscribe()
        if generation.cancelled():
            log.info("call %s: turn %s interrupted by the caller", call_sid, turn)
            return "".join(spoken)
        generation.result()
        final = VoiceToken(turn=turn, token="", last=True)
        await connection.publish(
            call_subject, final.model_dump_json().encode(), headers=inject_trace_headers()
        )
        return "".join(spoken)

    async def _publish_reply(
        self, context: TurnContext, latest: LoggedTurn, text: str, kind: ReplyKind
    ) -> None:
        reply = AgentReply(
            conversation_id=context.conversation_id,
            reply_id=f"{context.conversation_id}:{latest.sequence}",
            route=context.route,
            text=text,
            epoch=context.epoch,
            kind=kind,
        )
        await publish_reply(self._broker, reply)

    async def _record(
        self, conversation_id: str, pending: list[LoggedTurn], lines: list[TranscriptLine]
    ) -> None:
        latest = pending[-1]

        def advance(state: ConversationState) -> ConversationState:
            state.last_turn_seq = max(state.last_turn_seq, latest.sequence)
            state.route = latest.turn.route
            state.add_history(*lines)
            return state

        await self._store.update(conversation_id, advance)
