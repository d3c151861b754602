"""What an agent is to the worker: it reads one coalesced turn and streams a reply.

The worker owns everything around it (order, leases, state, publishing); an agent only
decides what to say, and whether to hand off through the turn's tools.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from libs.contracts.messages import Route, TranscriptLine


@dataclass(frozen=True)
class TurnContext:
    conversation_id: str
    epoch: int
    route: Route
    text: str
    """The customer's new messages, joined in arrival order."""
    history: list[TranscriptLine]
    """The conversation before this turn, oldest first."""
    turn_sequence: int = 0
    """Stream sequence of the newest customer message in this turn."""
    turn_received_at: datetime | None = None
    """When a gateway received the newest customer message of this turn."""


class HandoffStatus(StrEnum):
    """What asking for a human achieved, in the words TAC's handoff tool reports."""

    INITIATED = "handoff_initiated"
    """The episode was claimed and the request stored: a person is on the way."""
    ALREADY_REQUESTED = "handoff_already_requested"
    """This episode's handoff was requested before; nothing is sent twice."""
    FAILED = "handoff_failed"
    """The request could not be stored; the conversation stays with the bot."""


@dataclass(frozen=True)
class HandoffAnswer:
    """The handoff tool's answer; :meth:`as_tac` is the dict TAC's tool returns."""

    status: HandoffStatus
    channel: str
    """TAC's channel name: ``SMS``, ``WHATSAPP``, ``RCS``, ``CHAT`` or ``VOICE``."""
    detail: str = ""

    def as_tac(self) -> dict[str, str]:
        answer = {"status": self.status.value, "channel": self.channel}
        if self.status is HandoffStatus.ALREADY_REQUESTED:
            answer["detail"] = self.detail
        elif self.status is HandoffStatus.FAILED:
            answer["error"] = self.detail
        return answer


class Handoff(Protocol):
    """One turn's handoff: the first request of an episode claims it; later ones are told so."""

    async def request(
        self, reason: str, attributes: Mapping[str, Any] | None = None
    ) -> HandoffAnswer: ...

    @property
    def initiated(self) -> bool:
        """Whether this turn's handoff was initiated (the reply is then the goodbye)."""
        ...


SendFrame = Callable[[dict[str, Any]], Awaitable[None]]
DIGITS = re.compile(r"^[0-9w#*]+$")


@dataclass(frozen=True)
class VoiceControls:
    """What an agent can do on a call besides speaking: ConversationRelay's other frames."""

    send: SendFrame

    async def play(self, source: str, *, loop: int = 1, interruptible: bool = True) -> None:
        """Play audio from a URL (hold music, a chime); ``loop=0`` plays it 1,000 times."""
        if not source.startswith(("https://", "http://")):
            raise ValueError("play needs an http(s) URL")
        await self.send(
            {"type": "play", "source": source, "loop": loop, "interruptible": interruptible}
        )

    async def send_digits(self, digits: str) -> None:
        """Send DTMF to the far end (an IVR); ``w`` waits half a second."""
        if not DIGITS.match(digits):
            raise ValueError("digits may only contain 0-9, w, # and *")
        await self.send({"type": "sendDigits", "digits": digits})

    async def language(self, *, tts: str | None = None, transcription: str | None = None) -> None:
        """Switch the speech and/or transcription language mid-call."""
        if not (tts or transcription):
            raise ValueError("give a text-to-speech or a transcription language")
        frame: dict[str, Any] = {"type": "language"}
        if tts:
            frame["ttsLanguage"] = tts
        if transcription:
            frame["transcriptionLanguage"] = transcription
        await self.send(frame)


@dataclass
class TurnTools:
    """The tools of one turn: the handoff (only a ``reason``, as in TAC) and, on calls, voice."""

    handoff: Handoff
    voice: VoiceControls | None = None
    """Set on voice turns only."""

    async def request_handoff(
        self, reason: str, attributes: Mapping[str, Any] | None = None
    ) -> HandoffAnswer:
        return await self.handoff.request(reason, attributes)

    @property
    def handoff_initiated(self) -> bool:
        return self.handoff.initiated


class Agent(Protocol):
    def respond(self, turn: TurnContext, tools: TurnTools) -> AsyncIterator[str]:
        """Yield reply tokens as they are produced."""
        ...
