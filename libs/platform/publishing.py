"""Publishing with the W3C trace context: to JetStream with a natural key, or on core NATS.

The one way services store a message: the ``Nats-Msg-Id`` makes a retried or duplicated
publish a no-op inside the stream's duplicate window (invariant 3), and ``traceparent`` in
the headers links the consumer's span to the producer's. A JetStream publish goes straight to
nats-py in one ``publish <subject template>`` span, counted in FastStream's
``faststream_published_messages_*`` series: FastStream's publish path (two spans, its
middlewares, a second JSON encoding) cost twice the CPU of the publish itself. Core NATS
publishes (voice tokens, cancel, ``end``, hang-up) get their ``send`` span from
:func:`publish_core`.

A JetStream publish is only written while the connection is up. nats-py would otherwise
keep a publish made during a reconnect in its pending buffer and send it once NATS is back,
long after the caller gave up and reported "not stored" (a webhook's 5xx, a released
handoff claim). Instead the publish waits for the connection and is retried with the same
``Nats-Msg-Id`` until its time is up; a failure then means NATS never confirmed it and no
copy waits in the client's buffer. (One window stays open: a server that stored the message
and died before its answer left, and stayed down past the time allowed.)
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Mapping

from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.errors import (
    ConnectionReconnectingError,
    NoRespondersError,
    OutboundBufferLimitError,
)
from nats.js.api import Header, PubAck
from nats.js.errors import BadRequestError, ServiceUnavailableError
from opentelemetry import trace
from opentelemetry.trace import Tracer
from opentelemetry.util.types import AttributeValue
from pydantic import BaseModel

from libs.contracts.messages import AgentReply, CustomerTurn
from libs.contracts.subjects import (
    REPLIES,
    REPLIES_STREAM,
    TURNS,
    TURNS_STREAM,
    subject_template,
)
from libs.platform.nats_metrics import TemplatedNatsPrometheusMiddleware
from libs.platform.nats_spans import TemplatedNatsTelemetryMiddleware
from libs.platform.propagation import inject_trace_headers, send_span

PUBLISH_TIMEOUT_SECONDS = 5.0
WRONG_LAST_SEQUENCE = 10071
"""JetStream's refusal of a write whose expected last sequence is not the subject's or key's."""
EXPECTED_LAST_SUBJECT_SEQUENCE = Header.EXPECTED_LAST_SUBJECT_SEQUENCE.value
RETRY_PAUSE_SECONDS = 0.1
LOST_ON_THE_WAY = (
    TimeoutError,
    NoRespondersError,
    OutboundBufferLimitError,
    ConnectionReconnectingError,
    ServiceUnavailableError,
)
"""A publish that may not have reached JetStream: retried with the same id."""
JSON = "application/json"
"""The body's type, which FastStream's subscribers decode by."""
_TRACER = trace.get_tracer(__name__)


class NotStored(Exception):
    """NATS was unreachable for the time allowed; no copy of the message waits to be sent."""


async def publish_once(
    broker: NatsBroker,
    payload: BaseModel,
    *,
    subject: str,
    stream: str,
    message_id: str,
    within_seconds: float = PUBLISH_TIMEOUT_SECONDS,
    headers: Mapping[str, str] | None = None,
) -> PubAck:
    """Store ``payload`` once; ``ack.duplicate`` is true when the id was already stored.

    Tries until ``within_seconds`` pass, publishing only while connected; then raises the
    last attempt's error, or :class:`NotStored` when NATS was never reachable.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds
    connection = broker.connection
    body = payload.model_dump_json().encode()
    template = subject_template(subject)
    tracer, metrics = _instruments(broker)
    last_error: BaseException | None = None
    span = send_span(
        tracer, subject, template, {"messaging.message.id": message_id}, operation="publish"
    )
    with trace.use_span(span, end_on_exit=True):
        carrier = inject_trace_headers(
            {**(headers or {}), "Nats-Msg-Id": message_id, "content-type": JSON}
        )
        while (remaining := deadline - loop.time()) > 0:
            if not connection.is_connected:
                await asyncio.sleep(min(RETRY_PAUSE_SECONDS, remaining))
                continue
            started = time.perf_counter()
            try:
                ack = await connection.jetstream().publish(
                    subject,
                    body,
                    timeout=min(PUBLISH_TIMEOUT_SECONDS, remaining),
                    stream=stream,
                    headers=dict(carrier),
                )
            except LOST_ON_THE_WAY as lost:
                _count(metrics, template, started, lost)
                last_error = lost
                await asyncio.sleep(min(RETRY_PAUSE_SECONDS, max(0.0, deadline - loop.time())))
                continue
            except Exception as refused:
                _count(metrics, template, started, refused)
                raise
            _count(metrics, template, started, None)
            return ack
        if last_error is not None:
            raise last_error
        raise NotStored(f"{message_id} not stored: NATS unreachable for {within_seconds:g}s")


def _count(
    metrics: TemplatedNatsPrometheusMiddleware | None,
    template: str,
    started: float,
    error: BaseException | None,
) -> None:
    """One attempt in FastStream's series, timed without the pause before a retry."""
    if metrics is not None:
        metrics.published(template, time.perf_counter() - started, error)


def _instruments(broker: NatsBroker) -> tuple[Tracer, TemplatedNatsPrometheusMiddleware | None]:
    """The service's tracer and publish counters, from the broker's middlewares
    (:func:`~libs.platform.connection.create_broker`); a bare broker traces in its caller's."""
    tracer, metrics = _TRACER, None
    for middleware in broker.middlewares:
        if isinstance(middleware, TemplatedNatsTelemetryMiddleware):
            tracer = middleware.service_tracer
        elif isinstance(middleware, TemplatedNatsPrometheusMiddleware):
            metrics = middleware
    return tracer, metrics


async def publish_turn(
    broker: NatsBroker, turn: CustomerTurn, within_seconds: float = PUBLISH_TIMEOUT_SECONDS
) -> PubAck:
    """A customer turn, keyed by its message's natural key.

    A turn that names the previous one (``previous_sequence``) is stored only right after it:
    JetStream checks the conversation's last stored sequence, so the name is true of what is
    stored. When another turn came between (another socket of the call, a replayed dead
    letter), the turn is stored without the name, and its worker reads the stream. A retry
    of a turn stored before its answer was lost is refused the same way, then found again as
    a duplicate of its id.
    """
    store = functools.partial(
        publish_once,
        broker,
        subject=TURNS.subject(turn.conversation_id),
        stream=TURNS_STREAM,
        message_id=f"turn:{turn.message_id}",
        within_seconds=within_seconds,
    )
    if turn.previous_sequence is not None:
        expected = {EXPECTED_LAST_SUBJECT_SEQUENCE: str(turn.previous_sequence)}
        try:
            return await store(turn, headers=expected)
        except BadRequestError as refused:
            if refused.err_code != WRONG_LAST_SEQUENCE:
                raise
        turn = turn.model_copy(update={"previous_sequence": None})
    return await store(turn)


def stored_right_after(turn: CustomerTurn, headers: Mapping[str, str]) -> int | None:
    """The turn's ``previous_sequence``, if JetStream checked it when the turn was stored."""
    expected = headers.get(EXPECTED_LAST_SUBJECT_SEQUENCE)
    if turn.previous_sequence is None or expected != str(turn.previous_sequence):
        return None
    return turn.previous_sequence


async def publish_reply(broker: NatsBroker, reply: AgentReply) -> PubAck:
    """A reply for a digital channel, keyed by the reply id."""
    return await publish_once(
        broker,
        reply,
        subject=REPLIES.subject(reply.conversation_id),
        stream=REPLIES_STREAM,
        message_id=f"reply:{reply.reply_id}",
    )


async def publish_core(
    connection: Client,
    tracer: Tracer,
    payload: BaseModel,
    *,
    subject: str,
    template: str,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> None:
    """A core NATS message (no stream, no ack) in its own ``send`` span, context in headers."""
    with trace.use_span(send_span(tracer, subject, template, attributes), end_on_exit=True):
        await connection.publish(
            subject, payload.model_dump_json().encode(), headers=inject_trace_headers()
        )
