"""Every webhook refuses a forged, a missing and a wrong-URL signature: 403, nothing done.

The endpoints are one table, checked against the routes the gateways actually serve, so a
webhook added without an entry here fails. Each case sends the refused request, then the same
request correctly signed: the signed one must take effect (a message on a ``baton.`` subject
or a key-value write), and since the gateway's publishes reach a subscriber in order, seeing
only the signed request's effect proves the refused one did nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from twilio.request_validator import RequestValidator

from libs.contracts.conversation import claim_handoff, settle_delivery
from libs.contracts.subjects import CONVERSATIONS_BUCKET
from libs.platform.conversation_store import ConversationStore
from services.messaging_gateway.main import create_app as create_messaging
from services.messaging_gateway.settings import MessagingGatewaySettings
from services.relay_gateway.main import create_app as create_relay
from services.relay_gateway.settings import RelayGatewaySettings
from tests.support.servers import serve
from tests.support.twilio_fakes import ACCOUNT_SID, AUTH_TOKEN, CUSTOMER, OUR_NUMBER, twilio_env
from tests.support.waits import until

PUBLIC = "https://baton.example.test"
ELSEWHERE = "https://attacker.example.test"
CALL = "CA" + "42" * 16
HANDED_BACK = "CA" + "43" * 16
Service = Literal["messaging", "relay"]
Case = Literal["forged", "missing", "wrong_url"]


@dataclass(frozen=True)
class Webhook:
    service: Service
    path: str
    body: dict[str, Any]
    encoding: Literal["form", "json"] = "form"
    effect: bool = True
    """Whether the signed request publishes or writes something that can be watched for."""


WEBHOOKS = [
    Webhook(
        "messaging",
        "/messaging/sms",
        {"MessageSid": "SM" + "01" * 16, "From": CUSTOMER, "To": OUR_NUMBER, "Body": "hi"},
    ),
    Webhook(
        "messaging",
        "/messaging/conversations",
        {
            "EventType": "onMessageAdded",
            "ConversationSid": "CH" + "02" * 16,
            "MessageSid": "IM" + "02" * 16,
            "Author": CUSTOMER,
            "Body": "hi",
        },
    ),
    Webhook(
        "messaging",
        "/messaging/orchestrator",
        {
            "eventType": "COMMUNICATION_CREATED",
            "data": {
                "id": "comm_signature_table",
                "conversationId": "conv_signature_table",
                "accountId": ACCOUNT_SID,
                "author": {"address": CUSTOMER, "channel": "SMS"},
                "content": {"type": "TEXT", "text": "hi"},
                "recipients": [{"address": OUR_NUMBER, "channel": "SMS"}],
            },
        },
        encoding="json",
    ),
    Webhook(
        "messaging",
        "/messaging/taskrouter-events",
        {"EventType": "task.created", "TaskAttributes": '{"conversationId": "CH1"}'},
        effect=False,
    ),
    Webhook("messaging", "/messaging/handback", {"conversationId": HANDED_BACK}, encoding="json"),
    Webhook("relay", "/voice/incoming", {"CallSid": CALL, "From": CUSTOMER}, effect=False),
    Webhook("relay", "/voice/action", {"CallSid": CALL, "CallStatus": "completed"}),
    Webhook("relay", "/voice/status", {"CallSid": CALL, "CallStatus": "completed"}),
]

NOT_WEBHOOKS = {
    ("relay", "/internal/drain"): "the pod's preStop hook, not reachable from Twilio",
}
"""POST routes that are not Twilio's, with why they carry no Twilio signature."""

def messaging_app(nats_url: str) -> FastAPI:
    return create_messaging(
        MessagingGatewaySettings(
            **twilio_env(nats_url, public_base_url=PUBLIC, twilio_api_base_url="http://127.0.0.1:9")
        )
    )


def relay_app(nats_url: str) -> FastAPI:
    return create_relay(RelayGatewaySettings(**twilio_env(nats_url, public_base_url=PUBLIC)))


APPS = {"messaging": messaging_app, "relay": relay_app}


def served_posts() -> set[tuple[str, str]]:
    """Every POST route the gateways serve, as their OpenAPI documents list them."""
    return {
        (service, path)
        for service, make in APPS.items()
        for path, operations in make("nats://127.0.0.1:9").openapi()["paths"].items()
        if "post" in operations
    }


def test_every_webhook_route_has_an_entry() -> None:
    table = {(w.service, w.path) for w in WEBHOOKS}
    assert served_posts() - set(NOT_WEBHOOKS) == table


def signed_request(
    webhook: Webhook, base: str, case: Case | None
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The URL, headers and httpx body arguments of the request, signed as ``case`` says."""
    validator = RequestValidator(AUTH_TOKEN)
    signed_base = ELSEWHERE if case == "wrong_url" else PUBLIC
    if webhook.encoding == "json":
        raw = json.dumps(webhook.body)
        query = f"?bodySHA256={hashlib.sha256(raw.encode()).hexdigest()}"
        signature = validator.compute_signature(f"{signed_base}{webhook.path}{query}", {})
        headers = {"Content-Type": "application/json"}
        body: dict[str, Any] = {"content": raw}
    else:
        query = ""
        signature = validator.compute_signature(f"{signed_base}{webhook.path}", webhook.body)
        headers = {}
        body = {"data": webhook.body}
    if case == "forged":
        signature = "bm90LWEtc2lnbmF0dXJl"
    if case != "missing":
        headers["X-Twilio-Signature"] = signature
    return f"{base}{webhook.path}{query}", headers, body


@pytest.fixture
async def watched(nats_client: Client) -> AsyncIterator[list[str]]:
    """Subjects of every ``baton.`` publish and key-value write, as they happen."""
    seen: list[str] = []

    async def record(message: Msg) -> None:
        seen.append(message.subject)

    subscriptions = [
        await nats_client.subscribe(subject, cb=record) for subject in ("baton.>", "$KV.>")
    ]
    await nats_client.flush()
    yield seen
    for subscription in subscriptions:
        await subscription.unsubscribe()


async def hand_off(js: JetStreamContext, conversation_id: str) -> None:
    """A conversation a human holds, so a hand-back has something to change."""
    store = ConversationStore(await js.key_value(CONVERSATIONS_BUCKET))
    await store.apply(conversation_id, claim_handoff(0, "asked for a human", None))
    await store.apply(conversation_id, settle_delivery(0, delivered=True))


@pytest.mark.parametrize("case", ["forged", "missing", "wrong_url"])
@pytest.mark.parametrize("webhook", WEBHOOKS, ids=lambda w: w.path)
async def test_an_unsigned_webhook_is_refused_and_does_nothing(
    nats_url: str, js: JetStreamContext, watched: list[str], webhook: Webhook, case: Case
) -> None:
    await hand_off(js, HANDED_BACK)
    await until(lambda: len(watched) >= 2)
    watched.clear()
    async with serve(APPS[webhook.service](nats_url)) as base, httpx.AsyncClient() as client:
        url, headers, body = signed_request(webhook, base, case)
        refused = await client.post(url, headers=headers, **body)
        url, headers, body = signed_request(webhook, base, None)
        accepted = await client.post(url, headers=headers, **body)
        if webhook.effect:
            await until(lambda: bool(watched))
    assert (refused.status_code, accepted.status_code) == (403, 200)
    assert len(watched) == (1 if webhook.effect else 0), watched
