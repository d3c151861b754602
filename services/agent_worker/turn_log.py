"""The turn stream's one reader: a conversation's unprocessed turns, in arrival order.

Each turn comes back with the headers it was stored with, so the agent turn continues the
trace of the newest message it answers without reading the stream a second time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from libs.contracts.messages import CustomerTurn
from libs.contracts.subjects import TURNS, TURNS_STREAM


@dataclass(frozen=True)
class LoggedTurn:
    sequence: int
    turn: CustomerTurn
    headers: Mapping[str, str] = field(default_factory=dict)
    """What the gateway stored with the turn (``traceparent``, ``Nats-Msg-Id``)."""


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
            turn = CustomerTurn.model_validate_json(raw.data)
            turns.append(LoggedTurn(sequence, turn, dict(raw.headers or {})))
        return turns
