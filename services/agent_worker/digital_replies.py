"""A reply for a digital channel: stored once on the replies stream for the messaging gateway.

The reply id is the conversation plus the turn it answers, so a redelivered turn that is
answered again stores nothing new (``Nats-Msg-Id``); the epoch lets the gateway mute a reply
written before a handoff (invariant 4).
"""

from __future__ import annotations

from faststream.nats import NatsBroker

from libs.contracts.messages import AgentReply, ReplyKind
from libs.platform.publishing import publish_reply
from services.agent_worker.agent import TurnContext


async def publish_digital_reply(
    broker: NatsBroker, turn: TurnContext, text: str, kind: ReplyKind
) -> None:
    reply = AgentReply(
        conversation_id=turn.conversation_id,
        reply_id=f"{turn.conversation_id}:{turn.turn_sequence}",
        route=turn.route,
        text=text,
        epoch=turn.epoch,
        kind=kind,
    )
    await publish_reply(broker, reply)
