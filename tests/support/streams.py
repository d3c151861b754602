"""Reading what services stored in JetStream, for assertions."""

from __future__ import annotations

import asyncio
import time
from typing import TypeVar

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import BaseModel

from libs.contracts.subjects import HANDOFF_REQUESTED, HANDOFF_RESULT, HANDOFF_STREAM

M = TypeVar("M", bound=BaseModel)


async def messages_on(js: JetStreamContext, stream: str, subject: str, model: type[M]) -> list[M]:
    found: list[M] = []
    sequence = 0
    while True:
        try:
            raw = await js.get_msg(stream, seq=sequence + 1, subject=subject, next=True)
        except NotFoundError:
            return found
        assert raw.seq is not None and raw.data is not None
        sequence = raw.seq
        found.append(model.model_validate_json(raw.data))


async def wait_for_messages(
    js: JetStreamContext,
    stream: str,
    subject: str,
    model: type[M],
    count: int = 1,
    timeout: float = 15.0,
) -> list[M]:
    deadline = time.monotonic() + timeout
    while True:
        found = await messages_on(js, stream, subject, model)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


__all__ = [
    "HANDOFF_STREAM",
    "HANDOFF_REQUESTED",
    "HANDOFF_RESULT",
    "messages_on",
    "wait_for_messages",
]
