"""Inbound webhooks as Twilio sends them: signed, with an idempotency token, replayed on retry."""

from __future__ import annotations

import asyncio
import hashlib
import json
from urllib.parse import parse_qs, urlsplit

from baton_devtools.nats_server import free_port
from tests.emulator.conftest import StartEmulator
from tests.emulator.harness import Receiver, call
from tests.support.servers import serve
from tests.support.twilio_fakes import ACCOUNT_SID, CUSTOMER, OUR_NUMBER


async def test_inbound_sms_is_signed_and_replayed(
    start_emulator: StartEmulator, receiver: tuple[Receiver, str]
) -> None:
    hooks, url = receiver
    emulator = await start_emulator(emulator_sms_webhook_url=f"{url}/sms")
    sent = await emulator.post("/_emulator/sms", {"from": CUSTOMER, "body": "hi"})
    assert sent["status_code"] == 200 and sent["message_sid"].startswith("SM")
    (delivery,) = hooks.deliveries
    assert delivery.valid and delivery.path == "/sms"
    assert delivery.idempotency_token == sent["idempotency_token"]
    params = delivery.params
    assert params["MessageSid"] == params["SmsSid"] == params["SmsMessageSid"]
    assert params["MessageSid"] == sent["message_sid"]
    assert (params["From"], params["To"], params["Body"]) == (CUSTOMER, OUR_NUMBER, "hi")
    assert params["AccountSid"] == ACCOUNT_SID and params["ApiVersion"] == "2010-04-01"
    assert (params["NumMedia"], params["NumSegments"], params["SmsStatus"]) == (
        "0",
        "1",
        "received",
    )
    assert params["FromCity"] == ""

    replayed = await emulator.post("/_emulator/replay", {"message_sid": sent["message_sid"]})
    assert replayed["idempotency_token"] == sent["idempotency_token"]
    assert replayed["attempts"] == 2 and replayed["status_code"] == 200
    first, second = hooks.deliveries
    assert second.valid and second.idempotency_token == first.idempotency_token
    assert second.params == first.params

    other = await emulator.post("/_emulator/sms", {"from": CUSTOMER, "body": "again"})
    assert other["idempotency_token"] != sent["idempotency_token"]


async def test_twiml_message_reply_reaches_the_texter(
    start_emulator: StartEmulator, receiver: tuple[Receiver, str]
) -> None:
    hooks, url = receiver
    hooks.sms_reply = "<Response><Message>Thanks, one moment.</Message></Response>"
    emulator = await start_emulator(emulator_sms_webhook_url=f"{url}/sms")
    await emulator.post("/_emulator/sms", {"from": CUSTOMER, "body": "hi"})
    (entry,) = await emulator.get("/_emulator/outbox")
    assert (entry["channel"], entry["to"], entry["from"]) == ("sms", CUSTOMER, OUR_NUMBER)
    assert entry["body"] == "Thanks, one moment."


async def test_conversation_message_added(
    start_emulator: StartEmulator, receiver: tuple[Receiver, str]
) -> None:
    hooks, url = receiver
    emulator = await start_emulator(emulator_conversations_webhook_url=f"{url}/conversations")
    first = await emulator.post(
        "/_emulator/conversations/message", {"author": CUSTOMER, "body": "I need help"}
    )
    second = await emulator.post(
        "/_emulator/conversations/message", {"author": CUSTOMER, "body": "with my bill"}
    )
    assert first["conversation_sid"] == second["conversation_sid"]
    assert (first["index"], second["index"]) == (0, 1)
    conversation_sid = first["conversation_sid"]
    delivery = hooks.deliveries[0]
    assert delivery.valid and delivery.idempotency_token == first["idempotency_token"]
    params = delivery.params
    assert params["EventType"] == "onMessageAdded" and params["Source"] == "SMS"
    assert params["ConversationSid"] == conversation_sid
    assert params["MessageSid"] == first["message_sid"] and params["MessageSid"].startswith("IM")
    assert (params["Index"], params["Author"], params["Body"]) == ("0", CUSTOMER, "I need help")
    assert params["ParticipantSid"].startswith("MB") and params["Attributes"] == "{}"
    assert params["MessagingServiceSid"].startswith("MG")
    assert params["DateCreated"].endswith("Z")

    handle = emulator.twilio().conversations.v1.conversations(conversation_sid)
    participants = await call(handle.participants.list)
    assert [p.messaging_binding["address"] for p in participants] == [CUSTOMER]
    await call(handle.messages.create, author="baton-bot", body="Let me check.")
    outbox = await emulator.get("/_emulator/outbox")
    assert [(e["to"], e["author"], e["body"]) for e in outbox] == [
        (CUSTOMER, "baton-bot", "Let me check.")
    ]

    replayed = await emulator.post("/_emulator/replay", {"message_sid": first["message_sid"]})
    assert replayed["idempotency_token"] == first["idempotency_token"]
    assert hooks.deliveries[-1].valid and hooks.deliveries[-1].params == params


async def test_named_conversation_is_created_on_first_message(
    start_emulator: StartEmulator, receiver: tuple[Receiver, str]
) -> None:
    hooks, url = receiver
    emulator = await start_emulator(emulator_conversations_webhook_url=f"{url}/conversations")
    wanted = "CH" + "42" * 16
    sent = await emulator.post(
        "/_emulator/conversations/message",
        {"conversation_sid": wanted, "author": "web-visitor-7", "body": "hello"},
    )
    assert sent["conversation_sid"] == wanted
    params = hooks.deliveries[0].params
    assert params["Source"] == "SDK" and params["ClientIdentity"] == "web-visitor-7"
    fetched = await call(emulator.twilio().conversations.v1.conversations(wanted).fetch)
    assert fetched.state == "active"


async def test_rest_message_fires_webhook_only_when_enabled(
    start_emulator: StartEmulator, receiver: tuple[Receiver, str]
) -> None:
    hooks, url = receiver
    emulator = await start_emulator(emulator_conversations_webhook_url=f"{url}/conversations")
    conversation = await call(emulator.twilio().conversations.v1.conversations.create)
    messages = emulator.twilio().conversations.v1.conversations(conversation.sid).messages
    await call(messages.create, author="baton-bot", body="quiet")
    await call(messages.create, author="baton-bot", body="loud", x_twilio_webhook_enabled="true")
    for _ in range(100):
        if hooks.deliveries:
            break
        await asyncio.sleep(0.02)
    (delivery,) = hooks.deliveries
    assert delivery.valid and delivery.params["Body"] == "loud"
    assert delivery.params["Source"] == "API"


async def test_orchestrator_communication_is_signed_json(
    start_emulator: StartEmulator, receiver: tuple[Receiver, str]
) -> None:
    hooks, url = receiver
    emulator = await start_emulator(emulator_orchestrator_webhook_url=f"{url}/orchestrator")
    sent = await emulator.post(
        "/_emulator/orchestrator/communication",
        {"author": CUSTOMER, "channel": "SMS", "text": "Where is my order?"},
    )
    assert sent["status_code"] == 200
    (delivery,) = hooks.deliveries
    assert delivery.valid and delivery.idempotency_token == sent["idempotency_token"]
    event = json.loads(delivery.body)
    assert event["eventType"] == "COMMUNICATION_CREATED"
    data = event["data"]
    assert data["id"] == sent["message_sid"] and data["conversationId"] == sent["conversation_id"]
    assert data["accountId"] == ACCOUNT_SID
    assert data["author"]["address"] == CUSTOMER and data["author"]["channel"] == "SMS"
    assert data["content"] == {"type": "TEXT", "text": "Where is my order?"}
    assert data["recipients"][0]["address"] == OUR_NUMBER
    assert data["channelId"].startswith("CH")

    webhook = (await emulator.get("/_emulator/webhooks"))[0]
    query = parse_qs(urlsplit(webhook["url"]).query)
    assert query["bodySHA256"] == [hashlib.sha256(delivery.body.encode()).hexdigest()]

    again = await emulator.post(
        "/_emulator/orchestrator/communication", {"author": CUSTOMER, "text": "Hello?"}
    )
    assert again["conversation_id"] == sent["conversation_id"]

    replayed = await emulator.post("/_emulator/replay", {"message_sid": sent["message_sid"]})
    assert replayed["idempotency_token"] == sent["idempotency_token"]
    assert hooks.deliveries[-1].valid and hooks.deliveries[-1].body == delivery.body


async def test_signatures_over_the_public_base_url(start_emulator: StartEmulator) -> None:
    """Behind a proxy the gateway validates against PUBLIC_BASE_URL + path, not its own host."""
    public = "https://baton.example.test"
    hooks = Receiver(public_base=public)
    async with serve(hooks.app, free_port()) as url:
        emulator = await start_emulator(
            emulator_sms_webhook_url=f"{url}/sms",
            emulator_orchestrator_webhook_url=f"{url}/orchestrator",
            emulator_webhook_base_url=public,
        )
        await emulator.post("/_emulator/sms", {"from": CUSTOMER, "body": "hi"})
        await emulator.post(
            "/_emulator/orchestrator/communication", {"author": CUSTOMER, "text": "hi"}
        )
    assert [delivery.valid for delivery in hooks.deliveries] == [True, True]
    signed = [webhook["signed_url"] for webhook in await emulator.get("/_emulator/webhooks")]
    assert signed[0] == f"{public}/sms"
    assert signed[1].startswith(f"{public}/orchestrator?bodySHA256=")


async def test_forged_or_misaddressed_delivery_is_visible(
    start_emulator: StartEmulator, receiver: tuple[Receiver, str]
) -> None:
    """A gateway that validates against the wrong URL answers 403, and the emulator says so."""
    hooks, url = receiver
    emulator = await start_emulator(
        emulator_sms_webhook_url=f"{url}/sms", emulator_webhook_base_url="https://elsewhere.test"
    )
    sent = await emulator.post("/_emulator/sms", {"from": CUSTOMER, "body": "hi"})
    assert sent["status_code"] == 403
    assert hooks.deliveries[0].valid is False


async def test_missing_target_unreachable_target_and_unknown_replay(
    start_emulator: StartEmulator,
) -> None:
    emulator = await start_emulator()
    missing = await emulator.admin.post("/_emulator/sms", json={"from": CUSTOMER, "body": "x"})
    assert missing.status_code == 400 and "EMULATOR_SMS_WEBHOOK_URL" in missing.json()["message"]
    dead = f"http://127.0.0.1:{free_port()}/sms"
    sent = await emulator.post(
        "/_emulator/sms", {"from": CUSTOMER, "body": "x", "webhook_url": dead}
    )
    assert sent["status_code"] is None and "ConnectError" in sent["error"]
    unknown = await emulator.admin.post("/_emulator/replay", json={"message_sid": "SMnope"})
    assert unknown.status_code == 404
