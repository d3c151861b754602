"""One live ConversationRelay socket: what has been said, what was cut, and the pending ``end``.

Everything addressed to the call (reply tokens, agent frames, the handoff ``end``, a
hang-up) arrives over core NATS on the call's subject, which only the replica holding the
socket subscribes to. Turn numbers (the JetStream sequence of the customer's prompt) keep
the ordering rules local and simple:

- a token of a turn the caller interrupted is dropped once the ``interrupt`` frame is read;
- ``end`` goes out exactly once, right after the ``last:true`` frame of the goodbye turn,
  or at once if that turn was interrupted (the cut reply is closed with ``last:true`` first);
- a caller who hung up before that gets ``caller_gone``.

When the session has a :class:`VoiceTurnTiming`, the first frame of each turn stops its clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from libs.contracts.messages import VoiceEnd, VoiceEndAnswer, VoiceFrame, VoiceToken
from services.relay_gateway.turn_timing import VoiceTurnTiming

log = logging.getLogger("baton.relay_gateway.calls")

SendFrame = Callable[[dict[str, Any]], Awaitable[None]]
AGENT_FRAME_TYPES = frozenset({"play", "sendDigits", "language"})


@dataclass
class PendingEnd:
    command: VoiceEnd
    answer: asyncio.Future[VoiceEndAnswer]


@dataclass
class CallSession:
    call_sid: str
    send: SendFrame
    last_published_turn: int = 0
    """Sequence of the newest prompt this gateway stored for the agent."""
    completed_through: int = 0
    """Every turn up to here has had its ``last:true`` frame (or was cut and closed)."""
    interrupted_through: int = 0
    end_sent: bool = False
    closed: bool = False
    pending_end: PendingEnd | None = None
    timing: VoiceTurnTiming | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def _send(self, frame: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            await self.send(frame)
        except Exception as error:  # the socket went away under us
            log.info("call %s: send failed (%r), treating as hung up", self.call_sid, error)
            self.hung_up()
            return

    def prompt_stored(self, turn: int) -> None:
        self.last_published_turn = max(self.last_published_turn, turn)

    async def on_token(self, token: VoiceToken) -> None:
        async with self._lock:
            if token.turn <= self.interrupted_through or token.turn <= self.completed_through:
                return
            await self._send({"type": "text", "token": token.token, "last": token.last})
            if self.timing is not None and not self.closed:
                self.timing.first_frame(token.turn)
            if token.last:
                self.completed_through = max(self.completed_through, token.turn)
                await self._flush_end()

    async def on_agent_frame(self, message: VoiceFrame) -> None:
        async with self._lock:
            if message.turn <= self.interrupted_through:
                return
            if message.frame.get("type") not in AGENT_FRAME_TYPES:
                log.warning("call %s: agent frame %r refused", self.call_sid, message.frame)
                return
            await self._send(message.frame)
            if self.timing is not None and not self.closed:
                self.timing.first_frame(message.turn)

    async def on_interrupt(self) -> int:
        """The caller spoke over the reply: cut every turn so far. Returns the cut-off turn."""
        async with self._lock:
            cut = self.last_published_turn
            reply_open = cut > self.completed_through
            self.interrupted_through = max(self.interrupted_through, cut)
            if self.timing is not None:
                self.timing.interrupted(cut)
            if reply_open:
                await self._send({"type": "text", "token": "", "last": True})
                self.completed_through = max(self.completed_through, cut)
            await self._flush_end()
            return cut

    async def on_end(self, command: VoiceEnd) -> VoiceEndAnswer:
        async with self._lock:
            if self.end_sent:
                return VoiceEndAnswer(status="sent")
            if self.closed:
                return VoiceEndAnswer(status="caller_gone")
            if self.pending_end is None:
                future: asyncio.Future[VoiceEndAnswer] = asyncio.get_running_loop().create_future()
                self.pending_end = PendingEnd(command, future)
            pending = self.pending_end
            await self._flush_end()
        return await asyncio.shield(pending.answer)

    async def _flush_end(self) -> None:
        pending = self.pending_end
        if pending is None or self.end_sent or self.closed:
            return
        if self.completed_through < pending.command.turn:
            return
        await self._send({"type": "end", "handoffData": pending.command.handoff_data})
        if self.closed:
            return
        self.end_sent = True
        self.pending_end = None
        if not pending.answer.done():
            pending.answer.set_result(VoiceEndAnswer(status="sent"))
        log.info("call %s: end sent for handoff %s", self.call_sid, pending.command.handoff_id)

    def hung_up(self) -> None:
        self.closed = True
        if self.timing is not None:
            self.timing.close()
        pending, self.pending_end = self.pending_end, None
        if pending is not None and not pending.answer.done():
            pending.answer.set_result(VoiceEndAnswer(status="caller_gone"))
