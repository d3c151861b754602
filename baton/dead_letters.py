"""``baton dlq``: list the messages consumers gave up on, and replay them once fixed.

Each dead letter in ``BATON_DLQ`` keeps the original subject and stream sequence, the reason
it was given up (``Baton-Error``) and its trace context. Replaying publishes the body again on
the original subject with a new ``Nats-Msg-Id`` (the stream would drop the original one within
its duplicate window), then removes the dead letter. Replaying is safe for every kind: a
reply's sending record keeps it from going out twice, a handoff's delivery record keeps it to
one Studio execution, and a turn is read once by the agent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime

from nats.js import JetStreamContext

from libs.contracts.subjects import DEAD_LETTER_STREAM, DEAD_LETTERS
from libs.platform.streams import stored_messages

ORIGINAL_SUBJECT = "Baton-Original-Subject"
ORIGINAL_SEQUENCE = "Baton-Original-Sequence"
REASON = "Baton-Error"
TRACEPARENT = "traceparent"


@dataclass(frozen=True)
class DeadLetter:
    sequence: int
    consumer: str
    original_subject: str
    original_sequence: str
    reason: str
    at: datetime | None
    data: bytes
    headers: dict[str, str]

    def line(self) -> str:
        when = self.at.strftime("%Y-%m-%d %H:%M:%S") if self.at else "?"
        return (
            f"{self.sequence:>6}  {when}  {self.consumer:<26} {self.original_subject}  "
            f"{self.reason}"
        )


async def dead_letters(
    js: JetStreamContext, consumer: str | None = None
) -> AsyncIterator[DeadLetter]:
    """Every dead letter, oldest first (of one consumer's when ``consumer`` is given)."""
    subject = DEAD_LETTERS.subject(consumer) if consumer else DEAD_LETTERS.wildcard
    async for raw in stored_messages(js, DEAD_LETTER_STREAM, subject):
        assert raw.seq is not None
        yield _parsed(raw.seq, raw.subject or "", raw.headers or {}, raw.data or b"", raw.time)


def _parsed(
    sequence: int, subject: str, headers: dict[str, str], data: bytes, at: datetime | None
) -> DeadLetter:
    return DeadLetter(
        sequence=sequence,
        consumer=subject.removeprefix(f"{DEAD_LETTERS.prefix}."),
        original_subject=headers.get(ORIGINAL_SUBJECT, ""),
        original_sequence=headers.get(ORIGINAL_SEQUENCE, ""),
        reason=headers.get(REASON, ""),
        at=at,
        data=data,
        headers=headers,
    )


async def replay(js: JetStreamContext, letters: Iterable[DeadLetter]) -> list[int]:
    """Publish each dead letter again on its original subject, then remove it."""
    replayed: list[int] = []
    for letter in letters:
        if not letter.original_subject:
            continue
        headers = {"Nats-Msg-Id": f"replay:{letter.sequence}:{letter.original_sequence}"}
        if TRACEPARENT in letter.headers:
            headers[TRACEPARENT] = letter.headers[TRACEPARENT]
        await js.publish(letter.original_subject, letter.data, headers=headers)
        await js.delete_msg(DEAD_LETTER_STREAM, letter.sequence)
        replayed.append(letter.sequence)
    return replayed
