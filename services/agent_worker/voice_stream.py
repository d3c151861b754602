"""Speaking a reply on a call: tokens over core NATS to the replica that holds the socket.

The reply is streamed as the agent produces it, its tokens coalesced into pieces
(:mod:`token_coalescing`: the first token at once, then by phrase or time window), each piece
a ``VoiceToken`` on the call's subject and one ConversationRelay ``text`` frame; the last
piece carries ``last:true``. The agent may also send ConversationRelay's other frames
(``play``, ``sendDigits``, ``language``), which go out after the text held before them. When
the caller interrupts, the gateway publishes a cancel on the call's cancel subject, which the
worker's one subscription (:mod:`voice_cancels`) hands to this stream: the generation stops
and held tokens are dropped. All of a turn's pieces share one ``send`` span
(its ``messaging.batch.message_count`` is the count).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from opentelemetry.trace import Tracer

from libs.contracts.messages import VoiceCancel, VoiceFrame, VoiceToken
from libs.contracts.subjects import VOICE_CALL
from libs.platform.propagation import inject_trace_headers, send_span
from libs.platform.span_attributes import CALL_SID, TURN_SEQUENCE
from services.agent_worker.agent import VoiceControls
from services.agent_worker.token_coalescing import TokenCoalescer
from services.agent_worker.voice_cancels import VoiceCancels

log = logging.getLogger("baton.agent_worker.voice")


@dataclass(frozen=True)
class Spoken:
    text: str
    interrupted: bool


class VoiceReplyStream:
    """One voice turn's reply, addressed to the call's socket owner."""

    def __init__(
        self,
        connection: Client,
        cancels: VoiceCancels,
        tracer: Tracer,
        call_sid: str,
        turn: int,
        *,
        flush_seconds: float = 0.0,
    ) -> None:
        self._connection = connection
        self._cancels = cancels
        self._call_sid = call_sid
        self._turn = turn
        self._subject = VOICE_CALL.subject(call_sid)
        self._span = send_span(
            tracer,
            self._subject,
            VOICE_CALL.template,
            {CALL_SID: call_sid, TURN_SEQUENCE: turn, "baton.voice.command": "token"},
        )
        self._sent = 0
        self._coalescer = TokenCoalescer(flush_seconds)
        self._sending = asyncio.Lock()
        """Pieces and frames leave one at a time, in the order the agent produced them."""
        self._window: asyncio.TimerHandle | None = None
        self._window_flush: asyncio.Task[None] | None = None
        self._spoken: list[str] = []
        self._cut = asyncio.Event()
        self.controls = VoiceControls(self._send_frame)

    async def speak(self, tokens: AsyncIterator[str]) -> Spoken:
        """Forward ``tokens`` until they end or the caller interrupts this turn."""
        cut = self._cut
        loop = asyncio.get_running_loop()

        async def generate() -> None:
            async for token in tokens:
                if cut.is_set():  # a cancellation nats-py swallowed while publishing
                    raise asyncio.CancelledError
                piece = self._coalescer.add(token, loop.time())
                if piece is not None:
                    async with self._sending:
                        await self._say(piece)
                self._follow_window(loop)

        generation = asyncio.create_task(generate())

        def on_cancel(cancel: VoiceCancel) -> None:
            if cancel.through_turn >= self._turn:
                cut.set()
                generation.cancel()
                self._stop_window()

        try:
            with self._cancels.listening(self._call_sid, on_cancel):
                try:
                    await asyncio.wait({generation})
                finally:
                    self._stop_window()
            if generation.cancelled() or cut.is_set():
                self._coalescer.take()  # late tokens of an interrupted turn are dropped
                log.info("call %s: turn %s interrupted by the caller", self._call_sid, self._turn)
                return Spoken("".join(self._spoken), interrupted=True)
            generation.result()
            async with self._sending:
                rest = self._coalescer.take()
                self._spoken.append(rest)
                await self._publish(VoiceToken(turn=self._turn, token=rest, last=True))
            return Spoken("".join(self._spoken), interrupted=False)
        finally:
            self._span.set_attribute("messaging.batch.message_count", self._sent)
            self._span.end()

    def _follow_window(self, loop: asyncio.AbstractEventLoop) -> None:
        """A timer for the held tokens' window; none while nothing is held."""
        deadline = self._coalescer.deadline
        if deadline is None:
            if self._window is not None:
                self._window.cancel()
                self._window = None
        elif self._window is None:
            self._window = loop.call_at(deadline, self._window_passed)

    def _window_passed(self) -> None:
        self._window = None
        self._window_flush = asyncio.create_task(self._flush_held())

    async def _flush_held(self) -> None:
        """The window passed with no phrase end: what is held goes out now."""
        async with self._sending:
            if self._cut.is_set():
                return
            piece = self._coalescer.take()
            if piece:
                await self._say(piece)

    def _stop_window(self) -> None:
        if self._window is not None:
            self._window.cancel()
            self._window = None
        if self._window_flush is not None and self._cut.is_set():
            self._window_flush.cancel()

    async def _say(self, piece: str) -> None:
        self._spoken.append(piece)
        await self._publish(VoiceToken(turn=self._turn, token=piece))

    async def _send_frame(self, frame: dict[str, Any]) -> None:
        async with self._sending:
            held = self._coalescer.take()
            if held:
                await self._say(held)
            await self._publish(VoiceFrame(turn=self._turn, frame=frame))

    async def _publish(self, message: VoiceToken | VoiceFrame) -> None:
        self._sent += 1
        await self._connection.publish(
            self._subject,
            message.model_dump_json().encode(),
            headers=inject_trace_headers(span=self._span),
        )
