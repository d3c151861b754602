"""Each caller prompt as its own trace, timed until the reply's first frame reaches Twilio.

A voice turn starts a new trace (linked to the call's WebSocket span) rather than joining the
call's span: a long call would otherwise be one giant trace, and a handoff is one trace from
the prompt that asked for it. The ``voice.turn`` span ends when the first reply frame of its
turn is sent; that interval is the turn latency a caller hears as silence.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanContext, Tracer

from libs.platform.span_attributes import CALL_SID, CHANNEL, CONVERSATION_ID, TURN_SEQUENCE
from services.relay_gateway.metrics import VOICE_PROMPT_STORED, VOICE_TURN_LATENCY


@dataclass
class OpenTurn:
    span: Span
    read_at: float
    """``time.monotonic()`` when the prompt was read from the socket."""


class VoiceTurnTiming:
    def __init__(self, tracer: Tracer, call_sid: str, call_span: SpanContext | None) -> None:
        self._tracer = tracer
        self._call_sid = call_sid
        self._links = [Link(call_span)] if call_span is not None and call_span.is_valid else []
        self._open: dict[int, OpenTurn] = {}

    def begin(self, kind: str, prompt: int) -> OpenTurn:
        """The prompt was just read: a new trace starts here."""
        span = self._tracer.start_span(
            "voice.turn",
            context=Context(),
            links=self._links,
            attributes={
                CALL_SID: self._call_sid,
                CONVERSATION_ID: self._call_sid,
                CHANNEL: "voice",
                "baton.voice.prompt": prompt,
                "baton.voice.prompt_kind": kind,
            },
        )
        return OpenTurn(span, time.monotonic())

    def stored(self, turn: int, opened: OpenTurn) -> None:
        """The turn is in JetStream as sequence ``turn``; its reply frames will carry it."""
        opened.span.set_attribute(TURN_SEQUENCE, turn)
        with trace.use_span(opened.span, end_on_exit=False):
            VOICE_PROMPT_STORED.observe(time.monotonic() - opened.read_at)
        self._open[turn] = opened

    def failed(self, opened: OpenTurn) -> None:
        """The turn could not be stored (the span already carries the error)."""
        opened.span.end()

    def first_frame(self, turn: int) -> None:
        """A reply frame of ``turn`` went out: the caller no longer waits for it or earlier ones."""
        if turn not in self._open:
            return
        for earlier in sorted(t for t in self._open if t < turn):
            self._close(earlier, "coalesced")
        opened = self._open.pop(turn)
        latency = time.monotonic() - opened.read_at
        opened.span.set_attribute("baton.voice.turn_latency_ms", round(latency * 1000, 1))
        with trace.use_span(opened.span, end_on_exit=True):
            VOICE_TURN_LATENCY.observe(latency)

    def interrupted(self, through: int) -> None:
        """The caller spoke over the replies up to ``through``: those turns are not timed."""
        for turn in sorted(t for t in self._open if t <= through):
            self._close(turn, "interrupted")

    def close(self) -> None:
        """The call ended with turns still unanswered."""
        for turn in sorted(self._open):
            self._close(turn, "hung_up")

    def _close(self, turn: int, reason: str) -> None:
        opened = self._open.pop(turn)
        opened.span.set_attribute("baton.voice.unanswered", reason)
        opened.span.end()
