"""Invariant 2: each conversation's turns in arrival order, never by two workers at once."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from nats.js import JetStreamContext

from libs.contracts.messages import Channel, CustomerTurn, Route
from libs.contracts.subjects import TURNS, TURNS_STREAM
from services.agent_worker.agent import TurnContext, TurnTools
from services.agent_worker.main import create_app
from services.agent_worker.settings import AgentWorkerSettings
from tests.support.servers import serve

CONVERSATIONS = 50
MESSAGES_EACH = 6


@dataclass
class TurnJournal:
    """What every worker did, as it happened; shared by the workers of one test."""

    in_flight: set[str] = field(default_factory=set)
    overlaps: list[str] = field(default_factory=list)
    seen: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    workers: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    count: int = 0


class RecordingAgent:
    def __init__(self, name: str, journal: TurnJournal) -> None:
        self.name = name
        self.journal = journal

    async def respond(self, turn: TurnContext, tools: TurnTools) -> AsyncIterator[str]:
        journal = self.journal
        if turn.conversation_id in journal.in_flight:
            journal.overlaps.append(turn.conversation_id)
        journal.in_flight.add(turn.conversation_id)
        try:
            await asyncio.sleep(random.uniform(0.002, 0.02))
            for line in turn.text.splitlines():
                journal.seen[turn.conversation_id].append(int(line.rsplit("#", 1)[1]))
                journal.count += 1
            journal.workers[self.name].add(turn.conversation_id)
        finally:
            journal.in_flight.discard(turn.conversation_id)
        yield "noted"


def turn(conversation: str, index: int) -> CustomerTurn:
    return CustomerTurn(
        conversation_id=conversation,
        message_id=f"{conversation}-m{index}",
        route=Route(
            channel=Channel.SMS, customer_address="+15005550006", agent_address="+15005550001"
        ),
        text=f"{conversation} message #{index}",
    )


async def test_three_workers_keep_order_and_exclusivity(
    nats_url: str, js: JetStreamContext
) -> None:
    journal = TurnJournal()
    settings = AgentWorkerSettings(nats_url=nats_url, baton_turn_concurrency=8)
    async with AsyncExitStack() as stack:
        for name in ("worker-a", "worker-b", "worker-c"):
            app = create_app(
                settings.model_copy(update={"baton_instance_id": name}),
                agent=RecordingAgent(name, journal),
            )
            await stack.enter_async_context(serve(app))
        conversations = [f"CH{index:032x}" for index in range(CONVERSATIONS)]
        for burst in range(0, MESSAGES_EACH, 3):  # bursts of three per conversation, interleaved
            for conversation in random.sample(conversations, len(conversations)):
                for index in range(burst, burst + 3):
                    message = turn(conversation, index)
                    await js.publish(
                        TURNS.subject(conversation),
                        message.model_dump_json().encode(),
                        stream=TURNS_STREAM,
                        headers={"Nats-Msg-Id": f"turn:{message.message_id}"},
                    )
            await asyncio.sleep(0.05)
        deadline = time.monotonic() + 90
        while journal.count < CONVERSATIONS * MESSAGES_EACH and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    assert journal.overlaps == []
    assert journal.count == CONVERSATIONS * MESSAGES_EACH
    for conversation in conversations:
        assert journal.seen[conversation] == list(range(MESSAGES_EACH)), conversation
    assert sum(1 for handled in journal.workers.values() if handled) == 3
