"""A worker hears callers' interruptions on one subscription, whatever the number of turns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import nats
import pytest
from nats.aio.client import Client
from opentelemetry import trace

from libs.contracts.messages import VoiceCancel
from libs.contracts.subjects import VOICE_CANCEL
from services.agent_worker.voice_cancels import VoiceCancels
from services.agent_worker.voice_stream import Spoken, VoiceReplyStream

CALL = "CA" + "31" * 16
OTHER_CALL = "CA" + "47" * 16


class CountingConnection:
    """A real nats-py connection that counts the subscriptions made through it."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.subscriptions = 0

    async def subscribe(self, subject: str, **options: Any) -> Any:
        self.subscriptions += 1
        return await self._client.subscribe(subject, **options)

    async def publish(self, subject: str, data: bytes, headers: dict[str, str]) -> None:
        await self._client.publish(subject, data, headers=headers)

    async def flush(self) -> None:
        await self._client.flush()


async def short_reply() -> AsyncIterator[str]:
    for token in ("Our ", "hours ", "are ", "9 ", "to ", "5."):
        yield token


async def first_word_then_thinking(spoke: asyncio.Event) -> AsyncIterator[str]:
    yield "Well, "
    spoke.set()
    await asyncio.Event().wait()  # the model is still thinking when the caller cuts in
    yield "never heard"


def speaking(
    connection: CountingConnection, cancels: VoiceCancels, call: str, turn: int
) -> VoiceReplyStream:
    return VoiceReplyStream(
        cast(Client, connection), cancels, trace.get_tracer("test"), call, turn=turn
    )


async def interruptible(
    connection: CountingConnection, cancels: VoiceCancels, call: str, turn: int
) -> asyncio.Task[Spoken]:
    spoke = asyncio.Event()
    task = asyncio.create_task(
        speaking(connection, cancels, call, turn).speak(first_word_then_thinking(spoke))
    )
    await asyncio.wait_for(spoke.wait(), 5)
    return task


@dataclass
class Worker:
    """A worker's connection and its one cancel subscription, and the relay that cancels."""

    connection: CountingConnection
    cancels: VoiceCancels
    gateway: Client


@pytest.fixture
async def worker(nats_client: Client, nats_url: str) -> AsyncIterator[Worker]:
    connection = CountingConnection(nats_client)
    cancels = VoiceCancels()
    await cancels.start(cast(Client, connection))
    gateway = await nats.connect(nats_url)  # the relay gateway that holds the callers' sockets
    try:
        yield Worker(connection, cancels, gateway)
    finally:
        await gateway.close()
        await cancels.stop()


async def test_one_subscription_serves_every_turn_and_cuts_only_the_interrupted_call(
    worker: Worker,
) -> None:
    connection, cancels, gateway = worker.connection, worker.cancels, worker.gateway
    for turn in range(1, 6):
        spoken = await speaking(connection, cancels, CALL, turn).speak(short_reply())
        assert spoken == Spoken("Our hours are 9 to 5.", interrupted=False)

    on_call = await interruptible(connection, cancels, CALL, turn=6)
    on_other_call = await interruptible(connection, cancels, OTHER_CALL, turn=2)
    cancel = VoiceCancel(through_turn=6).model_dump_json().encode()
    await gateway.publish(VOICE_CANCEL.subject(OTHER_CALL), cancel)
    assert (await asyncio.wait_for(on_other_call, 5)).interrupted
    assert not on_call.done(), "a cancel for another call cut this one"

    await gateway.publish(VOICE_CANCEL.subject(CALL), cancel)
    assert await asyncio.wait_for(on_call, 5) == Spoken("Well, ", interrupted=True)
    assert connection.subscriptions == 1, "a subscription per turn"


async def test_a_cancel_for_an_earlier_turn_leaves_the_current_one_speaking(
    worker: Worker, nats_client: Client
) -> None:
    current = await interruptible(worker.connection, worker.cancels, CALL, turn=8)
    stale = VoiceCancel(through_turn=7).model_dump_json().encode()
    await worker.gateway.publish(VOICE_CANCEL.subject(CALL), stale)
    await worker.gateway.flush()
    await nats_client.flush()  # the stale cancel has reached this worker's connection
    for _ in range(20):
        await asyncio.sleep(0)
    assert not current.done()
    current.cancel()
