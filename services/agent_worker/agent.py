"""What an agent is to the worker: it reads one coalesced turn and streams a reply.

The worker owns everything around it (order, leases, state, publishing); an agent only
decides what to say and whether to call the handoff tool.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
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


Summarize = Callable[[], Awaitable[str]]
"""Writes the summary for the human; called only once the episode is claimed."""
HandoffCall = Callable[[str, dict[str, Any] | None, Summarize | None], Awaitable[dict[str, Any]]]
"""``(reason, application attributes, summarize)`` → TAC's result dict (``status``, …)."""


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
    """The tools of one turn; the handoff tool takes only a ``reason``, as in TAC."""

    handoff: HandoffCall
    handoff_results: list[dict[str, Any]] = field(default_factory=list)
    voice: VoiceControls | None = None
    """Set on voice turns only."""

    async def request_handoff(
        self,
        reason: str,
        attributes: dict[str, Any] | None = None,
        summarize: Summarize | None = None,
    ) -> dict[str, Any]:
        result = await self.handoff(reason, attributes, summarize)
        self.handoff_results.append(result)
        return result

    @property
    def handoff_initiated(self) -> bool:
        return any(r.get("status") == "handoff_initiated" for r in self.handoff_results)


class Agent(Protocol):
    def respond(self, turn: TurnContext, tools: TurnTools) -> AsyncIterator[str]:
        """Yield reply tokens as they are produced."""
        ...
