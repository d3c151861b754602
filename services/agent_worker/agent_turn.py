"""One agent turn: the agent answers a coalesced turn, on a call or on a digital channel.

The turn is an ``agent.turn`` span (time to first token, tokens out) in the trace of the
newest customer message it answers, linked to the delivery that woke the worker when that
was an earlier message. The handoff tool's ``tool handoff`` span sits inside it, so a
handoff request continues the trace of the turn that asked for it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from faststream.nats import NatsBroker
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, Tracer
from opentelemetry.util.types import AttributeValue

from libs.contracts.messages import Channel, ReplyKind
from libs.platform.conversation_store import ConversationStore
from libs.platform.propagation import extract_trace_context
from libs.platform.span_attributes import CALL_SID, CHANNEL, CONVERSATION_ID, TURN_SEQUENCE
from libs.platform.tracing import sensitive_spans
from services.agent_worker.agent import Agent, TurnContext, TurnTools
from services.agent_worker.digital_replies import publish_digital_reply
from services.agent_worker.handoff import TurnHandoff
from services.agent_worker.metrics import AGENT_TIME_TO_FIRST_TOKEN, AGENT_TURN
from services.agent_worker.summary import Summarizer
from services.agent_worker.turn_log import LoggedTurn
from services.agent_worker.voice_cancels import VoiceCancels
from services.agent_worker.voice_stream import VoiceReplyStream


@dataclass(frozen=True)
class AgentRunner:
    """Everything an agent turn needs besides the turn itself."""

    agent: Agent
    broker: NatsBroker
    store: ConversationStore
    summarizer: Summarizer
    tracer: Tracer
    voice_cancels: VoiceCancels
    """Callers' interruptions, heard on the worker's one subscription."""
    voice_flush_seconds: float = 0.0
    """How long reply tokens of a call may be held to go out together (0: each at once)."""

    async def answer(self, turn: TurnContext, latest: LoggedTurn, coalesced: int) -> str:
        """Let the agent answer ``turn``; returns what reached (or was cut for) the customer."""
        handoff = TurnHandoff(
            turn,
            broker=self.broker,
            store=self.store,
            summarizer=self.summarizer,
            tracer=self.tracer,
        )
        tools = TurnTools(handoff=handoff)
        parent, links = trace_of(latest)
        with self.tracer.start_as_current_span(
            "agent.turn", context=parent, links=links, attributes=turn_attributes(turn, coalesced)
        ) as span:
            meter = ReplyMeter(span, turn.route.channel)
            if turn.route.channel is Channel.VOICE:
                call_sid = turn.route.call_sid or turn.conversation_id
                stream = VoiceReplyStream(
                    self.broker.connection,
                    self.voice_cancels,
                    self.tracer,
                    call_sid,
                    turn.turn_sequence,
                    flush_seconds=self.voice_flush_seconds,
                )
                tools.voice = stream.controls
                spoken = await stream.speak(meter.count(self.agent.respond(turn, tools)))
                text, meter.interrupted = spoken.text, spoken.interrupted
            else:
                text = "".join([t async for t in meter.count(self.agent.respond(turn, tools))])
                if text:
                    kind = ReplyKind.HANDOFF_NOTICE if handoff.initiated else ReplyKind.ANSWER
                    await publish_digital_reply(self.broker, turn, text, kind)
            meter.finish(handoff=handoff.initiated)
        return text


def trace_of(latest: LoggedTurn) -> tuple[Context | None, list[Link]]:
    """The trace of the newest message answered, when it is not the one being processed.

    The delivered message's ``process`` span is current; when a burst answered here ends
    with a later message, the turn continues that message's trace and links the delivery.
    """
    parent = extract_trace_context(latest.headers)
    newest = trace.get_current_span(parent).get_span_context()
    current = trace.get_current_span().get_span_context()
    if not newest.is_valid or newest.trace_id == current.trace_id:
        return None, []
    return parent, [Link(current)] if current.is_valid else []


def turn_attributes(turn: TurnContext, coalesced: int) -> dict[str, AttributeValue]:
    """What an SRE searches an agent turn by; the customer's words only when sensitive is on."""
    attributes: dict[str, AttributeValue] = {
        CONVERSATION_ID: turn.conversation_id,
        CHANNEL: turn.route.channel.value,
        TURN_SEQUENCE: turn.turn_sequence,
        "baton.conversation.epoch": turn.epoch,
        "baton.turn.coalesced": coalesced,
    }
    if turn.route.call_sid:
        attributes[CALL_SID] = turn.route.call_sid
    if sensitive_spans():
        attributes["baton.turn.text"] = turn.text
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
