"""Speaking a reply on a call: tokens over core NATS to the replica that holds the socket.

The reply is streamed as the agent produces it, each token a ``VoiceToken`` on the call's
subject, closed by an empty ``last:true`` token. The agent may also send ConversationRelay's
other frames (``play``, ``sendDigits``, ``language``). When the caller interrupts, the
gateway publishes a cancel on the call's cancel subject and the generation stops. All of a
turn's tokens share one ``send`` span (its ``messaging.batch.message_count`` is the count).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from opentelemetry.trace import Tracer

from libs.contracts.messages import VoiceCancel, VoiceFrame, VoiceToken
from libs.contracts.subjects import VOICE_CALL, VOICE_CANCEL
from libs.platform.propagation import inject_trace_headers, send_span
from libs.platform.span_attributes import CALL_SID, TURN_SEQUENCE
from services.agent_worker.agent import VoiceControls

log = logging.getLogger("baton.agent_worker.voice")


@dataclass(frozen=True)
class Spoken:
    text: str
    interrupted: bool


class VoiceReplyStream:
    """One voice turn's reply, addressed to the call's socket owner."""

    def __init__(self, connection: Client, tracer: Tracer, call_sid: str, turn: int) -> None:
        self._connection = connection
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
        self.controls = VoiceControls(self._send_frame)

    async def speak(self, tokens: AsyncIterator[str]) -> Spoken:
        """Forward ``tokens`` until they end or the caller interrupts this turn."""
        spoken: list[str] = []
        cut = asyncio.Event()

        async def generate() -> None:
            async for token in tokens:
                if cut.is_set():  # a cancellation nats-py swallowed while publishing
                    raise asyncio.CancelledError
                spoken.append(token)
                await self._publish(VoiceToken(turn=self._turn, token=token))

        generation = asyncio.create_task(generate())

        async def on_cancel(message: Msg) -> None:
            if VoiceCancel.model_validate_json(message.data).through_turn >= self._turn:
                cut.set()
                generation.cancel()

        try:
            cancel = VOICE_CANCEL.subject(self._call_sid)
            subscription = await self._connection.subscribe(cancel, cb=on_cancel)
            try:
                await asyncio.wait({generation})
            finally:
                await subscription.unsubscribe()
            if generation.cancelled() or cut.is_set():
                log.info("call %s: turn %s interrupted by the caller", self._call_sid, self._turn)
                return Spoken("".join(spoken), interrupted=True)
            generation.result()
            await self._publish(VoiceToken(turn=self._turn, token="", last=True))
            return Spoken("".join(spoken), interrupted=False)
        finally:
            self._span.set_attribute("messaging.batch.message_count", self._sent)
            self._span.end()

    async def _send_frame(self, frame: dict[str, Any]) -> None:
        await self._publish(VoiceFrame(turn=self._turn, frame=frame))

    async def _publish(self, message: VoiceToken | VoiceFrame) -> None:
        self._sent += 1
        await self._connection.publish(
            self._subject,
            message.model_dump_json().encode(),
            headers=inject_trace_headers(span=self._span),
        )
