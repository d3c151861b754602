"""Reading what services stored in JetStream, for assertions."""

from __future__ import annotations

import asyncio
import time
from typing import TypeVar

from nats.js import JetStreamContext
from pydantic import BaseModel

from libs.contracts.subjects import HANDOFF_REQUESTED, HANDOFF_RESULT, HANDOFF_STREAM
from libs.platform.streams import stored_messages

M = TypeVar("M", bound=BaseModel)


async def messages_on(js: JetStreamContext, stream: str, subject: str, model: type[M]) -> list[M]:
    return [
        model.model_validate_json(raw.data or b"")
        async for raw in stored_messages(js, stream, subject)
    ]


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
