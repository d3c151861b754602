"""The digital route end to end: emulator → gateway → worker → dispatcher → Studio."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import datetime

import pytest
from nats.js import JetStreamContext

from libs.contracts.messages import HandoffFailure, HandoffOutcome, HandoffResult
from libs.contracts.subjects import (
    HANDOFF_REQUESTED,
    HANDOFF_RESULT,
    REPLIES,
    REPLIES_STREAM,
    TURNS,
    TURNS_STREAM,
)
from libs.platform.metrics import REGISTRY
from services.messaging_gateway.inbound_turns import sms_conversation_id
from tests.support.digital_stack import ATTRIBUTES, DigitalStack, start_digital_stack
from tests.support.expected import FAQ_ANSWERS
from tests.support.quiescence import consumers_caught_up, quiescent
from tests.support.streams import HANDOFF_STREAM, wait_for_messages
from tests.support.twilio_fakes import ACCOUNT_SID, API_KEY, FLOW_SID, OUR_NUMBER

FAILED_MESSAGE = "We could not reach a person right now; I am still here."


def unverified_count() -> float:
    labels = {"channel": "sms"}
    return REGISTRY.get_sample_value("baton_handoff_unverified_total", labels) or 0.0


def customer(index: int) -> str:
    return f"+1500555{index:04d}"


@pytest.fixture
async def digital(nats_url: str, js: JetStreamContext) -> AsyncIterator[DigitalStack]:
    async with AsyncExitStack() as stack:
        yield await start_digital_stack(
            stack,
            nats_url,
            dispatcher_overrides={
                "baton_studio_max_attempts": 3,
                "baton_handoff_failed_message": FAILED_MESSAGE,
            },
        )


async def test_sms_gets_a_reply_through_messages_api(digital: DigitalStack) -> None:
    number = customer(1)
    await digital.text_in("what are your opening hours?", number)
    [reply] = await digital.wait_outbox(number, 1)
    assert reply["channel"] == "sms"
    assert reply["body"] == FAQ_ANSWERS["hours"]
    sent = await digital.admin("GET", "/requests", params={"path_prefix": "/2010-04-01"})
    assert sent[-1]["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert sent[-1]["form"]["From"] == OUR_NUMBER and sent[-1]["form"]["To"] == number


async def test_conversations_message_gets_a_reply(digital: DigitalStack) -> None:
    number = customer(2)
    await digital.admin(
        "POST", "/conversations/message", json={"author": number, "body": "how do returns work"}
    )
    [reply] = await digital.wait_outbox(number, 1)
    assert reply["channel"] == "conversations"
    assert reply["body"] == FAQ_ANSWERS["return"]


async def test_orchestrator_communication_gets_a_reply(digital: DigitalStack) -> None:
    number = customer(3)
    await digital.admin(
        "POST",
        "/orchestrator/communication",
        json={"author": number, "channel": "SMS", "text": "I forgot my password"},
    )
    [reply] = await digital.wait_outbox(number, 1)
    assert reply["channel"] == "orchestrator"
    assert reply["body"] == FAQ_ANSWERS["password"]


async def test_asking_for_a_human_starts_exactly_one_execution(
    digital: DigitalStack, js: JetStreamContext
) -> None:
    number = customer(4)
    await digital.text_in("I want to talk to a human", number)
    [goodbye] = await digital.wait_outbox(number, 1)
    assert "member of our team" in goodbye["body"]
    for _ in range(50):
        if await digital.executions():
            break
        await asyncio.sleep(0.05)
    posts = await digital.admin(
        "GET", "/requests", params={"path_prefix": "/v2/Flows", "method": "POST"}
    )
    assert len(posts) == 1
    post = posts[0]
    assert post["path"] == f"/v2/Flows/{FLOW_SID}/Executions"
    assert set(post["form"]) == {"To", "From", "Parameters"}
    assert post["form"]["To"] == number and post["form"]["From"] == OUR_NUMBER
    parameters = json.loads(post["form"]["Parameters"])
    assert list(parameters) == ["HandoffData"]
    data = parameters["HandoffData"]
    assert set(data) == {"conversationId", "storeId", "profileId", "attributes"}
    assert data["conversationId"] == sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, number)
    assert data["storeId"] == "mem_store_01"
    assert data["attributes"]["reason"] == "customer asked for a human agent"
    for key, value in ATTRIBUTES.items():
        assert data["attributes"][key] == value
    assert len(json.dumps(data["attributes"])) <= 1024
    assert post["auth"] == {"kind": "api_key", "username": API_KEY}

    await digital.text_in("hello? anyone there?", number)
    await digital.text_in("I still want a human", number)
    await quiescent(js, sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, number))
    assert len(await digital.outbox(number)) == 1, "the bot spoke after the handoff"
    assert len(await digital.executions()) == 1


async def test_duplicate_webhook_is_one_turn(digital: DigitalStack, js: JetStreamContext) -> None:
    number = customer(5)
    sent = await digital.text_in("what are your hours", number)
    await digital.wait_outbox(number, 1)
    replayed = await digital.admin("POST", "/replay", json={"message_sid": sent["message_sid"]})
    assert replayed["status_code"] == 200
    assert replayed["idempotency_token"] == sent["idempotency_token"]
    await quiescent(js, sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, number))
    assert len(await digital.outbox(number)) == 1
    turns = await js.stream_info(TURNS_STREAM)
    assert turns.state.messages == 1, "the replayed webhook was stored again"


async def test_studio_429_then_201_is_delivered_once_after_the_delay(
    digital: DigitalStack, js: JetStreamContext
) -> None:
    number = customer(6)
    await digital.admin(
        "POST",
        "/faults",
        json={"path_prefix": "/v2/Flows", "status": 429, "count": 1, "retry_after": 1.5},
    )
    await digital.text_in("let me speak to a representative", number)
    conversation = sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, number)
    [result] = await wait_for_messages(
        js, HANDOFF_STREAM, HANDOFF_RESULT.subject(conversation), HandoffResult
    )
    assert result.outcome is HandoffOutcome.DELIVERED and result.attempts == 2
    posts = await digital.admin(
        "GET", "/requests", params={"path_prefix": "/v2/Flows", "method": "POST"}
    )
    assert [p["status"] for p in posts] == [429, 201]
    assert len(await digital.executions()) == 1
    first, second = (datetime.fromisoformat(p["at"]) for p in posts)
    assert (second - first).total_seconds() >= 1.4, "Retry-After was not honoured"


async def test_studio_down_past_the_budget_is_an_honest_failure(
    digital: DigitalStack, js: JetStreamContext
) -> None:
    number = customer(7)
    await digital.admin(
        "POST", "/faults", json={"path_prefix": "/v2/Flows", "status": 503, "count": 10}
    )
    await digital.text_in("I need a real person", number)
    conversation = sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, number)
    [result] = await wait_for_messages(
        js, HANDOFF_STREAM, HANDOFF_RESULT.subject(conversation), HandoffResult
    )
    assert result.outcome is HandoffOutcome.FAILED
    assert result.failure is HandoffFailure.STUDIO_UNAVAILABLE
    assert result.attempts == 3
    bodies = [m["body"] for m in await digital.wait_outbox(number, 2)]
    assert bodies[-1] == FAILED_MESSAGE
    assert await digital.executions() == []
    await digital.admin("DELETE", "/faults")
    await digital.text_in("ok, what are your hours then?", number)
    replies = await digital.wait_outbox(number, 3)
    assert replies[-1]["body"] == FAQ_ANSWERS["hours"], "the conversation was left muted"


async def test_studio_rejection_is_typed(digital: DigitalStack, js: JetStreamContext) -> None:
    number = customer(8)
    await digital.admin(
        "POST", "/faults", json={"path_prefix": "/v2/Flows", "status": 400, "count": 1}
    )
    await digital.text_in("human please", number)
    conversation = sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, number)
    [result] = await wait_for_messages(
        js, HANDOFF_STREAM, HANDOFF_RESULT.subject(conversation), HandoffResult
    )
    assert result.failure is HandoffFailure.STUDIO_REJECTED and result.attempts == 1


async def create_execution(digital: DigitalStack, to: str, conversation_id: str) -> str:
    """An execution started outside this dispatcher (e.g. by an earlier attempt)."""
    parameters = {"HandoffData": {"conversationId": conversation_id, "attributes": {}}}
    response = await digital.http.post(
        f"{digital.emulator}/v2/Flows/{FLOW_SID}/Executions",
        data={"To": to, "From": OUR_NUMBER, "Parameters": json.dumps(parameters)},
        auth=(API_KEY, "emulator-api-secret-0001"),
    )
    assert response.status_code == 201
    return str(response.json()["sid"])


async def test_conflict_with_our_own_active_execution_counts_as_delivered(
    digital: DigitalStack, js: JetStreamContext
) -> None:
    number = customer(9)
    conversation = sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, number)
    ours = await create_execution(digital, number, conversation)
    await digital.text_in("transfer me to a human", number)
    [result] = await wait_for_messages(
        js, HANDOFF_STREAM, HANDOFF_RESULT.subject(conversation), HandoffResult
    )
    assert result.outcome is HandoffOutcome.DELIVERED
    assert result.execution_sid == ours
    posts = await digital.admin(
        "GET", "/requests", params={"path_prefix": "/v2/Flows", "method": "POST"}
    )
    assert [p["status"] for p in posts] == [201, 409]
    assert len(await digital.executions()) == 1


async def test_conflict_with_an_execution_we_cannot_see_is_delivered_unverified(
    digital: DigitalStack, js: JetStreamContext
) -> None:
    """Studio holds the contact (409) but none of its executions is this handoff's: the customer
    is never told the handoff failed, and the presumption is counted."""
    number = customer(10)
    before = unverified_count()
    await create_execution(digital, number, "someone-else")
    await digital.text_in("transfer me to a human", number)
    conversation = sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, number)
    [result] = await wait_for_messages(
        js, HANDOFF_STREAM, HANDOFF_RESULT.subject(conversation), HandoffResult
    )
    assert result.outcome is HandoffOutcome.DELIVERED and result.failure is None
    assert not result.verified and result.execution_sid is None
    assert unverified_count() == before + 1
    await consumers_caught_up(js)
    assert FAILED_MESSAGE not in [m["body"] for m in await digital.outbox(number)]
    await digital.text_in("hello?", number)
    await quiescent(js, conversation)
    assert len(await digital.outbox(number)) == 1, "the bot answered a handed-off customer"


async def test_one_trace_from_the_customer_turn_to_the_handoff(
    digital: DigitalStack, js: JetStreamContext
) -> None:
    number = customer(11)
    await digital.text_in("a human please", number)
    conversation = sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, number)
    await wait_for_messages(js, HANDOFF_STREAM, HANDOFF_RESULT.subject(conversation), HandoffResult)

    def trace_id(headers: dict[str, str] | None) -> str:
        assert headers and "traceparent" in headers
        return headers["traceparent"].split("-")[1]

    turn = await js.get_msg(TURNS_STREAM, subject=TURNS.subject(conversation))
    request = await js.get_msg(HANDOFF_STREAM, subject=HANDOFF_REQUESTED.subject(conversation))
    reply = await js.get_msg(REPLIES_STREAM, subject=REPLIES.subject(conversation))
    result = await js.get_msg(HANDOFF_STREAM, subject=HANDOFF_RESULT.subject(conversation))
    ids = {trace_id(m.headers) for m in (turn, request, reply, result)}
    assert len(ids) == 1
