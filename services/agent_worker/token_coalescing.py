"""Reply tokens grouped into fewer, larger pieces on their way to the caller.

Each piece costs a NATS message, a ConversationRelay ``text`` frame and the gateway's work
for both; a word per piece made a voice turn a dozen of each. The first token goes out at
once (the caller's silence ends as soon as it can); after it, tokens are held until a
phrase ends (``. ! ? , ;`` or a newline: text-to-speech speaks phrase by phrase anyway) or
the window since the oldest held token has passed, whichever comes first.

The decisions are a pure function of tokens and times; the voice stream supplies the clock
and the timer that flushes a window whose tokens stopped coming.
"""

from __future__ import annotations

PHRASE_ENDS = frozenset(".!?,;")


def ends_phrase(token: str) -> bool:
    return "\n" in token or token.rstrip()[-1:] in PHRASE_ENDS


class TokenCoalescer:
    def __init__(self, window_seconds: float) -> None:
        self.window_seconds = window_seconds
        self._held: list[str] = []
        self._oldest: float | None = None
        self._started = False

    def add(self, token: str, now: float) -> str | None:
        """The text to send now, if ``token`` (arriving at ``now``) completes a piece."""
        if not token:
            return None
        if not self._started:
            self._started = True
            return token
        self._held.append(token)
        if self._oldest is None:
            self._oldest = now
        if ends_phrase(token) or now - self._oldest >= self.window_seconds:
            return self.take()
        return None

    @property
    def deadline(self) -> float | None:
        """When the held tokens must go out even if no further token comes."""
        return None if self._oldest is None else self._oldest + self.window_seconds

    def take(self) -> str:
        """Everything held, as one piece (empty when nothing is held)."""
        text = "".join(self._held)
        self._held.clear()
        self._oldest = None
        return text
