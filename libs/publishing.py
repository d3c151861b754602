"""Publishing to JetStream with a natural-key ``Nats-Msg-Id`` and the W3C trace context.

The one way services store a message: the id makes a retried or duplicated publish a
no-op inside the stream's duplicate window (invariant 3), and ``traceparent`` in the
headers links the consumer's span to the producer's.
"""

from __future__ import annotations

from faststream.nats import NatsBroker
from nats.js.api import PubAck
from pydantic import BaseModel

from libs.messages import AgentReply, CustomerTurn
from libs.subjects import REPLIES_STREAM, TURNS_STREAM, reply_subject, turn_subject
from libs.telemetry import inject_trace_headers

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
        subject=turn_subject(turn.conversation_id),
        stream=TURNS_STREAM,
        message_id=f"turn:{turn.message_id}",
    )


async def publish_reply(broker: NatsBroker, reply: AgentReply) -> PubAck:
    """A reply for a digital channel, keyed by the reply id."""
    return await publish_once(
        broker,
        reply,
        subject=reply_subject(reply.conversation_id),
        stream=REPLIES_STREAM,
        message_id=f"reply:{reply.reply_id}",
    )
