"""What the dispatcher did with each handoff, so a redelivered request never posts twice.

The record is written ``posting`` before the first Studio POST (or ``end`` request) and
keeps the moment that sending began: a redelivery that finds it looks for the execution
created since then before it posts again.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel, Field

from libs.contracts.messages import HandoffFailure, utc_now
from libs.contracts.subjects import subject_token


class DeliveryState(StrEnum):
    POSTING = "posting"
    """A Studio POST may have happened: look for our execution before posting again."""
    DELIVERED = "delivered"
    FAILED = "failed"


class DeliveryRecord(BaseModel):
    state: DeliveryState
    execution_sid: str | None = None
    verified: bool = True
    failure: HandoffFailure | None = None
    detail: str = ""
    attempts: int = 0
    sending_since: datetime = Field(default_factory=utc_now)
    """When the first POST (or ``end`` request) of this handoff may have left."""
    updated_at: datetime = Field(default_factory=utc_now)


class DeliveryRecords:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @staticmethod
    def key(conversation_id: str, epoch: int) -> str:
        return f"{subject_token(conversation_id)}.{epoch}"

    async def get(self, conversation_id: str, epoch: int) -> DeliveryRecord | None:
        try:
            entry = await self._kv.get(self.key(conversation_id, epoch))
        except KeyNotFoundError:
            return None
        return DeliveryRecord.model_validate_json(entry.value) if entry.value else None

    async def put(self, conversation_id: str, epoch: int, record: DeliveryRecord) -> None:
        await self._kv.put(self.key(conversation_id, epoch), record.model_dump_json().encode())
