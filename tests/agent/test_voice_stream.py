"""A caller's interrupt stops the reply, even when the cancellation lands mid-publish."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

from nats.aio.client import Client
from opentelemetry import trace

from libs.contracts.messages import VoiceCancel, VoiceToken
from services.agent_worker.voice_cancels import VoiceCancels
from services.agent_worker.voice_stream import VoiceReplyStream

CALL = "CA" + "22" * 16


@dataclass
class SwallowingConnection:
    """Publishes as nats-py does when a cancellation lands while it writes: it swallows it."""

    published: list[VoiceToken] = field(default_factory=list)
    writing: asyncio.Event = field(default_factory=asyncio.Event)

    async def publish(self, subject: str, data: bytes, headers: dict[str, str]) -> None:
        self.published.append(VoiceToken.model_validate_json(data))
        self.writing.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.05)



async def endless() -> AsyncIterator[str]:
    for number in range(1000):
        yield f"word{number} "
        await asyncio.sleep(0)


async def test_an_interrupt_during_a_publish_still_stops_the_reply() -> None:
    connection = SwallowingConnection()
    cancels = VoiceCancels()
    stream = VoiceReplyStream(
        cast(Client, connection), cancels, trace.get_tracer("test"), CALL, turn=7
    )
    speaking = asyncio.create_task(stream.speak(endless()))
    await asyncio.wait_for(connection.writing.wait(), 5)
    cancels.deliver(CALL, VoiceCancel(through_turn=7))
    spoken = await asyncio.wait_for(speaking, 5)
    assert spoken.interrupted
    assert len(connection.published) <= 2, "the reply went on after the interrupt"
    assert not any(token.last for token in connection.published), "no last:true after a cut"


# --- Coalescing: what the agent streams, and what leaves for the call --------------------


@dataclass
class RecordingConnection:
    """Core NATS as the stream sees it: every publish recorded, a condition to wait on."""

    published: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def publish(self, subject: str, data: bytes, headers: dict[str, str]) -> None:
        async with self.changed:
            self.published.append(json.loads(data))
            self.changed.notify_all()


    async def until(self, count: int) -> list[dict[str, Any]]:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: len(self.published) >= count), 5)
        return list(self.published)

    @property
    def tokens(self) -> list[str]:
        return [str(p["token"]) for p in self.published if p["type"] == "token"]


class ScriptedAgent:
    """Tokens the test hands over one at a time; ``None`` ends the reply."""

    def __init__(self) -> None:
        self.next: asyncio.Queue[str | None] = asyncio.Queue()

    async def tokens(self) -> AsyncIterator[str]:
        while (token := await self.next.get()) is not None:
            yield token


async def settle() -> None:
    """Let the stream handle what it was given (no timer can pass meanwhile: no sleep)."""
    for _ in range(20):
        await asyncio.sleep(0)


def coalescing(
    window: float,
) -> tuple[RecordingConnection, VoiceReplyStream, ScriptedAgent, VoiceCancels]:
    connection, cancels = RecordingConnection(), VoiceCancels()
    stream = VoiceReplyStream(
        cast(Client, connection),
        cancels,
        trace.get_tracer("test"),
        CALL,
        turn=7,
        flush_seconds=window,
    )
    return connection, stream, ScriptedAgent(), cancels


async def test_the_first_token_goes_at_once_then_tokens_go_by_phrase() -> None:
    connection, stream, agent, cancels = coalescing(window=60.0)
    speaking = asyncio.create_task(stream.speak(agent.tokens()))
    await agent.next.put("Our ")
    await connection.until(1)
    for token in ("hours ", "are ", "9 ", "to ", "5, "):
        await agent.next.put(token)
    await connection.until(2)
    for token in ("Monday ", "to "):
        await agent.next.put(token)
    await settle()
    assert connection.tokens == ["Our ", "hours are 9 to 5, "], "held until the phrase ends"
    await agent.next.put("Friday")
    await agent.next.put(None)
    spoken = await asyncio.wait_for(speaking, 5)
    assert connection.tokens == ["Our ", "hours are 9 to 5, ", "Monday to Friday"]
    assert [p["last"] for p in connection.published] == [False, False, True]
    assert spoken.text == "Our hours are 9 to 5, Monday to Friday"


async def test_held_tokens_go_when_the_window_passes_without_a_phrase_end() -> None:
    connection, stream, agent, cancels = coalescing(window=0.02)
    speaking = asyncio.create_task(stream.speak(agent.tokens()))
    await agent.next.put("Let ")
    await agent.next.put("me ")
    await agent.next.put("check ")
    await settle()
    assert connection.tokens == ["Let "]
    await connection.until(2)
    assert connection.tokens == ["Let ", "me check "], "sent by the window, no further token"
    await agent.next.put(None)
    await asyncio.wait_for(speaking, 5)
    assert connection.published[-1] == {"type": "token", "turn": 7, "token": "", "last": True}


async def test_an_interrupt_drops_the_held_tokens_of_the_turn() -> None:
    connection, stream, agent, cancels = coalescing(window=60.0)
    speaking = asyncio.create_task(stream.speak(agent.tokens()))
    await agent.next.put("Sure ")
    await connection.until(1)
    await agent.next.put("let ")
    await agent.next.put("me ")
    await settle()
    cancels.deliver(CALL, VoiceCancel(through_turn=7))
    spoken = await asyncio.wait_for(speaking, 5)
    await settle()
    assert spoken.interrupted and spoken.text == "Sure "
    assert connection.tokens == ["Sure "], "held tokens of a cut turn never leave"
    assert not any(p.get("last") for p in connection.published)


async def test_a_frame_goes_after_the_text_held_before_it() -> None:
    connection, stream, agent, cancels = coalescing(window=60.0)
    speaking = asyncio.create_task(stream.speak(agent.tokens()))
    await agent.next.put("One ")
    await agent.next.put("moment ")
    await connection.until(1)
    await settle()
    await stream.controls.play("https://example.com/hold.mp3")
    await agent.next.put(None)
    await asyncio.wait_for(speaking, 5)
    kinds = [p["type"] for p in connection.published]
    assert kinds == ["token", "token", "frame", "token"]
    assert connection.tokens == ["One ", "moment ", ""]
