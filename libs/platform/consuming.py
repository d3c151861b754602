"""How a JetStream message is settled when its handler succeeds or fails.

FastStream's default JetStream policy TERMs a message whose handler raises, so it is never
retried. Baton subscribers use ``AckPolicy.MANUAL`` and settle through :func:`settled`:
success acks; a failure is NAKed with a growing delay; the last allowed delivery goes to the
dead-letter stream with the error, then is TERMed. Settling also measures the hop: how long
the message waited in JetStream, and how each delivery ended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

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

Heartbeat = Callable[[], Awaitable[None]]
HEARTBEAT_EVERY_SECONDS = 5.0
T = TypeVar("T")


@dataclass(frozen=True)
class RedeliveryPolicy:
    consumer: str
    max_deliver: int = 5
    ack_wait_seconds: float = 30.0
    delays_seconds: tuple[float, ...] = (0.5, 2.0, 5.0, 10.0)

    def delay(self, delivered: int) -> float:
        return self.delays_seconds[min(delivered, len(self.delays_seconds)) - 1]

    def consumer_config(self, max_ack_pending: int = 1000) -> ConsumerConfig:
        return ConsumerConfig(
            ack_wait=self.ack_wait_seconds,
            max_deliver=self.max_deliver,
            max_ack_pending=max_ack_pending,
        )


class PermanentFailure(Exception):
    """A message that no retry will fix (malformed, refused): dead-letter it at once."""


@asynccontextmanager
async def settled(
    message: NatsMessage, policy: RedeliveryPolicy, broker: NatsBroker
) -> AsyncIterator[None]:
    """Ack on success; NAK with delay on failure; dead-letter the last try or a permanent one."""
    metadata = message.raw_message.metadata
    if metadata.num_delivered == 1:
        waited = datetime.now(UTC) - metadata.timestamp
        NATS_QUEUE_TIME.observe(waited.total_seconds(), consumer=policy.consumer)
    try:
        yield
    except Exception as error:
        delivered = metadata.num_delivered
        if isinstance(error, PermanentFailure) or delivered >= policy.max_deliver:
            await dead_letter(message, policy.consumer, error, broker)
            await message.reject()
            NATS_SETTLED.inc(consumer=policy.consumer, result="dead_letter")
            log.error("dead-lettered after %s deliveries: %r", delivered, error)
            return
        log.warning(
            "retrying in %.1fs (delivery %s): %r", policy.delay(delivered), delivered, error
        )
        await message.nack(delay=policy.delay(delivered))
        NATS_SETTLED.inc(consumer=policy.consumer, result="retry")
    else:
        await message.ack()
        NATS_SETTLED.inc(consumer=policy.consumer, result="ack")


async def dead_letter(
    message: NatsMessage, consumer: str, error: BaseException, broker: NatsBroker
) -> None:
    raw = message.raw_message
    headers = inject_trace_headers(
        {
            "Baton-Original-Subject": raw.subject,
            "Baton-Original-Sequence": str(raw.metadata.sequence.stream),
            "Baton-Error": repr(error)[:500],
        }
    )
    await broker.publish(
        raw.data,
        DEAD_LETTERS.subject(consumer),
        stream=DEAD_LETTER_STREAM,
        headers=headers,
        timeout=5.0,
    )


async def while_in_progress(work: Awaitable[T], heartbeat: Heartbeat) -> T:
    """Await ``work`` while telling JetStream the message is still being handled."""
    task = asyncio.ensure_future(work)
    while True:
        await heartbeat()
        done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_SECONDS)
        if done:
            return task.result()
