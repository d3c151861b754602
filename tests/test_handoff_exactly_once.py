"""One Studio execution per handoff when the outcome of a POST is unknown (invariant 9).

The dispatcher writes its ``posting`` record before the POST; a redelivery (after a crash) or
a retry after a timeout looks for the execution of this handoff among those created since
sending began, page after page, whatever their status, before it posts again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import pytest
from nats.js import JetStreamContext

from libs.contracts.conversation import claim_handoff
from libs.contracts.messages import (
    Channel,
    HandoffOutcome,
    HandoffRequested,
    HandoffResult,
    Route,
    utc_now,
)
from libs.contracts.subjects import (
    CONVERSATIONS_BUCKET,
    HANDOFF_REQUESTED,
    HANDOFF_RESULT,
    HANDOFF_STREAM,
    HANDOFFS_BUCKET,
)
from libs.platform.conversation_store import ConversationStore
from services.handoff_dispatcher.main import create_app as create_dispatcher
from services.handoff_dispatcher.records import DeliveryRecord, DeliveryRecords, DeliveryState
from services.handoff_dispatcher.settings import HandoffDispatcherSettings
from services.messaging_gateway.inbound_turns import sms_conversation_id
from tests.support.digital_stack import DigitalStack, start_digital_stack
from tests.support.servers import serve
from tests.support.streams import wait_for_messages
from tests.support.twilio_fakes import (
    ACCOUNT_SID,
    API_KEY,
    API_SECRET,
    FLOW_SID,
    OUR_NUMBER,
    twilio_env,
)

EXECUTIONS = f"/v2/Flows/{FLOW_SID}/Executions"


@pytest.fixture
async def digital(nats_url: str, js: JetStreamContext) -> AsyncIterator[DigitalStack]:
    async with AsyncExitStack() as stack:
        yield await start_digital_stack(stack, nats_url, dispatcher=False)


def request_for(customer: str) -> HandoffRequested:
    conversation = sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, customer)
    route = Route(channel=Channel.SMS, customer_address=customer, agent_address=OUR_NUMBER)
    return HandoffRequested(
        conversation_id=conversation, epoch=0, route=route, reason="customer asked for a human"
    )


async def start_execution(digital: DigitalStack, to: str, handoff: dict[str, Any]) -> str:
    response = await digital.http.post(
        f"{digital.emulator}{EXECUTIONS}",
        data={"To": to, "From": OUR_NUMBER, "Parameters": json.dumps({"HandoffData": handoff})},
        auth=(API_KEY, API_SECRET),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["sid"])


async def dispatch(
    nats_url: str,
    js: JetStreamContext,
    digital: DigitalStack,
    request: HandoffRequested,
    **extra: Any,
) -> HandoffResult:
    settings = HandoffDispatcherSettings(
        **twilio_env(nats_url, twilio_api_base_url=digital.emulator),
        baton_studio_backoff_seconds=0.1,
        **extra,
    )
    async with serve(create_dispatcher(settings)):
        await js.publish(
            HANDOFF_REQUESTED.subject(request.conversation_id),
            request.model_dump_json().encode(),
            stream=HANDOFF_STREAM,
            headers={"Nats-Msg-Id": f"handoff:{request.handoff_id}"},
        )
        [result] = await wait_for_messages(
            js,
            HANDOFF_STREAM,
            HANDOFF_RESULT.subject(request.conversation_id),
            HandoffResult,
            timeout=30,
        )
    return result


async def requests(digital: DigitalStack, method: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await digital.admin(
        "GET", "/requests", params={"path_prefix": EXECUTIONS, "method": method}
    )
    return found


async def test_after_a_crash_our_execution_is_found_behind_a_page_of_newer_ones(
    nats_url: str, js: JetStreamContext, digital: DigitalStack
) -> None:
    """A dispatcher died after its POST; 60 executions were created since: still ours, no POST."""
    customer = "+15005551201"
    request = request_for(customer)
    store = ConversationStore(await js.key_value(CONVERSATIONS_BUCKET))
    await store.apply(request.conversation_id, claim_handoff(0, request.reason, None))
    records = DeliveryRecords(await js.key_value(HANDOFFS_BUCKET))
    sending_since = utc_now() - timedelta(seconds=1)
    await records.put(
        request.conversation_id,
        request.epoch,
        DeliveryRecord(state=DeliveryState.POSTING, sending_since=sending_since),
    )
    marked = {"handoffId": request.handoff_id}
    ours = await start_execution(
        digital, customer, {"conversationId": request.conversation_id, "attributes": marked}
    )
    for index in range(60):
        other = {"conversationId": f"other-{index}", "attributes": {}}
        await start_execution(digital, f"+1500556{index:04d}", other)

    result = await dispatch(nats_url, js, digital, request)

    assert result.outcome is HandoffOutcome.DELIVERED, result.detail
    assert result.execution_sid == ours and result.verified
    posts = await requests(digital, "POST")
    assert len(posts) == 61, "the dispatcher posted again"
    lookups = await requests(digital, "GET")
    assert any("DateCreatedFrom" in lookup["query"] for lookup in lookups)


async def test_a_timed_out_post_is_looked_up_not_repeated(
    nats_url: str, js: JetStreamContext, digital: DigitalStack
) -> None:
    """Studio acted on the POST but answered after the client's timeout, and the execution
    ended before the retry (so no 409 would stop a second one): still one execution."""
    customer = "+15005551202"
    request = request_for(customer)
    await digital.answer_late("/v2/Flows", 2.5)

    async def end_it_at_once() -> None:
        while not (executions := await digital.executions()):
            await asyncio.sleep(0.05)
        sid = executions[0]["sid"]
        ended = await digital.http.post(
            f"{digital.emulator}{EXECUTIONS}/{sid}",
            data={"Status": "ended"},
            auth=(API_KEY, API_SECRET),
        )
        assert ended.status_code == 200

    ender = asyncio.create_task(end_it_at_once())
    result = await dispatch(nats_url, js, digital, request, baton_studio_timeout_seconds=1.5)
    await ender

    executions = await digital.executions()
    assert len(executions) == 1, "the retry created a second execution"
    assert result.outcome is HandoffOutcome.DELIVERED
    assert result.execution_sid == executions[0]["sid"]
