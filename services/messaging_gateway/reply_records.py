"""A sending record per reply, so a redelivered reply is looked up instead of sent twice.

The record is written before the POST (``sending``, ``maybe_sent``) and keeps when sending
began; a reply's first attempt creates it (:meth:`ReplyRecords.create`, one write that also
says whether an earlier attempt left one); a known-not-sent failure clears ``maybe_sent``;
success writes ``sent`` with the Twilio id, and claims that id for the reply, so a lookup for
another reply with the same text never mistakes this message for its own.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, Field

from libs.contracts.messages import utc_now
from libs.contracts.subjects import subject_token


class SendingState(StrEnum):
    SENDING = "sending"
    SENT = "sent"


class SendingRecord(BaseModel):
    state: SendingState = SendingState.SENDING
    maybe_sent: bool = True
    """An attempt may have reached Twilio: look the message up before posting again."""
    sending_since: datetime = Field(default_factory=utc_now)
    twilio_id: str | None = None
    attempts: int = 0


class ReplyRecords:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @staticmethod
    def _reply_key(reply_id: str) -> str:
        return f"reply.{subject_token(reply_id)}"

    @staticmethod
    def _claim_key(twilio_id: str) -> str:
        return f"sent.{subject_token(twilio_id)}"

    async def get(self, reply_id: str) -> SendingRecord | None:
        try:
            entry = await self._kv.get(self._reply_key(reply_id))
        except KeyNotFoundError:
            return None
        return SendingRecord.model_validate_json(entry.value) if entry.value else None

    async def create(self, reply_id: str, record: SendingRecord) -> bool:
        """Write the record of a reply's first attempt; ``False`` when it has one already."""
        try:
            await self._kv.create(self._reply_key(reply_id), record.model_dump_json().encode())
        except KeyWrongLastSequenceError:
            return False
        return True

    async def put(self, reply_id: str, record: SendingRecord) -> None:
        await self._kv.put(self._reply_key(reply_id), record.model_dump_json().encode())

    async def sent(self, reply_id: str, record: SendingRecord, twilio_id: str) -> None:
        """The reply went out as ``twilio_id``: claim the message, then record it sent."""
        if twilio_id:
            await self._kv.put(self._claim_key(twilio_id), reply_id.encode())
        record.state, record.maybe_sent, record.twilio_id = SendingState.SENT, False, twilio_id
        await self.put(reply_id, record)

    async def claimed_by_another(self, twilio_id: str, reply_id: str) -> bool:
        try:
            entry = await self._kv.get(self._claim_key(twilio_id))
        except KeyNotFoundError:
            return False
        return entry.value is not None and entry.value.decode() != reply_id
