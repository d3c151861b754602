"""What the relay socket accepts from Twilio, and what it ignores without ending the call.

One malformed, oversized or unexpected frame must not drop a caller: it is counted, logged
(the first few per call, with control characters escaped, never the caller's words) and
ignored. Final prompts, interrupts and DTMF digits each draw on a per-call allowance, so a
flood of frames cannot become a flood of turns.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter as Tally
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from libs.platform.logs import printable
from services.relay_gateway.metrics import VOICE_FRAMES_IGNORED
from services.relay_gateway.settings import RelayGatewaySettings

log = logging.getLogger("baton.relay_gateway.frames")

DTMF_DIGIT = re.compile(r"[0-9*#]")
LOGGED_PER_CALL = 10
"""Ignored frames logged one by one per call; the rest are only counted (and summed at the end)."""
KNOWN_TYPES = frozenset({"setup", "prompt", "interrupt", "dtmf", "error", "info"})


class Ignored(StrEnum):
    """Why a frame from the socket did nothing."""

    BINARY = "binary"
    OVERSIZED = "oversized"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    UNKNOWN_TYPE = "unknown_type"
    MALFORMED = "malformed"
    PROMPT_TOO_LONG = "prompt_too_long"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True)
class FrameLimits:
    max_frame_bytes: int
    max_prompt_chars: int
    prompt_burst: int
    prompts_per_second: float
    dtmf_burst: int
    dtmf_per_second: float

    @classmethod
    def from_settings(cls, settings: RelayGatewaySettings) -> FrameLimits:
        return cls(
            max_frame_bytes=settings.baton_voice_max_frame_bytes,
            max_prompt_chars=settings.baton_voice_max_prompt_chars,
            prompt_burst=settings.baton_voice_prompt_burst,
            prompts_per_second=settings.baton_voice_prompts_per_second,
            dtmf_burst=settings.baton_voice_dtmf_burst,
            dtmf_per_second=settings.baton_voice_dtmf_per_second,
        )


@dataclass
class Allowance:
    """A token bucket: ``burst`` frames at once, refilled at ``per_second``."""

    burst: int
    per_second: float
    tokens: float = field(init=False)
    refilled_at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def take(self) -> bool:
        now = time.monotonic()
        elapsed, self.refilled_at = now - self.refilled_at, now
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.per_second)
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def read_frame(message: Mapping[str, Any], max_bytes: int) -> dict[str, Any] | Ignored:
    """The JSON object in one ``websocket.receive`` message, or why it is ignored."""
    text = message.get("text")
    if text is None:
        return Ignored.BINARY
    if len(text) > max_bytes or len(text.encode()) > max_bytes:
        return Ignored.OVERSIZED
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):  # deep nesting raises RecursionError
        return Ignored.NOT_JSON
    if not isinstance(frame, dict):
        return Ignored.NOT_OBJECT
    return frame


def prompt_text(frame: dict[str, Any], limits: FrameLimits) -> str | Ignored | None:
    """The final prompt's text; ``None`` for a partial prompt (nothing to do), or why not."""
    last = frame.get("last", True)
    text = frame.get("voicePrompt")
    if not isinstance(last, bool) or not isinstance(text, str) or not text.strip():
        return Ignored.MALFORMED
    if len(text) > limits.max_prompt_chars:
        return Ignored.PROMPT_TOO_LONG
    return text if last else None


def dtmf_digit(frame: dict[str, Any]) -> str | Ignored:
    digit = frame.get("digit")
    if not isinstance(digit, str) or not DTMF_DIGIT.fullmatch(digit):
        return Ignored.MALFORMED
    return digit


@dataclass
class CallerFrames:
    """One call's allowances and its tally of ignored frames."""

    call_sid: str
    limits: FrameLimits
    prompts: Allowance = field(init=False)
    interrupts: Allowance = field(init=False)
    digits: Allowance = field(init=False)
    ignored: Tally[str] = field(default_factory=Tally)
    twilio_errors: int = 0

    def __post_init__(self) -> None:
        limits = self.limits
        self.prompts = Allowance(limits.prompt_burst, limits.prompts_per_second)
        self.interrupts = Allowance(limits.prompt_burst, limits.prompts_per_second)
        self.digits = Allowance(limits.dtmf_burst, limits.dtmf_per_second)

    def ignore(self, reason: Ignored, frame: dict[str, Any] | None = None) -> None:
        """Count (and for the first few, log) a frame that does nothing."""
        VOICE_FRAMES_IGNORED.inc(reason=reason.value)
        self.ignored[reason.value] += 1
        if sum(self.ignored.values()) > LOGGED_PER_CALL:
            return
        kind = frame.get("type") if frame is not None else None
        shown = printable(kind, 40) if isinstance(kind, str) else type(kind).__name__
        log.warning("call %s: frame ignored (%s, type %s)", self.call_sid, reason.value, shown)

    def twilio_error(self, frame: dict[str, Any]) -> None:
        """Log Twilio's ``error`` frame (the first few per call; the rest are summed)."""
        self.twilio_errors += 1
        if self.twilio_errors > LOGGED_PER_CALL:
            return
        description = frame.get("description")
        text = description if isinstance(description, str) else repr(description)
        log.warning("call %s: Twilio reported %s", self.call_sid, printable(text))

    def summary(self) -> None:
        """At the end of the call: the frames not logged one by one, by reason."""
        if sum(self.ignored.values()) > LOGGED_PER_CALL:
            reasons = ", ".join(f"{reason} {count}" for reason, count in self.ignored.items())
            log.warning("call %s: frames ignored during the call: %s", self.call_sid, reasons)
        if self.twilio_errors > LOGGED_PER_CALL:
            log.warning("call %s: Twilio reported %d errors", self.call_sid, self.twilio_errors)
