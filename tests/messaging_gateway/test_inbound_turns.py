"""Each source's webhook, shaped exactly as Twilio sends it, becomes the right turn (or none)."""

from __future__ import annotations

import json

import pytest

from libs.contracts.messages import Channel
from services.messaging_gateway.inbound_turns import (
    IncompleteWebhook,
    Skipped,
    conversations_turn,
    orchestrator_turn,
    sms_conversation_id,
    sms_turn,
)
from services.messaging_gateway.webhook_models import (
    CommunicationCreated,
    ConversationsEvent,
    InboundSms,
)

ACCOUNT = "AC11111111111111111111111111111111"
CUSTOMER = "+15005550006"
OURS = "+15005550001"
BOT = "baton-agent"

# Programmable Messaging's inbound webhook (twilio_wire.md §4.3), every parameter as sent.
INBOUND_SMS = {
    "ToCountry": "US",
    "ToState": "CA",
    "SmsMessageSid": "SM44444444444444444444444444444444",
    "NumMedia": "0",
    "ToCity": "",
    "FromZip": "94105",
    "SmsSid": "SM44444444444444444444444444444444",
    "FromState": "CA",
    "SmsStatus": "received",
    "FromCity": "SAN FRANCISCO",
    "Body": "Where is my order?",
    "FromCountry": "US",
    "To": OURS,
    "MessagingServiceSid": "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "ToZip": "",
    "NumSegments": "1",
    "MessageSid": "SM44444444444444444444444444444444",
    "AccountSid": ACCOUNT,
    "From": CUSTOMER,
    "ApiVersion": "2010-04-01",
}

# Conversations (classic) onMessageAdded (twilio_wire.md §4.1), with the observed extras.
ON_MESSAGE_ADDED = {
    "AccountSid": ACCOUNT,
    "EventType": "onMessageAdded",
    "Source": "SMS",
    "ConversationSid": "CH88888888888888888888888888888888",
    "MessageSid": "IM99999999999999999999999999999999",
    "MessagingServiceSid": "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "ChatServiceSid": "ISbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    "Index": "3",
    "DateCreated": "2026-01-05T10:00:00.000Z",
    "Body": "I need help with my bill",
    "Author": CUSTOMER,
    "ParticipantSid": "MBcccccccccccccccccccccccccccccccc",
    "Attributes": "{}",
    "WebhookSid": "WHdddddddddddddddddddddddddddddddd",
    "WebhookType": "webhook",
    "RetryCount": "0",
}

# Conversation Orchestrator's COMMUNICATION_CREATED (tac_sdk.md §3).
COMMUNICATION_CREATED = {
    "eventType": "COMMUNICATION_CREATED",
    "data": {
        "id": "comm_01",
        "conversationId": "conv_01",
        "accountId": ACCOUNT,
        "author": {"address": CUSTOMER, "channel": "SMS", "participantId": "part_01"},
        "content": {"type": "TEXT", "text": "Is my parcel lost?"},
        "recipients": [{"address": OURS, "channel": "SMS"}],
        "channelId": "CH88888888888888888888888888888888",
        "createdAt": "2026-01-05T10:00:00Z",
        "updatedAt": "2026-01-05T10:00:00Z",
    },
}


def test_an_inbound_sms_is_a_turn_on_the_sms_thread() -> None:
    sms = InboundSms.model_validate(INBOUND_SMS)
    turn = sms_turn(sms, sms.message_sid, ACCOUNT)
    assert turn.conversation_id == sms_conversation_id(ACCOUNT, OURS, CUSTOMER)
    assert CUSTOMER not in turn.conversation_id, "no phone number in subjects and keys"
    assert turn.message_id == "SM44444444444444444444444444444444"
    assert turn.text == "Where is my order?"
    route = turn.route
    assert (route.channel, route.customer_address, route.agent_address) == (
        Channel.SMS,
        CUSTOMER,
        OURS,
    )


def test_an_sms_thread_is_per_customer_and_number() -> None:
    ids = {
        sms_conversation_id(ACCOUNT, OURS, CUSTOMER),
        sms_conversation_id(ACCOUNT, OURS, "+15005550007"),
        sms_conversation_id(ACCOUNT, "+15005550002", CUSTOMER),
    }
    assert len(ids) == 3
    assert sms_conversation_id(ACCOUNT, OURS, CUSTOMER) == sms_conversation_id(
        ACCOUNT, OURS, CUSTOMER
    )


def test_an_sms_without_a_key_is_incomplete() -> None:
    sms = InboundSms.model_validate({**INBOUND_SMS, "MessageSid": ""})
    with pytest.raises(IncompleteWebhook):
        sms_turn(sms, "", ACCOUNT)


def test_on_message_added_is_a_turn_in_that_conversation() -> None:
    event = ConversationsEvent.model_validate(ON_MESSAGE_ADDED)
    turn = conversations_turn(event, event.message_sid, BOT)
    assert not isinstance(turn, Skipped)
    assert turn.conversation_id == "CH88888888888888888888888888888888"
    assert turn.message_id == "IM99999999999999999999999999999999"
    assert turn.route.channel is Channel.CONVERSATIONS
    assert turn.route.twilio_conversation_id == "CH88888888888888888888888888888888"
    assert (turn.route.customer_address, turn.route.agent_address) == (CUSTOMER, BOT)
    assert turn.text == "I need help with my bill"


def test_the_bots_own_message_and_other_events_are_skipped() -> None:
    own = ConversationsEvent.model_validate({**ON_MESSAGE_ADDED, "Author": BOT})
    assert conversations_turn(own, own.message_sid, BOT) == Skipped("own message")
    state = ConversationsEvent.model_validate(
        {**ON_MESSAGE_ADDED, "EventType": "onConversationStateUpdated"}
    )
    assert conversations_turn(state, state.message_sid, BOT) == Skipped("ignored")


def test_on_message_added_without_a_conversation_is_incomplete() -> None:
    event = ConversationsEvent.model_validate({**ON_MESSAGE_ADDED, "ConversationSid": ""})
    with pytest.raises(IncompleteWebhook):
        conversations_turn(event, event.message_sid, BOT)


def test_a_communication_is_a_turn_in_the_orchestrator_conversation() -> None:
    event = CommunicationCreated.model_validate_json(json.dumps(COMMUNICATION_CREATED))
    turn = orchestrator_turn(event.data, event.data.id, frozenset({OURS, BOT}), OURS)
    assert not isinstance(turn, Skipped)
    assert turn.conversation_id == "conv_01" and turn.message_id == "comm_01"
    assert turn.route.channel is Channel.ORCHESTRATOR
    assert turn.route.twilio_conversation_id == "conv_01"
    assert turn.route.medium == "SMS" and turn.route.customer_address == CUSTOMER
    assert turn.text == "Is my parcel lost?"


@pytest.mark.parametrize(
    "change",
    [
        {"author": {"address": OURS, "channel": "SMS"}},
        {"content": {"type": "TEXT", "text": ""}},
        {"content": {"type": "TRANSCRIPTION"}},
    ],
    ids=["our own message", "empty text", "no text"],
)
def test_our_messages_and_empty_communications_are_skipped(change: dict[str, object]) -> None:
    body = {**COMMUNICATION_CREATED, "data": {**COMMUNICATION_CREATED["data"], **change}}  # type: ignore[dict-item]
    event = CommunicationCreated.model_validate(body)
    assert orchestrator_turn(event.data, event.data.id, frozenset({OURS, BOT}), OURS) == Skipped(
        "ignored"
    )
