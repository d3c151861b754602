"""A call's next turn is answered without reading the turn stream, and only when nothing else
can be waiting: the turn names the previous one and that is the last turn consumed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import pytest
from nats.js import JetStreamContext

from libs.contracts.messages import CustomerTurn, Route
from libs.contracts.subjects import CONVERSATIONS_BUCKET, TURN_LOCKS_BUCKET, TURNS, TURNS_STREAM
from libs.platform.conversation_store import ConversationStore
from services.agent_worker.agent import TurnContext
from services.agent_worker.agent_turn import AgentRunner
from services.agent_worker.turn_lease import TurnLease
from services.agent_worker.turn_log import LoggedTurn, TurnLog
from services.agent_worker.turns import Delivery, TurnProcessor
from tests.agent.fakes import SMS_ROUTE

CALL = "CA" + "58" * 16
VOICE_ROUTE = Route.model_validate({**SMS_ROUTE.model_dump(), "channel": "voice", "call_sid": CALL})


class CountingLog(TurnLog):
    """The worker's real reader of the turn stream, counting how often it is asked."""

    reads = 0

    async def pending(
        self, conversation_id: str, after_sequence: int, until_sequence: int
    ) -> list[LoggedTurn]:
        self.reads += 1
        return await super().pending(conversation_id, after_sequence, until_sequence)


@dataclass
class RecordingRunner:
    """Stands in for the agent: records what it was asked to answer, in what trace."""

    answered: list[tuple[str, int]] = field(default_factory=list)
    traces: list[str | None] = field(default_factory=list)

    async def answer(self, turn: TurnContext, latest: LoggedTurn, coalesced: int) -> str:
        self.answered.append((turn.text, coalesced))
        self.traces.append(latest.headers.get("traceparent"))
        return "ok"


@dataclass
class Worker:
    processor: TurnProcessor
    log: CountingLog
    runner: RecordingRunner
    store: ConversationStore


@pytest.fixture
async def worker(js: JetStreamContext) -> Worker:
    store = ConversationStore(await js.key_value(CONVERSATIONS_BUCKET))
    log, runner = CountingLog(js), RecordingRunner()
    processor = TurnProcessor(
        store=store,
        log_reader=log,
        lease=TurnLease(await js.key_value(TURN_LOCKS_BUCKET), owner="w1", lease_seconds=5),
        runner=cast(AgentRunner, runner),
        wait_seconds=5,
    )
    return Worker(processor, log, runner, store)


async def store_turn(
    js: JetStreamContext, text: str, previous: int | None
) -> tuple[CustomerTurn, Delivery]:
    turn = CustomerTurn(
        conversation_id=CALL,
        message_id=f"{CALL}:{text}",
        route=VOICE_ROUTE,
        text=text,
        previous_sequence=previous,
    )
    headers = {"traceparent": f"00-{'ab' * 16}-{'cd' * 8}-01"}
    ack = await js.publish(
        TURNS.subject(CALL), turn.model_dump_json().encode(), stream=TURNS_STREAM, headers=headers
    )

    async def heartbeat() -> None:
        return None

    return turn, Delivery(ack.seq, headers, heartbeat)


async def test_the_next_turn_of_a_call_is_answered_without_reading_the_stream(
    worker: Worker, js: JetStreamContext
) -> None:
    first, first_delivery = await store_turn(js, "hello", previous=None)
    await worker.processor.handle(first, first_delivery)
    assert worker.log.reads == 1, "a turn that names no previous one is read from the stream"

    second, second_delivery = await store_turn(js, "my order", previous=first_delivery.sequence)
    await worker.processor.handle(second, second_delivery)
    assert worker.log.reads == 1
    assert worker.runner.answered == [("hello", 1), ("my order", 1)]
    assert worker.runner.traces[-1] == second_delivery.headers["traceparent"]
    state = await worker.store.get(CALL)
    assert state.last_turn_seq == second_delivery.sequence
    assert [line.text for line in state.history] == ["hello", "ok", "my order", "ok"]


async def test_a_turn_whose_previous_is_not_consumed_yet_is_read_with_it(
    worker: Worker, js: JetStreamContext
) -> None:
    first, first_delivery = await store_turn(js, "hello", previous=None)
    second, second_delivery = await store_turn(
        js, "are you there", previous=first_delivery.sequence
    )
    await worker.processor.handle(second, second_delivery)  # delivered before the first
    assert worker.runner.answered == [("hello\nare you there", 2)]

    await worker.processor.handle(first, first_delivery)
    assert worker.runner.answered == [("hello\nare you there", 2)], "answered twice"
    assert worker.log.reads == 1, "the first's delivery finds it consumed without a read"


async def test_a_turn_already_consumed_is_not_answered_again(
    worker: Worker, js: JetStreamContext
) -> None:
    first, first_delivery = await store_turn(js, "hello", previous=None)
    second, second_delivery = await store_turn(js, "again", previous=first_delivery.sequence)
    await worker.processor.handle(first, first_delivery)
    await worker.processor.handle(second, second_delivery)
    await worker.processor.handle(second, second_delivery)  # redelivered after a lost ack
    assert worker.runner.answered == [("hello", 1), ("again", 1)]
    assert worker.log.reads == 1, "a turn already consumed needs no read to be skipped"


async def test_a_backlog_longer_than_a_read_is_answered_to_the_delivered_turn(
    worker: Worker, js: JetStreamContext
) -> None:
    stored = [await store_turn(js, f"line {number}", previous=None) for number in range(25)]
    last, last_delivery = stored[-1]
    await worker.processor.handle(last, last_delivery)
    first_read = "\n".join(f"line {number}" for number in range(20))
    rest = "\n".join(f"line {number}" for number in range(20, 25))
    assert worker.runner.answered == [(first_read, 20), (rest, 5)]
    assert (await worker.store.get(CALL)).last_turn_seq == last_delivery.sequence
