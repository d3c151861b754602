"""Inbound Twilio messaging webhooks, normalized into ``CustomerTurn``s on the turn stream.

Every route checks ``X-Twilio-Signature`` first: a forged request gets 403 and nothing is
published. A turn is published with ``Nats-Msg-Id`` set to the message's natural key, so a
webhook delivered twice, to the same or another replica, becomes one turn. The webhook is
answered only after JetStream stored the turn; if NATS is down Twilio gets 503 and retries.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from faststream.nats import NatsBroker
from twilio.twiml.messaging_response import MessagingResponse

from libs.contracts.conversation import give_back_to_bot
from libs.contracts.messages import Channel, CustomerTurn, Route
from libs.platform.conversation_store import ConversationStore
from libs.platform.publishing import publish_turn
from libs.platform.twilio_signature import TwilioSignature

log = logging.getLogger("baton.messaging_gateway.webhooks")

IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"


def sms_conversation_id(account_sid: str, our_number: str, customer: str) -> str:
    """A stable id for a plain SMS thread, without the phone numbers in it."""
    digest = hashlib.sha256(f"{account_sid}|{our_number}|{customer}".encode()).hexdigest()
    return f"sms-{digest[:32]}"


@dataclass
class TurnPublisher:
    broker: NatsBroker

    async def publish(self, turn: CustomerTurn) -> bool:
        """Store the turn; returns False when JetStream saw the same message id before."""
        try:
            ack = await publish_turn(self.broker, turn)
        except Exception as error:
            log.error("could not store turn %s: %r", turn.message_id, error)
            raise HTTPException(status_code=503, detail="turn not stored, retry") from error
        duplicate = bool(ack.duplicate)
        if duplicate:
            log.info("duplicate webhook for %s ignored", turn.message_id)
        return not duplicate


def messaging_router(
    signature: TwilioSignature,
    publisher: TurnPublisher,
    store: Callable[[], ConversationStore],
    *,
    account_sid: str,
    bot_identity: str,
    our_number: str,
) -> APIRouter:
    router = APIRouter(prefix="/messaging", tags=["messaging"])

    async def conversation_updated(data: dict[str, Any]) -> dict[str, str]:
        """CLOSED ends the episode: a handed-off conversation's state is released."""
        status, conversation_id = str(data.get("status", "")), str(data.get("id", ""))
        if status != "CLOSED" or not conversation_id:
            return {"status": "noted"}
        state = (await store().apply(conversation_id, give_back_to_bot())).state
        log.info("orchestrator closed %s (epoch %s)", conversation_id, state.epoch)
        return {"status": "closed"}

    def message_key(request: Request, sid: str) -> str:
        return sid or request.headers.get(IDEMPOTENCY_HEADER, "")

    @router.post("/sms")
    async def inbound_sms(request: Request) -> Response:
        """Programmable Messaging inbound SMS; the reply goes out later through the REST API."""
        form = await signature.signed_form(request)
        customer, ours = str(form.get("From", "")), str(form.get("To", ""))
        key = message_key(request, str(form.get("MessageSid", "")))
        if not (customer and ours and key):
            raise HTTPException(status_code=400, detail="From, To and MessageSid are required")
        await publisher.publish(
            CustomerTurn(
                conversation_id=sms_conversation_id(account_sid, ours, customer),
                message_id=key,
                route=Route(channel=Channel.SMS, customer_address=customer, agent_address=ours),
                text=str(form.get("Body", "")),
            )
        )
        return Response(str(MessagingResponse()), media_type="application/xml")

    @router.post("/conversations")
    async def conversations_event(request: Request) -> dict[str, str]:
        """Conversations (classic) ``onMessageAdded``; the bot's own messages are ignored."""
        form = await signature.signed_form(request)
        if form.get("EventType") != "onMessageAdded":
            return {"status": "ignored"}
        author = str(form.get("Author", ""))
        conversation_sid = str(form.get("ConversationSid", ""))
        key = message_key(request, str(form.get("MessageSid", "")))
        if author == bot_identity:
            return {"status": "own message"}
        if not (conversation_sid and key):
            raise HTTPException(status_code=400, detail="ConversationSid and MessageSid required")
        await publisher.publish(
            CustomerTurn(
                conversation_id=conversation_sid,
                message_id=key,
                route=Route(
                    channel=Channel.CONVERSATIONS,
                    customer_address=author,
                    agent_address=bot_identity,
                    twilio_conversation_id=conversation_sid,
                ),
                text=str(form.get("Body", "")),
            )
        )
        return {"status": "accepted"}

    @router.post("/orchestrator")
    async def orchestrator_event(request: Request) -> dict[str, str]:
        """Conversation Orchestrator JSON events (signed with ``bodySHA256``)."""
        body = await signature.signed_json_body(request)
        try:
            event: dict[str, Any] = json.loads(body)
        except ValueError as error:
            raise HTTPException(status_code=400, detail="body is not JSON") from error
        event_type = event.get("eventType")
        data: dict[str, Any] = event.get("data") or {}
        if event_type == "CONVERSATION_UPDATED":
            return await conversation_updated(data)
        if event_type != "COMMUNICATION_CREATED":
            return {"status": "ignored"}
        author: dict[str, Any] = data.get("author") or {}
        text = str((data.get("content") or {}).get("text") or "")
        if author.get("address") in {our_number, bot_identity} or not text:
            return {"status": "ignored"}
        conversation_id = str(data.get("conversationId", ""))
        key = message_key(request, str(data.get("id", "")))
        if not (conversation_id and key):
            raise HTTPException(status_code=400, detail="conversationId and id are required")
        await publisher.publish(
            CustomerTurn(
                conversation_id=conversation_id,
                message_id=key,
                route=Route(
                    channel=Channel.ORCHESTRATOR,
                    customer_address=str(author.get("address", "")),
                    agent_address=our_number,
                    twilio_conversation_id=conversation_id,
                    medium=str(author.get("channel", "SMS")),
                    profile_id=str(author.get("profileId", "")),
                ),
                text=text,
            )
        )
        return {"status": "accepted"}

    return router
