"""Each messaging source's webhook turned into a ``CustomerTurn``: pure functions, one per source.

``message_key`` is the message's natural key (its SID, else Twilio's idempotency token): the
turn's ``Nats-Msg-Id``, so a webhook delivered twice becomes one turn. A webhook Baton does
not act on (another event type, our own message, no text) is :class:`Skipped`; one that
lacks what a turn needs raises :class:`IncompleteWebhook` (a 400 for Twilio).
"""

from __future__ import annotations

import hashlib
import json
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


def with_attachments(text: str, count: int, kind: str = "") -> str:
    """A message with media keeps its words and says what came with them, so the agent can
    tell the customer it cannot open it (instead of answering an empty message)."""
    if count <= 0:
        return text
    what = f"{count} attachment{'s' if count > 1 else ''}" + (f" ({kind})" if kind else "")
    note = f"[The customer sent {what}, which the assistant cannot open.]"
    return f"{text}\n{note}" if text else note


def media_count(raw: str) -> int:
    try:
        media = json.loads(raw) if raw else []
    except ValueError:
        return 0
    return len(media) if isinstance(media, list) else 0


def sms_turn(sms: InboundSms, message_key: str, account_sid: str) -> CustomerTurn:
    if not message_key:
        raise IncompleteWebhook("From, To and MessageSid are required")
    return CustomerTurn(
        conversation_id=sms_conversation_id(account_sid, sms.to, sms.from_),
        message_id=message_key,
        route=Route(channel=Channel.SMS, customer_address=sms.from_, agent_address=sms.to),
        text=with_attachments(sms.body, sms.num_media, sms.media_type),
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
        text=with_attachments(event.body, media_count(event.media)),
    )


def orchestrator_turn(
    communication: Communication,
    message_key: str,
    our_addresses: frozenset[str],
    agent_address: str,
) -> CustomerTurn | Skipped:
    """A customer's text in an Orchestrator conversation; ours and empty ones are skipped.

    ``agent_address`` is our sender on the customer's channel (the address they wrote to);
    the ``channelId`` is kept for the reply's ``channelSettings``.
    """
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
            agent_address=agent_address,
            twilio_conversation_id=communication.conversation_id,
            medium=author.channel,
            channel_id=communication.channel_id,
        ),
        text=text,
    )
