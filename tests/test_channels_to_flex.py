"""Every channel in both modes, through the shipped Studio flow run strictly by the emulator,
to a Flex task naming the customer's real conversation, Memory profile and store.

Orchestrator mode (``TWILIO_CONVERSATION_CONFIGURATION_ID``, ``deploy/studio/agent-handoff.json``):
a call (``<ConversationRelay conversationConfiguration>``), SMS, WhatsApp, RCS and web chat are
each one Orchestrator conversation. Classic mode (``agent-handoff-classic.json``): plain
Programmable Messaging, Conversations (classic) and a call keyed by its CallSid.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from nats.js import JetStreamContext

from services.messaging_gateway.inbound_turns import sms_conversation_id
from tests.support.route_stack import RouteStack, start_route_stack
from tests.support.twilio_fakes import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER

CONFIGURATION = "conv_configuration_01"
STORE = "mem_store_00000000000000000000000001"
WHATSAPP = f"whatsapp:{OUR_NUMBER}"
RCS = "rcs:baton_test_agent"
ASK = "I want to talk to a human"
SENDERS = {
    "twilio_conversation_configuration_id": CONFIGURATION,
    "twilio_whatsapp_number": WHATSAPP,
    "twilio_rcs_sender_id": RCS,
}


async def start_orchestrated(stack: AsyncExitStack, nats_url: str, **emulator: Any) -> RouteStack:
    """The route in Orchestrator mode: the store comes from the configuration."""
    return await start_route_stack(
        stack,
        nats_url,
        services=SENDERS,
        memory_store_id="",
        twilio_conversation_configuration_id=CONFIGURATION,
        emulator_memory_store_id=STORE,
        **emulator,
    )


@pytest.fixture
async def orchestrated(nats_url: str, js: JetStreamContext) -> AsyncIterator[RouteStack]:
    async with AsyncExitStack() as stack:
        yield await start_orchestrated(stack, nats_url)


@pytest.fixture
async def classic(nats_url: str, js: JetStreamContext) -> AsyncIterator[RouteStack]:
    async with AsyncExitStack() as stack:
        yield await start_route_stack(stack, nats_url)


async def studio_post(route: RouteStack, to: str) -> dict[str, Any]:
    """The dispatcher's Studio execution request for this customer."""
    posts = await route.admin("GET", "/requests", params={"path_prefix": "/v2/Flows"})
    (post,) = [p for p in posts if p["form"]["To"] == to]
    return dict(post["form"])


def assert_task_names_the_customer(
    task: dict[str, Any], conversation_id: str, store: str, profile: bool
) -> None:
    attributes = task["attributes"]
    assert attributes["conversationId"] == conversation_id
    assert attributes["storeId"] == store
    if profile:
        assert attributes["profileId"].startswith("mem_profile_"), attributes
    else:
        assert attributes["profileId"] == ""
    assert attributes["reason"] and attributes["summary"]


@pytest.mark.parametrize(
    ("channel", "customer", "ours", "studio_from"),
    [
        ("SMS", "+15005550301", OUR_NUMBER, OUR_NUMBER),
        ("WHATSAPP", "whatsapp:+15005550302", WHATSAPP, WHATSAPP),
        ("RCS", "rcs:+15005550303", RCS, RCS),
        ("CHAT", "web-visitor-304", "baton-agent", OUR_NUMBER),
    ],
)
async def test_orchestrator_channel_reaches_flex(
    orchestrated: RouteStack, channel: str, customer: str, ours: str, studio_from: str
) -> None:
    route = orchestrated
    await route.admin(
        "POST",
        "/memory/profiles",
        json={
            "address": customer,
            "traits": {"Contact": {"firstName": "Ada", "lastName": "Lovelace"}},
            "observations": ["Prefers email receipts"],
        },
    )
    sent = await route.admin(
        "POST",
        "/orchestrator/communication",
        json={"author": customer, "channel": channel, "text": ASK},
    )
    task = await route.task_for(customer)
    assert task is not None, f"no Flex task for {channel}"
    assert_task_names_the_customer(task, sent["conversation_id"], STORE, profile=True)
    attributes = task["attributes"]
    assert attributes["customerName"] == "Ada Lovelace"
    assert "Prefers email receipts" in attributes["summary"]
    assert task["conversationSid"].startswith("CH")
    form = await studio_post(route, customer)
    assert form["From"] == studio_from
    replies = await route.eventually(lambda: route.outbox(customer), lambda found: len(found) >= 1)
    assert replies and all(r["from"] == ours for r in replies), replies


async def test_orchestrator_call_reaches_flex(orchestrated: RouteStack) -> None:
    route = orchestrated
    caller = "+15005550305"
    placed = await route.admin("POST", "/calls", json={"from": caller, "prompts": [ASK]})
    call = await route.eventually(
        lambda: route.admin("GET", f"/calls/{placed['call_sid']}"),
        lambda found: found["state"] == "in-queue",
    )
    assert call["state"] == "in-queue", call
    data = json.loads(call["handoff_data"])
    assert data["conversationId"].startswith("conv_conversation_")
    assert data["conversationId"] != placed["call_sid"]
    task = await route.task_for(caller)
    assert task is not None
    assert_task_names_the_customer(task, data["conversationId"], STORE, profile=True)
    assert task["callSid"] == placed["call_sid"]

    await route.admin("POST", f"/desktop/tasks/{task['sid']}/accept")
    back = await route.admin("POST", f"/desktop/tasks/{task['sid']}/handback")
    assert back["handback"]["status_code"] == 200, back
    sid = placed["call_sid"]
    await route.eventually(
        lambda: route.admin("GET", f"/calls/{sid}"), lambda found: found["state"] == "in-progress"
    )
    await route.admin("POST", f"/calls/{sid}/say", json={"text": "how do returns work?"})
    heard = await route.eventually(
        lambda: route.admin("GET", f"/calls/{sid}"),
        lambda found: "30 days" in found["transcript"][-1]["text"],
    )
    assert "30 days" in heard["transcript"][-1]["text"], "the bot stayed silent after hand-back"


async def test_classic_channels_reach_flex(classic: RouteStack) -> None:
    route = classic
    texter, writer, caller = "+15005550311", "+15005550312", "+15005550313"
    await route.admin("POST", "/sms", json={"from": texter, "body": ASK})
    sms_task = await route.task_for(texter)
    assert sms_task is not None
    sms_id = sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, texter)
    assert_task_names_the_customer(sms_task, sms_id, "mem_store_01", profile=False)

    written = await route.admin(
        "POST", "/conversations/message", json={"author": writer, "body": ASK}
    )
    conversation_task = await route.task_for(writer)
    assert conversation_task is not None
    assert_task_names_the_customer(
        conversation_task, written["conversation_sid"], "mem_store_01", profile=False
    )
    assert conversation_task["conversationSid"] == written["conversation_sid"]

    placed = await route.admin("POST", "/calls", json={"from": caller, "prompts": [ASK]})
    call_task = await route.task_for(caller)
    assert call_task is not None
    assert_task_names_the_customer(call_task, placed["call_sid"], "mem_store_01", profile=False)


async def orchestrator_conversation(route: RouteStack, conversation_id: str) -> dict[str, Any]:
    response = await route.http.get(
        f"{route.emulator}/v2/Conversations/{conversation_id}", auth=(ACCOUNT_SID, AUTH_TOKEN)
    )
    found: dict[str, Any] = response.json()
    return found


async def test_orchestrator_conversation_follows_the_handoff_and_the_hand_back(
    orchestrated: RouteStack,
) -> None:
    """A human agent's message is no customer turn; after the handoff the conversation is
    INACTIVE with its status callbacks cleared (as TAC leaves it); a hand-back makes it ACTIVE
    and reporting to the gateway again, and the bot answers."""
    route, customer = orchestrated, "+15005550321"
    first = await route.admin(
        "POST", "/orchestrator/communication", json={"author": customer, "text": "opening hours?"}
    )
    conversation_id = first["conversation_id"]
    await route.eventually(lambda: route.outbox(customer), lambda found: len(found) == 1)
    human = await route.admin(
        "POST",
        "/orchestrator/communication",
        json={
            "author": "flex-agent-sam",
            "author_type": "HUMAN_AGENT",
            "text": "Hi, Sam here",
            "conversation_id": conversation_id,
        },
    )
    assert json.loads(human["answer"]) == {"status": "human agent message"}
    await route.admin(
        "POST",
        "/orchestrator/communication",
        json={"author": customer, "text": ASK, "conversation_id": conversation_id},
    )
    task = await route.task_for(customer)
    assert task is not None
    handed = await route.eventually(
        lambda: orchestrator_conversation(route, conversation_id),
        lambda found: "configuration" in found,
    )
    assert handed["status"] == "INACTIVE"
    assert handed["configuration"] == {"statusCallbacks": []}

    await route.admin("POST", f"/desktop/tasks/{task['sid']}/accept")
    back = await route.admin("POST", f"/desktop/tasks/{task['sid']}/handback")
    assert back["handback"]["status_code"] == 200, back
    restored = await orchestrator_conversation(route, conversation_id)
    assert restored["status"] == "ACTIVE"
    (callback,) = restored["configuration"]["statusCallbacks"]
    assert callback["url"].endswith("/messaging/orchestrator")
    answered = len(await route.outbox(customer))
    await route.admin(
        "POST",
        "/orchestrator/communication",
        json={
            "author": customer,
            "text": "how do returns work?",
            "conversation_id": conversation_id,
        },
    )
    replies = await route.eventually(
        lambda: route.outbox(customer), lambda found: len(found) > answered
    )
    assert "30 days" in replies[-1]["body"], "the bot stayed silent after the hand-back"


async def test_a_closed_conversation_starts_afresh_with_the_bot(
    nats_url: str, js: JetStreamContext
) -> None:
    """INACTIVE → CLOSED by the configuration's timeouts after a handoff: the customer's next
    message opens a new conversation, which the bot answers."""
    async with AsyncExitStack() as stack:
        route = await start_orchestrated(
            stack,
            nats_url,
            emulator_orchestrator_inactive_seconds=60.0,
            emulator_orchestrator_closed_seconds=1.0,
        )
        customer = "+15005550322"
        sent = await route.admin(
            "POST", "/orchestrator/communication", json={"author": customer, "text": ASK}
        )
        assert await route.task_for(customer) is not None
        closed = await route.eventually(
            lambda: orchestrator_conversation(route, sent["conversation_id"]),
            lambda found: found["status"] == "CLOSED",
        )
        assert closed["status"] == "CLOSED"
        answered = len(await route.outbox(customer))
        again = await route.admin(
            "POST",
            "/orchestrator/communication",
            json={"author": customer, "text": "how do returns work?"},
        )
        assert again["conversation_id"] != sent["conversation_id"]
        replies = await route.eventually(
            lambda: route.outbox(customer), lambda found: len(found) > answered
        )
        assert "30 days" in replies[-1]["body"]
