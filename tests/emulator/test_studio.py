"""Studio Executions as the official twilio client sees them, including the one-active rule."""

from __future__ import annotations

import json

import pytest
from twilio.base.exceptions import TwilioRestException

from tests.emulator.harness import Emulator, call
from tests.support.twilio_fakes import (
    ACCOUNT_SID,
    API_KEY,
    API_SECRET,
    CUSTOMER,
    FLOW_SID,
    OUR_NUMBER,
)

HANDOFF = {
    "HandoffData": {
        "conversationId": "conv_alpha",
        "storeId": "mem_store_1",
        "profileId": "",
        "attributes": {"reason": "customer asked for a human"},
    }
}


async def test_create_fetch_context_and_steps(emulator: Emulator) -> None:
    flow = emulator.twilio(API_KEY, API_SECRET).studio.v2.flows(FLOW_SID)
    created = await call(flow.executions.create, to=CUSTOMER, from_=OUR_NUMBER, parameters=HANDOFF)
    assert created.sid.startswith("FN") and len(created.sid) == 34
    assert created.status == "active"
    assert created.flow_sid == FLOW_SID and created.account_sid == ACCOUNT_SID
    assert created.contact_channel_address == CUSTOMER
    assert created.contact_sid.startswith("FC")
    assert created.url == f"{emulator.url}/v2/Flows/{FLOW_SID}/Executions/{created.sid}"
    assert created.links["execution_context"] == f"{created.url}/Context"

    fetched = await call(flow.executions(created.sid).fetch)
    assert fetched.sid == created.sid and fetched.date_created == created.date_created

    context = await call(flow.executions(created.sid).execution_context().fetch)
    assert context.execution_sid == created.sid
    assert context.context["flow"]["data"] == HANDOFF
    assert context.context["contact"]["channel"]["address"] == CUSTOMER
    assert context.context["flow"]["channel"]["address"] == OUR_NUMBER

    steps = await call(flow.executions(created.sid).steps.list)
    assert [(step.transitioned_from, step.transitioned_to) for step in steps] == [
        ("Trigger", "is_conversation"),
        ("is_conversation", "open_conversation"),
        ("open_conversation", "add_customer"),
        ("add_customer", "keep_conversation"),
        ("keep_conversation", "send_conversation_to_flex"),
        ("send_conversation_to_flex", "Ended"),
    ]
    step = await call(flow.executions(created.sid).steps(steps[0].sid).fetch)
    assert step.execution_sid == created.sid and step.name == "incomingRequest"
    step_context = await call(flow.executions(created.sid).steps(steps[0].sid).step_context().fetch)
    assert step_context.step_sid == step.sid


async def test_form_fields_and_credential_are_recorded(emulator: Emulator) -> None:
    flow = emulator.twilio(API_KEY, API_SECRET).studio.v2.flows(FLOW_SID)
    await call(flow.executions.create, to=CUSTOMER, from_=OUR_NUMBER, parameters=HANDOFF)
    (record,) = await emulator.get("/_emulator/requests", path_prefix="/v2/Flows")
    assert record["method"] == "POST" and record["status"] == 201
    assert record["auth"] == {"kind": "api_key", "username": API_KEY}
    assert record["form"]["To"] == CUSTOMER and record["form"]["From"] == OUR_NUMBER
    assert json.loads(record["form"]["Parameters"]) == HANDOFF
    (execution,) = await emulator.get("/_emulator/executions")
    assert execution["parameters"] == HANDOFF and execution["status"] == "active"


async def test_second_active_execution_for_the_contact_is_409(emulator: Emulator) -> None:
    flow = emulator.twilio().studio.v2.flows(FLOW_SID)
    first = await call(flow.executions.create, to=CUSTOMER, from_=OUR_NUMBER)
    with pytest.raises(TwilioRestException) as conflict:
        await call(flow.executions.create, to=CUSTOMER, from_=OUR_NUMBER)
    assert conflict.value.status == 409 and conflict.value.code == 20409
    assert first.sid in conflict.value.msg
    with pytest.raises(TwilioRestException) as other_sender:
        await call(flow.executions.create, to=CUSTOMER, from_="+15005550002")
    assert other_sender.value.status == 409, "one active execution per contact, whatever From"

    other_customer = await call(flow.executions.create, to="+15005550009", from_=OUR_NUMBER)
    assert other_customer.status == "active"

    ended = await call(flow.executions(first.sid).update, status="ended")
    assert ended.status == "ended"
    again = await call(flow.executions.create, to=CUSTOMER, from_=OUR_NUMBER)
    assert again.sid != first.sid
    assert again.contact_sid == first.contact_sid


async def test_list_pages_and_filters(emulator: Emulator) -> None:
    flow = emulator.twilio().studio.v2.flows(FLOW_SID)
    sids = []
    for number in range(5):
        created = await call(flow.executions.create, to=f"+1500555010{number}", from_=OUR_NUMBER)
        sids.append(created.sid)
    listed = await call(flow.executions.list, page_size=2)
    assert sorted(execution.sid for execution in listed) == sorted(sids)
    async with emulator.rest() as rest:
        page = (await rest.get(f"/v2/Flows/{FLOW_SID}/Executions", params={"PageSize": 2})).json()
    assert page["meta"]["key"] == "executions" and len(page["executions"]) == 2
    assert page["meta"]["next_page_url"].startswith(emulator.url)
    assert page["meta"]["previous_page_url"] is None

    await call(flow.executions(sids[0]).update, status="ended")
    async with emulator.rest() as rest:
        ended = (
            await rest.get(f"/v2/Flows/{FLOW_SID}/Executions", params={"Status": "ended"})
        ).json()
    assert [execution["sid"] for execution in ended["executions"]] == [sids[0]]


async def test_delete_unknown_and_malformed(emulator: Emulator) -> None:
    flow = emulator.twilio().studio.v2.flows(FLOW_SID)
    created = await call(flow.executions.create, to=CUSTOMER, from_=OUR_NUMBER)
    assert await call(flow.executions(created.sid).delete) is True
    with pytest.raises(TwilioRestException) as gone:
        await call(flow.executions(created.sid).fetch)
    assert gone.value.status == 404 and gone.value.code == 20404

    other_flow = emulator.twilio().studio.v2.flows("FW" + "12" * 16)
    with pytest.raises(TwilioRestException) as unknown:
        await call(other_flow.executions.create, to=CUSTOMER, from_=OUR_NUMBER)
    assert (unknown.value.status, unknown.value.code) == (404, 20404), "a flow never created"

    with pytest.raises(TwilioRestException) as malformed:
        await call(
            emulator.twilio().studio.v2.flows("FWnot-a-sid").executions.create,
            to=CUSTOMER,
            from_=OUR_NUMBER,
        )
    assert malformed.value.status == 404 and malformed.value.code == 20404

    async with emulator.rest() as rest:
        response = await rest.post(f"/v2/Flows/{FLOW_SID}/Executions", data={"From": OUR_NUMBER})
        assert response.status_code == 400
        assert response.json()["code"] == 20001
        bad = await rest.post(
            f"/v2/Flows/{FLOW_SID}/Executions/{created.sid}", data={"Status": "active"}
        )
        assert bad.status_code == 404


async def test_only_ended_is_a_valid_update(emulator: Emulator) -> None:
    flow = emulator.twilio().studio.v2.flows(FLOW_SID)
    created = await call(flow.executions.create, to=CUSTOMER, from_=OUR_NUMBER)
    with pytest.raises(TwilioRestException) as invalid:
        await call(flow.executions(created.sid).update, status="active")
    assert invalid.value.status == 400
