"""Reading what services stored in JetStream, for assertions."""

from __future__ import annotations

from typing import TypeVar

from nats.js import JetStreamContext
from pydantic import BaseModel

from libs.contracts.subjects import HANDOFF_REQUESTED, HANDOFF_RESULT, HANDOFF_STREAM
from libs.platform.streams import stored_messages
from tests.support.waits import at_least

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
    """The messages once ``count`` are stored, watched a moment longer for a duplicate."""
    return await at_least(lambda: messages_on(js, stream, subject, model), count, timeout=timeout)


__all__ = [
    "HANDOFF_STREAM",
    "HANDOFF_REQUESTED",
    "HANDOFF_RESULT",
    "messages_on",
    "wait_for_messages",
]
