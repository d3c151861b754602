"""How a JetStream message is settled when its handler succeeds or fails.

FastStream's default JetStream policy TERMs a message whose handler raises, so it is never
retried. Baton subscribers use ``AckPolicy.MANUAL`` and settle through :func:`settled`:
success acks; a failure is NAKed with a delay; a message past its retry budget (a number of
deliveries, or an age) goes to the dead-letter stream with the reason, then is TERMed.

A handler with remote calls heartbeats while it runs (``+WPI``, "in progress"), so its ack
wait can be a few heartbeats long: a crashed handler's message is redelivered to another
replica within seconds instead of after a long fixed ack wait. Settling also measures the
hop: how long the message waited in JetStream, and how each delivery ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from faststream.nats import NatsBroker, NatsMessage
from nats.js.api import ConsumerConfig

from libs.contracts.subjects import DEAD_LETTER_STREAM, DEAD_LETTERS
from libs.platform.metrics import (
    NATS_QUEUE_TIME,
    NATS_SETTLED,
)
from libs.platform.propagation import (
    inject_trace_headers,
)

log = logging.getLogger("baton.consuming")

HEARTBEATS_PER_ACK_WAIT = 3
"""A handler heartbeating every ``h`` seconds is presumed dead after ``3·h`` of silence."""
UNLIMITED_DELIVERIES = -1


class PermanentFailure(Exception):
    """A message that no retry will fix (malformed, refused): dead-letter it at once."""


class TransientFailure(Exception):
    """Worth another try; ``retry_after_seconds`` is the earliest the remote side wants one."""

    def __init__(self, message: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class RetryByAge:
    """Retry with exponential backoff and full jitter until the message is ``max_age`` old.

    A count of deliveries says nothing about how long a remote outage lasted; an age does.
    The delay never falls below a ``Retry-After`` the remote side asked for, and the last
    try is made at the age limit itself.
    """

    max_age_seconds: float = 600.0
    first_delay_seconds: float = 1.0
    max_delay_seconds: float = 60.0

    def delay(self, delivered: int, age_seconds: float, retry_after: float | None) -> float | None:
        """The NAK delay before the next try, or ``None`` once the message is too old."""
        remaining = self.max_age_seconds - age_seconds
        if remaining <= 0:
            return None
        ceiling = min(self.max_delay_seconds, self.first_delay_seconds * 2.0 ** (delivered - 1))
        backoff = random.uniform(min(self.first_delay_seconds, ceiling), ceiling)
        return min(max(backoff, retry_after or 0.0), remaining)


@dataclass(frozen=True)
class RedeliveryPolicy:
    consumer: str
    max_deliver: int = 5
    ack_wait_seconds: float = 30.0
    delays_seconds: tuple[float, ...] = (0.5, 2.0, 5.0, 10.0)
    heartbeat_seconds: float | None = None
    """While a handler runs, JetStream is told it is in progress this often (``None``: never)."""
    by_age: RetryByAge | None = None
    """Retry until an age instead of a number of deliveries."""

    @classmethod
    def heartbeating(
        cls, consumer: str, heartbeat_seconds: float, *, by_age: RetryByAge | None = None
    ) -> RedeliveryPolicy:
        """A policy whose ack wait is derived from the handler's heartbeat."""
        return cls(
            consumer=consumer,
            max_deliver=UNLIMITED_DELIVERIES if by_age else cls.max_deliver,
            ack_wait_seconds=heartbeat_seconds * HEARTBEATS_PER_ACK_WAIT,
            heartbeat_seconds=heartbeat_seconds,
            by_age=by_age,
        )

    def delay(self, delivered: int) -> float:
        return self.delays_seconds[min(delivered, len(self.delays_seconds)) - 1]

    def retry_delay(self, delivered: int, age_seconds: float, error: BaseException) -> float | None:
        """How long to wait before the next try, or ``None`` to give up (dead-letter)."""
        if isinstance(error, PermanentFailure):
            return None
        retry_after = error.retry_after_seconds if isinstance(error, TransientFailure) else None
        if self.by_age is not None:
            return self.by_age.delay(delivered, age_seconds, retry_after)
        if delivered >= self.max_deliver:
            return None
        return max(self.delay(delivered), retry_after or 0.0)

    def consumer_config(self, max_ack_pending: int = 1000) -> ConsumerConfig:
        return ConsumerConfig(
            ack_wait=self.ack_wait_seconds,
            max_deliver=self.max_deliver,
            max_ack_pending=max_ack_pending,
        )


def delivered_message(broker: NatsBroker) -> NatsMessage:
    """The JetStream message the running handler was called with.

    Read from FastStream's context rather than declared as a ``NatsMessage`` parameter:
    a parameter resolved from the context is looked up in a worker thread for every message.
    """
    message: NatsMessage | None = broker.context.get_local("message")
    if message is None:
        raise RuntimeError("no message: only a subscriber's handler has one")
    return message


@asynccontextmanager
async def settled(
    message: NatsMessage, policy: RedeliveryPolicy, broker: NatsBroker
) -> AsyncIterator[None]:
    """Ack on success; NAK with delay on failure; dead-letter what is out of retries."""
    metadata = message.raw_message.metadata
    age = (datetime.now(UTC) - metadata.timestamp).total_seconds()
    if metadata.num_delivered == 1:
        NATS_QUEUE_TIME.observe(age, consumer=policy.consumer)
    try:
        async with _kept_alive(message, policy.heartbeat_seconds):
            yield
    except Exception as error:
        delivered = metadata.num_delivered
        delay = policy.retry_delay(delivered, age, error)
        if delay is None:
            reason = _give_up_reason(policy, delivered, age, error)
            await dead_letter(message, policy.consumer, reason, broker)
            await message.reject()
            NATS_SETTLED.inc(consumer=policy.consumer, result="dead_letter")
            log.error("dead-lettered: %s", reason)
            return
        log.warning("retrying in %.1fs (delivery %s): %r", delay, delivered, error)
        await message.nack(delay=delay)
        NATS_SETTLED.inc(consumer=policy.consumer, result="retry")
    else:
        await message.ack()
        NATS_SETTLED.inc(consumer=policy.consumer, result="ack")


def _give_up_reason(
    policy: RedeliveryPolicy, delivered: int, age: float, error: BaseException
) -> str:
    if isinstance(error, PermanentFailure):
        return f"permanent failure: {error!r}"
    if policy.by_age is not None:
        return f"gave up after {age:.0f} s ({delivered} deliveries): {error!r}"
    return f"gave up after {delivered} deliveries: {error!r}"


@asynccontextmanager
async def _kept_alive(message: NatsMessage, every_seconds: float | None) -> AsyncIterator[None]:
    """Tell JetStream the message is in progress every ``every_seconds`` while the block runs."""
    if every_seconds is None:
        yield
        return

    async def beat() -> None:
        while True:
            await asyncio.sleep(every_seconds)
            try:
                await message.in_progress()
            except Exception as error:  # NATS away: the ack wait decides, not this task
                log.debug("heartbeat not sent: %r", error)

    beating = asyncio.create_task(beat())
    try:
        yield
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


async def dead_letter(message: NatsMessage, consumer: str, reason: str, broker: NatsBroker) -> None:
    raw = message.raw_message
    headers = inject_trace_headers(
        {
            "Baton-Original-Subject": raw.subject,
            "Baton-Original-Sequence": str(raw.metadata.sequence.stream),
            "Baton-Error": reason[:500],
        }
    )
    await broker.publish(
        raw.data,
        DEAD_LETTERS.subject(consumer),
        stream=DEAD_LETTER_STREAM,
        headers=headers,
        timeout=5.0,
    )
