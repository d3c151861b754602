"""A call's next turn is answered without reading the turn stream, and only when nothing else
can be waiting: the turn names the previous one and that is the last turn consumed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext

from libs.contracts.messages import CustomerTurn, Route
from libs.contracts.subjects import CONVERSATIONS_BUCKET, TURNS, TURNS_STREAM
from libs.platform.conversation_store import ConversationStore
from libs.platform.publishing import publish_turn
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

    async def answer(self, turn: TurnContext, latest: LoggedTurn, coalesced: int) -> str:
        self.answered.append((turn.text, coalesced))
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
        log_reader=log,
        lease=TurnLease(store, "w1", lease_seconds=5),
        runner=cast(AgentRunner, runner),
        wait_seconds=5,
    )
    return Worker(processor, log, runner, store)


async def no_heartbeat() -> None:
    return None


async def delivered(js: JetStreamContext, sequence: int) -> tuple[CustomerTurn, Delivery]:
    """The turn stored at ``sequence`` as JetStream delivers it: body and stored headers."""
    raw = await js.get_msg(TURNS_STREAM, sequence)
    assert raw.data is not None
    turn = CustomerTurn.model_validate_json(raw.data)
    return turn, Delivery(sequence, dict(raw.headers or {}), no_heartbeat)


async def store_turn(
    broker: NatsBroker, js: JetStreamContext, text: str, previous: int | None
) -> tuple[CustomerTurn, Delivery]:
    """A turn stored as a gateway stores it (naming ``previous`` as a call's relay does)."""
    turn = CustomerTurn(
        conversation_id=CALL,
        message_id=f"{CALL}:{text}",
        route=VOICE_ROUTE,
        text=text,
        previous_sequence=previous,
    )
    ack = await publish_turn(broker, turn)
    return await delivered(js, ack.seq)


async def replayed(js: JetStreamContext, turn: CustomerTurn) -> tuple[CustomerTurn, Delivery]:
    """A dead-lettered turn put back by ``baton dlq replay``: its body as it was, new headers."""
    ack = await js.publish(
        TURNS.subject(CALL),
        turn.model_dump_json().encode(),
        stream=TURNS_STREAM,
        headers={"Nats-Msg-Id": f"replay:{turn.message_id}"},
    )
    return await delivered(js, ack.seq)


async def a_call_says(
    broker: NatsBroker, js: JetStreamContext, *texts: str
) -> list[tuple[CustomerTurn, Delivery]]:
    """A call's turns, each stored by its relay naming the one before."""
    turns: list[tuple[CustomerTurn, Delivery]] = []
    for text in texts:
        previous = turns[-1][1].sequence if turns else None
        turns.append(await store_turn(broker, js, text, previous=previous))
    return turns


def answered_text(worker: Worker) -> str:
    return "\n".join(text for text, _ in worker.runner.answered)


async def test_the_next_turn_of_a_call_is_answered_without_reading_the_stream(
    worker: Worker, broker: NatsBroker, js: JetStreamContext
) -> None:
    first, first_delivery = await store_turn(broker, js, "hello", previous=None)
    await worker.processor.handle(first, first_delivery)
    assert worker.log.reads == 1, "a turn that names no previous one is read from the stream"

    second, second_delivery = await store_turn(
        broker, js, "my order", previous=first_delivery.sequence
    )
    await worker.processor.handle(second, second_delivery)
    assert worker.log.reads == 1
    assert worker.runner.answered == [("hello", 1), ("my order", 1)]
    state = await worker.store.get(CALL)
    assert state.last_turn_seq == second_delivery.sequence
    assert [line.text for line in state.history] == ["hello", "ok", "my order", "ok"]


async def test_a_turn_whose_previous_is_not_consumed_yet_is_read_with_it(
    worker: Worker, broker: NatsBroker, js: JetStreamContext
) -> None:
    (first, first_delivery), (second, second_delivery) = await a_call_says(
        broker, js, "hello", "are you there"
    )
    await worker.processor.handle(second, second_delivery)  # delivered before the first
    assert worker.runner.answered == [("hello\nare you there", 2)]

    await worker.processor.handle(first, first_delivery)
    assert worker.runner.answered == [("hello\nare you there", 2)], "answered twice"
    assert worker.log.reads == 1, "the first's delivery finds it consumed without a read"


async def test_a_turn_already_consumed_is_not_answered_again(
    worker: Worker, broker: NatsBroker, js: JetStreamContext
) -> None:
    (first, first_delivery), (second, second_delivery) = await a_call_says(
        broker, js, "hello", "again"
    )
    await worker.processor.handle(first, first_delivery)
    await worker.processor.handle(second, second_delivery)
    await worker.processor.handle(second, second_delivery)  # redelivered after a lost ack
    assert worker.runner.answered == [("hello", 1), ("again", 1)]
    assert worker.log.reads == 1, "a turn already consumed needs no read to be skipped"


async def test_a_backlog_longer_than_a_read_is_answered_to_the_delivered_turn(
    worker: Worker, broker: NatsBroker, js: JetStreamContext
) -> None:
    stored = [await store_turn(broker, js, f"line {number}", previous=None) for number in range(25)]
    last, last_delivery = stored[-1]
    await worker.processor.handle(last, last_delivery)
    first_read = "\n".join(f"line {number}" for number in range(20))
    rest = "\n".join(f"line {number}" for number in range(20, 25))
    assert worker.runner.answered == [(first_read, 20), (rest, 5)]
    assert (await worker.store.get(CALL)).last_turn_seq == last_delivery.sequence


async def test_a_replayed_dead_letter_does_not_skip_a_turn_stored_after_the_original(
    worker: Worker, broker: NatsBroker, js: JetStreamContext
) -> None:
    first, first_delivery = await store_turn(broker, js, "hello", previous=None)
    await worker.processor.handle(first, first_delivery)
    failed, _ = await store_turn(broker, js, "cancel my order", previous=first_delivery.sequence)
    later, later_delivery = await store_turn(broker, js, "and refund me", previous=None)
    copy, copy_delivery = await replayed(js, failed)  # names the turn before the original
    assert copy.previous_sequence == first_delivery.sequence
    await worker.processor.handle(copy, copy_delivery)
    await worker.processor.handle(later, later_delivery)
    assert answered_text(worker) == "hello\ncancel my order\nand refund me\ncancel my order"


async def test_a_late_turn_from_the_calls_old_socket_is_answered(
    worker: Worker, broker: NatsBroker, js: JetStreamContext
) -> None:
    hello, hello_delivery = await store_turn(broker, js, "hello", previous=None)
    await worker.processor.handle(hello, hello_delivery)
    again, again_delivery = await store_turn(broker, js, "are you there", previous=None)
    await worker.processor.handle(again, again_delivery)  # the call's new socket, elsewhere
    late, late_delivery = await store_turn(
        broker, js, "my card number", previous=hello_delivery.sequence
    )
    assert late.previous_sequence is None, "stored after another turn, it names none"
    next_one, next_delivery = await store_turn(
        broker, js, "hello?", previous=again_delivery.sequence
    )
    assert next_one.previous_sequence is None
    await worker.processor.handle(next_one, next_delivery)
    await worker.processor.handle(late, late_delivery)
    assert worker.runner.answered[-1] == ("my card number\nhello?", 2)
