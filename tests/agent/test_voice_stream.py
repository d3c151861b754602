"""A caller's interrupt stops the reply, even when the cancellation lands mid-publish."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from nats.aio.client import Client
from opentelemetry import trace

from libs.contracts.messages import VoiceCancel, VoiceToken
from services.agent_worker.voice_stream import VoiceReplyStream

CALL = "CA" + "22" * 16


@dataclass
class Message:
    data: bytes


@dataclass
class SwallowingConnection:
    """Publishes as nats-py does when a cancellation lands while it writes: it swallows it."""

    published: list[VoiceToken] = field(default_factory=list)
    cancel: Callable[[Message], Awaitable[None]] | None = None
    writing: asyncio.Event = field(default_factory=asyncio.Event)

    async def publish(self, subject: str, data: bytes, headers: dict[str, str]) -> None:
        self.published.append(VoiceToken.model_validate_json(data))
        self.writing.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.05)

    async def subscribe(self, subject: str, cb: Callable[[Message], Awaitable[None]]) -> Any:
        self.cancel = cb
        connection = self

        class Subscription:
            async def unsubscribe(self) -> None:
                connection.cancel = None

        return Subscription()


async def endless() -> AsyncIterator[str]:
    for number in range(1000):
        yield f"word{number} "
        await asyncio.sleep(0)


async def test_an_interrupt_during_a_publish_still_stops_the_reply() -> None:
    connection = SwallowingConnection()
    stream = VoiceReplyStream(cast(Client, connection), trace.get_tracer("test"), CALL, turn=7)
    speaking = asyncio.create_task(stream.speak(endless()))
    await asyncio.wait_for(connection.writing.wait(), 5)
    assert connection.cancel is not None
    await connection.cancel(Message(VoiceCancel(through_turn=7).model_dump_json().encode()))
    spoken = await asyncio.wait_for(speaking, 5)
    assert spoken.interrupted
    assert len(connection.published) <= 2, "the reply went on after the interrupt"
    assert not any(token.last for token in connection.published), "no last:true after a cut"
