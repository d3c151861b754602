"""Each messaging source's webhook turned into a ``CustomerTurn``: pure functions, one per source.

``message_key`` is the message's natural key (its SID, else Twilio's idempotency token): the
turn's ``Nats-Msg-Id``, so a webhook delivered twice becomes one turn. A webhook Baton does
not act on (another event type, our own message, no text) is :class:`Skipped`; one that
lacks what a turn needs raises :class:`IncompleteWebhook` (a 400 for Twilio).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from libs.contracts.messages import Channel, CustomerTurn, Route
from services.messaging_gateway.webhook_models import (
    Communication,
    ConversationsEvent,
    InboundSms,
)


class IncompleteWebhook(ValueError):
    """The webhook lacks a field every turn needs (its text names them)."""


@dataclass(frozen=True)
class Skipped:
    status: str
    """What the webhook answers, e.g. ``ignored`` or ``own message``."""


def sms_conversation_id(account_sid: str, our_number: str, customer: str) -> str:
    """A stable id for a plain SMS thread, without the phone numbers in it."""
    digest = hashlib.sha256(f"{account_sid}|{our_number}|{customer}".encode()).hexdigest()
    return f"sms-{digest[:32]}"


def sms_turn(sms: InboundSms, message_key: str, account_sid: str) -> CustomerTurn:
    if not message_key:
        raise IncompleteWebhook("From, To and MessageSid are required")
    return CustomerTurn(
        conversation_id=sms_conversation_id(account_sid, sms.to, sms.from_),
        message_id=message_key,
        route=Route(channel=Channel.SMS, customer_address=sms.from_, agent_address=sms.to),
        text=sms.body,
    )


def conversations_turn(
    event: ConversationsEvent, message_key: str, bot_identity: str
) -> CustomerTurn | Skipped:
    """``onMessageAdded`` from the customer; the bot's own messages are skipped."""
    if event.event_type != "onMessageAdded":
        return Skipped("ignored")
    if event.author == bot_identity:
        return Skipped("own message")
    if not (event.conversation_sid and message_key):
        raise IncompleteWebhook("ConversationSid and MessageSid required")
    return CustomerTurn(
        conversation_id=event.conversation_sid,
        message_id=message_key,
        route=Route(
            channel=Channel.CONVERSATIONS,
            customer_address=event.author,
            agent_address=bot_identity,
            twilio_conversation_id=event.conversation_sid,
        ),
        text=event.body,
    )


def orchestrator_turn(
    communication: Communication, message_key: str, our_addresses: frozenset[str], our_number: str
) -> CustomerTurn | Skipped:
    """A customer's text in an Orchestrator conversation; ours and empty ones are skipped."""
    author = communication.author
    text = communication.content.text or ""
    if author.address in our_addresses or not text:
        return Skipped("ignored")
    if not (communication.conversation_id and message_key):
        raise IncompleteWebhook("conversationId and id are required")
    return CustomerTurn(
        conversation_id=communication.conversation_id,
        message_id=message_key,
        route=Route(
            channel=Channel.ORCHESTRATOR,
            customer_address=author.address,
            agent_address=our_number,
            twilio_conversation_id=communication.conversation_id,
            medium=author.channel,
            profile_id=author.profile_id,
        ),
        text=text,
    )
