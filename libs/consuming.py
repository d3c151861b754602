"""How a JetStream message is settled when its handler succeeds or fails.

FastStream's default JetStream policy TERMs a message whose handler raises, so it is never
retried. Baton subscribers use ``AckPolicy.MANUAL`` and settle through :func:`settled`:
success acks; a failure is NAKed with a growing delay; the last allowed delivery goes to the
dead-letter stream with the error, then is TERMed. Settling also measures the hop: how long
the message waited in JetStream, and how each delivery ended. :class:`ConsumerLag` samples
how far each durable consumer is behind; :func:`consumer_span` is the ``process`` span of a
core NATS message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from faststream.nats import NatsBroker, NatsMessage
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig
from nats.js.errors import NotFoundError
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.util.types import AttributeValue

from libs.metrics import (
    NATS_CONSUMER_ACK_PENDING,
    NATS_CONSUMER_PENDING,
    NATS_QUEUE_TIME,
    NATS_SETTLED,
    NATS_STREAM_MESSAGES,
)
from libs.subjects import DEAD_LETTER_STREAM, dead_letter_subject
from libs.telemetry import extract_trace_context, inject_trace_headers, messaging_attributes

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
        dead_letter_subject(consumer),
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


def consumer_span(
    tracer: Tracer,
    message: Msg,
    template: str,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Span:
    """A CONSUMER span ``process <template>``, child of the producer's span in the headers."""
    return tracer.start_span(
        f"process {template}",
        context=extract_trace_context(message.headers),
        kind=SpanKind.CONSUMER,
        attributes={
            **messaging_attributes(message.subject, template, "process"),
            **(attributes or {}),
        },
    )


@dataclass(frozen=True)
class DurableConsumer:
    stream: str
    durable: str


class ConsumerLag:
    """Samples how far each durable consumer is behind, for the lag gauges and alerts.

    JetStream knows each consumer's ``num_pending`` (stored, not yet delivered) and
    ``num_ack_pending`` (delivered, not yet settled); every replica samples the shared
    consumer, so dashboards take the ``max`` over instances.
    """

    def __init__(
        self,
        broker: NatsBroker,
        consumers: Sequence[DurableConsumer],
        *,
        streams: Sequence[str] = (),
        every_seconds: float = 15.0,
    ) -> None:
        self._broker = broker
        self._consumers = tuple(consumers)
        self._streams = tuple(streams)
        self._every = every_seconds
        self._task: asyncio.Task[None] | None = None

    async def sample(self) -> None:
        js = self._broker.connection.jetstream()
        for consumer in self._consumers:
            try:
                info = await js.consumer_info(consumer.stream, consumer.durable)
            except NotFoundError:  # not created yet: the subscriber creates it on start
                continue
            labels = {"stream": consumer.stream, "consumer": consumer.durable}
            NATS_CONSUMER_PENDING.set(float(info.num_pending or 0), **labels)
            NATS_CONSUMER_ACK_PENDING.set(float(info.num_ack_pending or 0), **labels)
        for stream in self._streams:
            try:
                state = (await js.stream_info(stream)).state
            except NotFoundError:
                continue
            NATS_STREAM_MESSAGES.set(float(state.messages), stream=stream)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception as error:  # NATS away for a moment: the next sample will tell
                log.debug("consumer lag not sampled: %r", error)
            await asyncio.sleep(self._every)
