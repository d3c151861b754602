"""Settling a JetStream message, against a real NATS server: ack, delayed NAK, dead letter,
and the heartbeats of a handler that is still working.

A FastStream subscriber with manual acks runs the handler the test scripts. What the consumer
told the server is read off the wire: every ack, NAK (with its delay), in-progress heartbeat
and TERM a client sends is a core NATS message on the ``$JS.ACK`` subject of the delivery,
which a second connection observes. Dead letters are read from the dead-letter stream.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import cast

import pytest
from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError

from libs.platform.consuming import (
    PermanentFailure,
    RedeliveryPolicy,
    RetryByAge,
    TransientFailure,
    _kept_alive,
    settled,
)
from libs.platform.metrics import REGISTRY
from tests.support.waits import exactly_one, until

CONSUMER = "settle-test"
SUBJECT = "baton.turns.conv-settle"
PAYLOAD = b'{"text":"where is my order?"}'
ACK = b""
"""An empty reply on ``$JS.ACK`` is an ack, as ``+ACK`` is."""

Step = Callable[[], Awaitable[None]]


async def succeed() -> None:
    return None


async def fail() -> None:
    raise RuntimeError("Twilio is down")


async def refuse() -> None:
    raise PermanentFailure("refused")


async def rate_limited() -> None:
    raise TransientFailure("Twilio answered 429", retry_after_seconds=0.05)


@dataclass
class Consumer:
    settles: list[bytes] = field(default_factory=list)
    """Each ack, NAK and TERM sent to the server, in order."""
    deliveries: list[int] = field(default_factory=list)
    """``num_delivered`` of each delivery the handler saw."""

    async def observe(self, message: Msg) -> None:
        self.settles.append(message.data)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"consumer": CONSUMER, **labels}) or 0.0


@asynccontextmanager
async def consuming(
    nats_url: str, observer: Client, policy: RedeliveryPolicy, steps: list[Step]
) -> AsyncIterator[Consumer]:
    """A subscriber whose n-th delivery runs ``steps[n-1]`` (the last step repeats)."""
    consumer = Consumer()
    await observer.subscribe(f"$JS.ACK.BATON_TURNS.{CONSUMER}.>", cb=consumer.observe)
    await observer.flush()
    broker = NatsBroker(nats_url)

    @broker.subscriber(
        SUBJECT,
        stream=JStream("BATON_TURNS", declare=False),
        durable=CONSUMER,
        pull_sub=PullSub(batch_size=1, timeout=0.2),
        config=policy.consumer_config(),
        ack_policy=AckPolicy.MANUAL,
    )
    async def handle(body: dict[str, str], message: NatsMessage) -> None:
        delivered = message.raw_message.metadata.num_delivered
        consumer.deliveries.append(delivered)
        async with settled(message, policy, broker):
            await steps[min(delivered, len(steps)) - 1]()

    await broker.start()
    try:
        yield consumer
    finally:
        await broker.stop()


async def dead_letters(js: JetStreamContext) -> list[RawStreamMsg]:
    found: list[RawStreamMsg] = []
    sequence = 0
    while True:
        try:
            raw = await js.get_msg(
                "BATON_DLQ", seq=sequence + 1, subject=f"baton.dlq.{CONSUMER}", next=True
            )
        except NotFoundError:
            return found
        assert raw.seq is not None
        sequence = raw.seq
        found.append(raw)


async def settles_of(consumer: Consumer) -> list[bytes]:
    return list(consumer.settles)


async def terms(consumer: Consumer) -> list[bytes]:
    return [settle for settle in consumer.settles if settle.startswith(b"+TERM")]


def policy(max_deliver: int = 3) -> RedeliveryPolicy:
    return RedeliveryPolicy(consumer=CONSUMER, max_deliver=max_deliver, delays_seconds=(0.01, 0.02))


async def test_success_is_acked_once(
    nats_url: str, nats_client: Client, js: JetStreamContext
) -> None:
    acks = sample("baton_nats_settled_total", result="ack")
    queued = sample("baton_nats_queue_seconds_count")
    async with consuming(nats_url, nats_client, policy(), [succeed]) as consumer:
        await js.publish(SUBJECT, PAYLOAD)
        settle = await exactly_one(lambda: settles_of(consumer))
    assert settle == ACK
    assert consumer.deliveries == [1]
    assert await dead_letters(js) == []
    assert sample("baton_nats_settled_total", result="ack") - acks == 1
    assert sample("baton_nats_queue_seconds_count") - queued == 1


async def test_a_failure_is_naked_with_the_policys_delay_then_retried(
    nats_url: str, nats_client: Client, js: JetStreamContext
) -> None:
    retries = sample("baton_nats_settled_total", result="retry")
    async with consuming(nats_url, nats_client, policy(), [fail, fail, succeed]) as consumer:
        await js.publish(SUBJECT, PAYLOAD)
        await until(lambda: ACK in consumer.settles)
    assert consumer.settles == [b'-NAK {"delay": 10000000}', b'-NAK {"delay": 20000000}', ACK]
    assert consumer.deliveries == [1, 2, 3]
    assert await dead_letters(js) == []
    assert sample("baton_nats_settled_total", result="retry") - retries == 2


async def test_the_last_delivery_is_dead_lettered_and_terminated(
    nats_url: str, nats_client: Client, js: JetStreamContext
) -> None:
    queued = sample("baton_nats_queue_seconds_count")
    dead = sample("baton_nats_settled_total", result="dead_letter")
    async with consuming(nats_url, nats_client, policy(max_deliver=3), [fail]) as consumer:
        stored = await js.publish(SUBJECT, PAYLOAD)
        letter = await exactly_one(lambda: dead_letters(js))
        await until(lambda: b"+TERM" in consumer.settles)
        assert await exactly_one(lambda: terms(consumer)) == b"+TERM"
    assert consumer.settles == [b'-NAK {"delay": 10000000}', b'-NAK {"delay": 20000000}', b"+TERM"]
    assert consumer.deliveries == [1, 2, 3], "not delivered again after TERM"
    assert letter.data == PAYLOAD
    assert letter.headers is not None
    assert letter.headers["Baton-Original-Subject"] == "baton.turns.conv-settle"
    assert letter.headers["Baton-Original-Sequence"] == str(stored.seq)
    assert (
        letter.headers["Baton-Error"]
        == "gave up after 3 deliveries: RuntimeError('Twilio is down')"
    )
    assert sample("baton_nats_settled_total", result="dead_letter") - dead == 1
    assert sample("baton_nats_queue_seconds_count") - queued == 1, "first deliveries only"


async def test_a_permanent_failure_is_dead_lettered_at_once(
    nats_url: str, nats_client: Client, js: JetStreamContext
) -> None:
    async with consuming(nats_url, nats_client, policy(max_deliver=5), [refuse]) as consumer:
        stored = await js.publish(SUBJECT, PAYLOAD)
        letter = await exactly_one(lambda: dead_letters(js))
        await until(lambda: b"+TERM" in consumer.settles)
    assert consumer.settles == [b"+TERM"]
    assert consumer.deliveries == [1]
    assert letter.headers is not None
    assert letter.headers["Baton-Error"] == "permanent failure: PermanentFailure('refused')"
    assert letter.headers["Baton-Original-Sequence"] == str(stored.seq)


async def long_refusal() -> None:
    raise PermanentFailure("x" * 1000)


async def test_a_dead_letters_reason_is_cut_to_500_characters(
    nats_url: str, nats_client: Client, js: JetStreamContext
) -> None:
    """A header is no place for a whole error page: the reason keeps its first 500 characters."""
    async with consuming(nats_url, nats_client, policy(), [long_refusal]):
        await js.publish(SUBJECT, PAYLOAD)
        letter = await exactly_one(lambda: dead_letters(js))
    assert letter.headers is not None
    reason = letter.headers["Baton-Error"]
    assert reason == "permanent failure: PermanentFailure('" + "x" * (500 - 37)
    assert len(reason) == 500


async def test_deliveries_past_the_listed_delays_wait_the_last_delay(
    nats_url: str, nats_client: Client, js: JetStreamContext
) -> None:
    async with consuming(nats_url, nats_client, policy(max_deliver=4), [fail]) as consumer:
        await js.publish(SUBJECT, PAYLOAD)
        await until(lambda: b"+TERM" in consumer.settles)
    assert consumer.settles == [
        b'-NAK {"delay": 10000000}',
        b'-NAK {"delay": 20000000}',
        b'-NAK {"delay": 20000000}',
        b"+TERM",
    ]


@pytest.mark.parametrize(
    ("delivered", "seconds"), [(1, 0.5), (2, 2.0), (3, 5.0), (4, 10.0), (5, 10.0), (9, 10.0)]
)
def test_the_default_delays_grow_then_hold(delivered: int, seconds: float) -> None:
    assert RedeliveryPolicy(consumer=CONSUMER).delay(delivered) == seconds


def test_the_consumer_config_carries_the_policy() -> None:
    config = RedeliveryPolicy(consumer=CONSUMER, max_deliver=7, ack_wait_seconds=12.5)
    consumer = config.consumer_config(max_ack_pending=64)
    assert (consumer.ack_wait, consumer.max_deliver, consumer.max_ack_pending) == (12.5, 7, 64)
    assert config.consumer_config().max_ack_pending == 1000, "JetStream's own default"


@dataclass
class UnreachableMessage:
    """A delivery whose in-progress heartbeats cannot reach NATS."""

    beats: int = 0

    async def in_progress(self) -> None:
        self.beats += 1
        raise ConnectionError("NATS is away")


async def test_a_heartbeat_that_cannot_be_sent_neither_stops_the_beat_nor_fails_the_handler() -> (
    None
):
    message = UnreachableMessage()
    async with _kept_alive(cast(NatsMessage, message), 0.001):
        await until(lambda: message.beats >= 3)


async def test_a_retry_after_longer_than_the_policys_delay_is_waited(
    nats_url: str, nats_client: Client, js: JetStreamContext
) -> None:
    async with consuming(nats_url, nats_client, policy(), [rate_limited, succeed]) as consumer:
        await js.publish(SUBJECT, PAYLOAD)
        await until(lambda: ACK in consumer.settles)
    assert consumer.settles == [b'-NAK {"delay": 50000000}', ACK]


def by_age(max_age_seconds: float) -> RedeliveryPolicy:
    """Retries by age; first and longest backoff equal, so the jitter has nothing to choose."""
    retry = RetryByAge(max_age_seconds, first_delay_seconds=0.01, max_delay_seconds=0.01)
    return RedeliveryPolicy(consumer=CONSUMER, max_deliver=-1, by_age=retry)


async def test_by_age_a_failure_is_retried_no_sooner_than_retry_after(
    nats_url: str, nats_client: Client, js: JetStreamContext
) -> None:
    steps = [fail, rate_limited, succeed]
    async with consuming(nats_url, nats_client, by_age(600.0), steps) as consumer:
        await js.publish(SUBJECT, PAYLOAD)
        await until(lambda: ACK in consumer.settles)
    assert consumer.settles == [b'-NAK {"delay": 10000000}', b'-NAK {"delay": 50000000}', ACK]
    assert await dead_letters(js) == []


async def test_by_age_a_message_too_old_is_dead_lettered_with_its_age(
    nats_url: str, nats_client: Client, js: JetStreamContext
) -> None:
    async with consuming(nats_url, nats_client, by_age(0.0), [rate_limited]) as consumer:
        await js.publish(SUBJECT, PAYLOAD)
        letter = await exactly_one(lambda: dead_letters(js))
        await until(lambda: b"+TERM" in consumer.settles)
    assert consumer.settles == [b"+TERM"]
    assert letter.headers is not None
    reason = letter.headers["Baton-Error"]
    assert re.fullmatch(
        r"gave up after \d+ s \(1 deliveries\): TransientFailure\('Twilio answered 429'\)", reason
    ), reason


async def test_a_handler_past_its_ack_wait_heartbeats_and_is_not_redelivered(
    nats_url: str, nats_client: Client, js: JetStreamContext
) -> None:
    """A tenth of the ack wait between heartbeats: the handler works through one and a half
    ack waits and JetStream never hands the message to another consumer."""
    heartbeat = RedeliveryPolicy(
        consumer=CONSUMER, max_deliver=3, ack_wait_seconds=1.0, heartbeat_seconds=0.1
    )
    observed: list[Consumer] = []

    async def work_past_the_ack_wait() -> None:
        await until(lambda: observed[0].settles.count(b"+WPI") >= 15)

    async with consuming(nats_url, nats_client, heartbeat, [work_past_the_ack_wait]) as consumer:
        observed.append(consumer)
        await js.publish(SUBJECT, PAYLOAD)
        await until(lambda: ACK in consumer.settles)
        info = await js.consumer_info("BATON_TURNS", CONSUMER)
    assert consumer.deliveries == [1]
    assert set(consumer.settles[:-1]) == {b"+WPI"} and consumer.settles[-1] == ACK
    assert (info.num_redelivered, info.num_ack_pending) == (0, 0)


def test_a_heartbeating_policy_waits_three_heartbeats_for_an_ack() -> None:
    policy = RedeliveryPolicy.heartbeating(CONSUMER, 0.5)
    assert (policy.ack_wait_seconds, policy.heartbeat_seconds, policy.max_deliver) == (1.5, 0.5, 5)
    config = policy.consumer_config()
    assert (config.ack_wait, config.max_deliver) == (1.5, 5)
