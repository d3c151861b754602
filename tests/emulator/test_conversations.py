"""Conversations (classic) through the twilio client: messages, participants, states, timers."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException

from tests.emulator.harness import Emulator, call
from tests.support.twilio_fakes import ACCOUNT_SID, CUSTOMER, OUR_NUMBER


async def test_conversation_messages_and_participants(emulator: Emulator) -> None:
    conversations = emulator.twilio().conversations.v1.conversations
    conversation = await call(conversations.create, friendly_name="support")
    assert conversation.sid.startswith("CH") and conversation.state == "active"
    assert conversation.friendly_name == "support" and conversation.account_sid == ACCOUNT_SID
    assert conversation.url == f"{emulator.url}/v1/Conversations/{conversation.sid}"

    handle = conversations(conversation.sid)
    customer = await call(
        handle.participants.create,
        messaging_binding_address=CUSTOMER,
        messaging_binding_proxy_address=OUR_NUMBER,
    )
    assert customer.sid.startswith("MB") and customer.identity is None
    assert customer.messaging_binding == {
        "type": "sms",
        "address": CUSTOMER,
        "proxy_address": OUR_NUMBER,
    }
    agent = await call(handle.participants.create, identity="baton-bot")
    assert agent.identity == "baton-bot" and agent.messaging_binding is None

    first = await call(handle.messages.create, author="baton-bot", body="Hello!")
    second = await call(handle.messages.create, body="System note")
    assert (first.index, second.index) == (0, 1)
    assert first.sid.startswith("IM") and first.participant_sid == agent.sid
    assert second.author == "system" and second.attributes == "{}"
    assert first.conversation_sid == conversation.sid
    listed = await call(handle.messages.list)
    assert [m.body for m in listed] == ["Hello!", "System note"]
    assert len(await call(handle.participants.list)) == 2

    outbox = await emulator.get("/_emulator/outbox", channel="conversations")
    assert [(e["to"], e["author"], e["body"]) for e in outbox] == [
        (CUSTOMER, "baton-bot", "Hello!"),
        (CUSTOMER, "system", "System note"),
    ]
    assert outbox[0]["conversation"] == conversation.sid


async def test_unknown_conversation_is_404(emulator: Emulator) -> None:
    handle = emulator.twilio().conversations.v1.conversations("CH" + "99" * 16)
    with pytest.raises(TwilioRestException) as missing:
        await call(handle.messages.create, body="hello?")
    assert (missing.value.status, missing.value.code) == (404, 20404)
    with pytest.raises(TwilioRestException):
        await call(handle.fetch)


async def test_states_timers_and_closed_is_terminal(emulator: Emulator) -> None:
    conversations = emulator.twilio().conversations.v1.conversations
    conversation = await call(conversations.create)
    handle = conversations(conversation.sid)
    with_timers = await call(
        handle.update, state="inactive", timers_inactive="PT5M", timers_closed="PT10M"
    )
    assert with_timers.state == "inactive"
    assert set(with_timers.timers) == {"date_inactive", "date_closed"}

    await call(handle.messages.create, author="baton-bot", body="still there?")
    assert (await call(handle.fetch)).state == "active"

    closed = await call(handle.update, state="closed")
    assert closed.state == "closed"
    with pytest.raises(TwilioRestException) as reopen:
        await call(handle.update, state="active")
    assert reopen.value.status == 409
    with pytest.raises(TwilioRestException) as late:
        await call(handle.messages.create, body="too late")
    assert late.value.status == 409


async def test_one_open_conversation_per_binding(emulator: Emulator) -> None:
    conversations = emulator.twilio().conversations.v1.conversations
    first = await call(conversations.create)
    second = await call(conversations.create)
    bind = {"messaging_binding_address": CUSTOMER, "messaging_binding_proxy_address": OUR_NUMBER}
    await call(conversations(first.sid).participants.create, **bind)
    with pytest.raises(TwilioRestException) as taken:
        await call(conversations(second.sid).participants.create, **bind)
    assert (taken.value.status, taken.value.code) == (409, 50416)
    assert first.sid in taken.value.msg

    await call(conversations(first.sid).update, state="closed")
    moved = await call(conversations(second.sid).participants.create, **bind)
    assert moved.messaging_binding["address"] == CUSTOMER


async def test_delete_conversation(emulator: Emulator) -> None:
    conversations = emulator.twilio().conversations.v1.conversations
    conversation = await call(conversations.create)
    assert await call(conversations(conversation.sid).delete) is True
    assert await call(conversations.list) == []


async def test_scoped_webhooks(emulator: Emulator) -> None:
    conversation = await call(emulator.twilio().conversations.v1.conversations.create)
    webhooks = emulator.twilio().conversations.v1.conversations(conversation.sid).webhooks
    bot = await call(
        webhooks.create,
        target="webhook",
        configuration_url="https://bot.example.test/hooks",
        configuration_filters=["onMessageAdded", "onConversationStateUpdated"],
    )
    assert bot.sid.startswith("WH") and bot.target == "webhook"
    assert bot.configuration == {
        "url": "https://bot.example.test/hooks",
        "method": "POST",
        "filters": ["onMessageAdded", "onConversationStateUpdated"],
    }
    flow = await call(webhooks.create, target="studio", configuration_flow_sid="FW" + "12" * 16)
    assert flow.configuration["flow_sid"] == "FW" + "12" * 16
    assert [w.sid for w in await call(webhooks.list)] == [bot.sid, flow.sid]
    moved = await call(webhooks(bot.sid).update, configuration_url="https://bot.example.test/v2")
    assert moved.configuration["url"] == "https://bot.example.test/v2"
    assert await call(webhooks(flow.sid).delete) is True
    assert [w.sid for w in await call(webhooks.list)] == [bot.sid]
    with pytest.raises(TwilioRestException) as no_url:
        await call(webhooks.create, target="webhook")
    assert no_url.value.status == 400
