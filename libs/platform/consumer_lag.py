"""How far each durable consumer is behind, sampled for the lag gauges, alerts and autoscaling."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from faststream.nats import NatsBroker
from nats.js.api import StreamInfo
from nats.js.errors import NotFoundError

from libs.platform.metrics import (
    NATS_CONSUMER_ACK_PENDING,
    NATS_CONSUMER_PENDING,
    NATS_CONSUMER_REDELIVERED,
    NATS_STREAM_BYTES,
    NATS_STREAM_FULLNESS,
    NATS_STREAM_MESSAGES,
)

log = logging.getLogger("baton.consumer_lag")


@dataclass(frozen=True)
class DurableConsumer:
    stream: str
    durable: str


class ConsumerLag:
    """Samples how far each durable consumer is behind, for the lag gauges and alerts.

    JetStream knows each consumer's ``num_pending`` (stored, not yet delivered),
    ``num_ack_pending`` (delivered, not yet settled) and ``num_redelivered``; every replica
    samples the shared consumer, so dashboards take the ``max`` over instances. The streams
    of the consumers (and ``streams``) are sampled too: their size and how full they are,
    since a full stream discards its oldest messages.
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
        own = tuple(c.stream for c in consumers if c.stream not in streams)
        self._streams = tuple(dict.fromkeys((*own, *streams)))
        self._every = every_seconds
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

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
            NATS_CONSUMER_REDELIVERED.set(float(info.num_redelivered or 0), **labels)
        for stream in self._streams:
            try:
                info = await js.stream_info(stream)
            except NotFoundError:
                continue
            NATS_STREAM_MESSAGES.set(float(info.state.messages), stream=stream)
            NATS_STREAM_BYTES.set(float(info.state.bytes), stream=stream)
            NATS_STREAM_FULLNESS.set(fullness(info), stream=stream)

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop sampling; returns once the sampling task has ended.

        nats-py swallows a cancellation that lands while it writes a request, so the task is
        also told to stop by an event it checks after every sample.
        """
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.sample()
            except Exception as error:  # NATS away for a moment: the next sample will tell
                log.debug("consumer lag not sampled: %r", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._every)


def fullness(info: StreamInfo) -> float:
    """The used share of the stream's tightest limit (0 when it has none)."""
    shares = [
        used / limit
        for used, limit in (
            (info.state.bytes, info.config.max_bytes),
            (info.state.messages, info.config.max_msgs),
        )
        if limit is not None and limit > 0
    ]
    return max(shares, default=0.0)
