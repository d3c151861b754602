"""Reading a conversation's unprocessed turns from the turn stream, in arrival order."""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from libs.contracts.messages import CustomerTurn
from libs.contracts.subjects import TURNS, TURNS_STREAM


@dataclass(frozen=True)
class LoggedTurn:
    sequence: int
    turn: CustomerTurn


class TurnLog:
    def __init__(self, js: JetStreamContext, max_batch: int = 20) -> None:
        self._js = js
        self._max_batch = max_batch

    async def pending(
        self, conversation_id: str, after_sequence: int, until_sequence: int
    ) -> list[LoggedTurn]:
        """Turns stored after ``after_sequence`` up to the delivered one, ``until_sequence``.

        A burst stored before the delivered turn becomes one coalesced agent turn; turns
        stored after it are answered on their own delivery. Stopping at the delivered
        turn saves a round trip to NATS before the first token.
        """
        subject = TURNS.subject(conversation_id)
        turns: list[LoggedTurn] = []
        sequence = after_sequence
        while sequence < until_sequence and len(turns) < self._max_batch:
            try:
                raw = await self._js.get_msg(
                    TURNS_STREAM, seq=sequence + 1, subject=subject, next=True
                )
            except NotFoundError:
                break
            assert raw.seq is not None and raw.data is not None
            sequence = raw.seq
            turns.append(LoggedTurn(sequence, CustomerTurn.model_validate_json(raw.data)))
        return turns
