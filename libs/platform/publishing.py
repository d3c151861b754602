"""Publishing with the W3C trace context: to JetStream with a natural key, or on core NATS.

The one way services store a message: the ``Nats-Msg-Id`` makes a retried or duplicated
publish a no-op inside the stream's duplicate window (invariant 3), and ``traceparent`` in
the headers links the consumer's span to the producer's. FastStream's telemetry middleware
makes the spans of JetStream publishes; core NATS publishes (voice tokens, cancel, ``end``,
hang-up) get their ``send`` span from :func:`publish_core`.
"""

from __future__ import annotations

from collections.abc import Mapping

from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.js.api import PubAck
from opentelemetry import trace
from opentelemetry.trace import Tracer
from opentelemetry.util.types import AttributeValue
from pydantic import BaseModel

from libs.contracts.messages import AgentReply, CustomerTurn
from libs.contracts.subjects import REPLIES, REPLIES_STREAM, TURNS, TURNS_STREAM
from libs.platform.propagation import inject_trace_headers, send_span

PUBLISH_TIMEOUT_SECONDS = 5.0


async def publish_once(
    broker: NatsBroker, payload: BaseModel, *, subject: str, stream: str, message_id: str
) -> PubAck:
    """Store ``payload`` once; ``ack.duplicate`` is true when the id was already stored."""
    ack = await broker.publish(
        payload.model_dump(mode="json"),
        subject,
        stream=stream,
        headers=inject_trace_headers({"Nats-Msg-Id": message_id}),
        timeout=PUBLISH_TIMEOUT_SECONDS,
    )
    assert isinstance(ack, PubAck)
    return ack


async def publish_turn(broker: NatsBroker, turn: CustomerTurn) -> PubAck:
    """A customer turn, keyed by its message's natural key."""
    return await publish_once(
        broker,
        turn,
        subject=TURNS.subject(turn.conversation_id),
        stream=TURNS_STREAM,
        message_id=f"turn:{turn.message_id}",
    )


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
