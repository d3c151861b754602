"""Handling a conversation's turns: in arrival order, one worker at a time, bot muted after handoff.

Each delivered turn message only wakes the worker up for its conversation. Under the
conversation's lease the worker reads every turn stored since the last one it consumed
(a burst becomes one agent turn), lets the agent answer, publishes the reply, and records
progress in the conversation state. A redelivered or already-covered message finds nothing
pending and is simply acked.

Each agent turn is an ``agent.turn`` span (time to first token, tokens out) in the trace of
the newest customer message it answers, linked to the delivery that woke the worker when that
was an earlier message; a handoff tool call is a ``tool handoff`` span in it, so the handoff
request continues the trace of the turn that asked for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from faststream.nats import NatsBroker, NatsMessage
from nats.aio.msg import Msg
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, Tracer
from opentelemetry.util.types import AttributeValue

from libs.contracts.conversation import record_turns
from libs.contracts.messages import (
    AgentReply,
    Channel,
    CustomerTurn,
    ReplyKind,
    TranscriptLine,
    VoiceCancel,
    VoiceFrame,
    VoiceToken,
    utc_now,
)
from libs.contracts.subjects import TURNS_STREAM, VOICE_CALL, VOICE_CANCEL
from libs.platform.conversation_store import ConversationStore
from libs.platform.propagation import extract_trace_context, inject_trace_headers, send_span
from libs.platform.publishing import publish_reply
from libs.platform.span_attributes import CALL_SID, CHANNEL, CONVERSATION_ID, TURN_SEQUENCE
from libs.platform.tracing import sensitive_spans
from services.agent_worker.agent import Agent, Summarize, TurnContext, TurnTools, VoiceControls
from services.agent_worker.handoff_request import HandoffRequester
from services.agent_worker.metrics import AGENT_TIME_TO_FIRST_TOKEN, AGENT_TURN, HANDOFF_DECISION
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
        tracer: Tracer | None = None,
    ) -> None:
        self._broker = broker
        self._store = store
        self._log = log_reader
        self._lease = lease
        self._agent = agent
        self._handoff = handoff
        self._wait = wait_seconds
        self._tracer = tracer or trace.get_tracer("baton.agent_worker")

    async def handle(self, turn: CustomerTurn, message: NatsMessage) -> None:
        conversation_id = turn.conversation_id
        delivered = message.raw_message.metadata.sequence.stream
        async with self._lease.held(
            conversation_id, wait_seconds=self._wait, heartbeat=message.in_progress
        ):
            while await self._answer_pending(conversation_id, delivered):
                pass

    async def _answer_pending(self, conversation_id: str, delivered: int) -> bool:
        """Answer the turns up to the delivered one; True while some are still unread."""
        state = await self._store.get(conversation_id)
        pending = await self._log.pending(conversation_id, state.last_turn_seq, delivered)
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
            trace.get_current_span().add_event(
                "turn recorded without a reply", {"baton.conversation.status": state.status.value}
            )
            await self._record(conversation_id, pending, lines)
            return pending[-1].sequence < delivered
        latest = pending[-1]
        context = TurnContext(
            conversation_id=conversation_id,
            epoch=state.epoch,
            route=latest.turn.route,
            text="\n".join(p.turn.text for p in pending),
            history=list(state.history),
            turn_sequence=latest.sequence,
            turn_received_at=latest.turn.received_at,
        )

        async def handoff(
            reason: str, attributes: dict[str, Any] | None, summarize: Summarize | None
        ) -> dict[str, Any]:
            return await self._handoff_tool(context, latest, reason, attributes, summarize)

        tools = TurnTools(handoff=handoff)
        parent, links = await self._trace_of(latest, delivered)
        with self._tracer.start_as_current_span(
            "agent.turn",
            context=parent,
            links=links,
            attributes=turn_attributes(context, len(pending)),
        ) as span:
            meter = ReplyMeter(span, context.route.channel)
            if context.route.channel is Channel.VOICE:
                text = await self._speak(context, tools, meter)
            else:
                text = "".join(
                    [token async for token in meter.count(self._agent.respond(context, tools))]
                )
                if text:
                    kind = ReplyKind.HANDOFF_NOTICE if tools.handoff_initiated else ReplyKind.ANSWER
                    await self._publish_reply(context, latest, text, kind)
            meter.finish(handoff=tools.handoff_initiated)
        if text:
            lines.append(TranscriptLine(role="agent", text=text))
        await self._record(conversation_id, pending, lines)
        return pending[-1].sequence < delivered

    async def _trace_of(
        self, latest: LoggedTurn, delivered: int
    ) -> tuple[Context | None, list[Link]]:
        """The trace of the newest message answered, when it is not the one delivered here."""
        if latest.sequence == delivered:
            return None, []
        try:
            raw = await self._broker.connection.jetstream().get_msg(
                TURNS_STREAM, seq=latest.sequence
            )
        except Exception as error:  # the turn is answered anyway, in the delivery's trace
            log.debug("no trace context for turn %s: %r", latest.sequence, error)
            return None, []
        parent = extract_trace_context(raw.headers)
        if not trace.get_current_span(parent).get_span_context().is_valid:
            return None, []
        return parent, [Link(trace.get_current_span().get_span_context())]

    async def _handoff_tool(
        self,
        context: TurnContext,
        latest: LoggedTurn,
        reason: str,
        attributes: dict[str, Any] | None,
        summarize: Summarize | None,
    ) -> dict[str, Any]:
        """The handoff tool, as a span of its own; a new request also times the decision."""
        channel = context.route.channel.value
        with self._tracer.start_as_current_span(
            "tool handoff",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "handoff",
                CONVERSATION_ID: context.conversation_id,
                CHANNEL: channel,
                "baton.handoff.reason": reason[:200],
            },
        ) as span:
            result = await self._handoff.request(context, reason, attributes, summarize)
            status = str(result.get("status", ""))
            span.set_attribute("baton.handoff.status", status)
            if status == "handoff_initiated":
                decided = utc_now() - latest.turn.received_at
                HANDOFF_DECISION.observe(decided.total_seconds(), channel=channel)
            return result

    async def _speak(self, context: TurnContext, tools: TurnTools, meter: ReplyMeter) -> str:
        """Stream the reply to the call's gateway token by token; stop if the caller cuts in."""
        connection = self._broker.connection
        call_sid = context.route.call_sid or context.conversation_id
        call_subject = VOICE_CALL.subject(call_sid)
        turn = context.turn_sequence
        spoken: list[str] = []
        sending = send_span(
            self._tracer,
            call_subject,
            VOICE_CALL.template,
            {CALL_SID: call_sid, TURN_SEQUENCE: turn, "baton.voice.command": "token"},
        )

        async def publish(message: VoiceToken | VoiceFrame) -> None:
            await connection.publish(
                call_subject,
                message.model_dump_json().encode(),
                headers=inject_trace_headers(span=sending),
            )

        async def send_frame(frame: dict[str, Any]) -> None:
            await publish(VoiceFrame(turn=turn, frame=frame))

        tools.voice = VoiceControls(send_frame)

        async def generate() -> None:
            async for token in meter.count(self._agent.respond(context, tools)):
                spoken.append(token)
                await publish(VoiceToken(turn=turn, token=token))

        generation = asyncio.create_task(generate())

        async def on_cancel(message: Msg) -> None:
            if VoiceCancel.model_validate_json(message.data).through_turn >= turn:
                generation.cancel()

        try:
            subscription = await connection.subscribe(VOICE_CANCEL.subject(call_sid), cb=on_cancel)
            try:
                await asyncio.wait({generation})
            finally:
                await subscription.unsubscribe()
            if generation.cancelled():
                log.info("call %s: turn %s interrupted by the caller", call_sid, turn)
                meter.interrupted = True
                return "".join(spoken)
            generation.result()
            await publish(VoiceToken(turn=turn, token="", last=True))
            return "".join(spoken)
        finally:
            sending.set_attribute("messaging.batch.message_count", meter.tokens + 1)
            sending.end()

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

        await self._store.apply(
            conversation_id, record_turns(latest.sequence, latest.turn.route, lines)
        )


def turn_attributes(context: TurnContext, coalesced: int) -> dict[str, AttributeValue]:
    """What an SRE searches an agent turn by; the customer's words only when sensitive is on."""
    attributes: dict[str, AttributeValue] = {
        CONVERSATION_ID: context.conversation_id,
        CHANNEL: context.route.channel.value,
        TURN_SEQUENCE: context.turn_sequence,
        "baton.conversation.epoch": context.epoch,
        "baton.turn.coalesced": coalesced,
    }
    if context.route.call_sid:
        attributes[CALL_SID] = context.route.call_sid
    if sensitive_spans():
        attributes["baton.turn.text"] = context.text
    return attributes


class ReplyMeter:
    """Times one agent turn: time to first token and the whole reply, on its span and histograms.

    Time to first token is the silence a caller hears once Baton has the turn, so it is
    measured here, around the agent's own stream of tokens.
    """

    def __init__(self, span: Span, channel: Channel) -> None:
        self._span = span
        self._channel = channel.value
        self._started = time.monotonic()
        self.tokens = 0
        self.interrupted = False

    async def count(self, tokens: AsyncIterator[str]) -> AsyncIterator[str]:
        async for token in tokens:
            if self.tokens == 0:
                ttft = time.monotonic() - self._started
                self._span.set_attribute("baton.agent.ttft_ms", round(ttft * 1000, 1))
                AGENT_TIME_TO_FIRST_TOKEN.observe(ttft, channel=self._channel)
            self.tokens += 1
            yield token

    def finish(self, *, handoff: bool) -> None:
        self._span.set_attribute("baton.agent.tokens_out", self.tokens)
        self._span.set_attribute("baton.agent.handoff", handoff)
        if self.interrupted:
            self._span.set_attribute("baton.agent.interrupted", True)
            return
        AGENT_TURN.observe(time.monotonic() - self._started, channel=self._channel)
