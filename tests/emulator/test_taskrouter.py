"""TaskRouter tasks and Flex Interactions as the official twilio client sees them."""

from __future__ import annotations

import json

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from twilio.base.exceptions import TwilioRestException

from emulator.fake_account import WORKFLOW_SID as FAKE_WORKFLOW_SID
from libs.platform.propagation import inject_trace_headers
from tests.emulator.harness import Emulator, call
from tests.support.twilio_fakes import ACCOUNT_SID, CUSTOMER

WORKSPACE = "WS" + "12" * 16
WORKFLOW = "WW" + "34" * 16
ROUTING = {"type": "handoff", "reason": "billing dispute", "department": "billing"}


async def test_task_create_fetch_list_update(emulator: Emulator) -> None:
    tasks = emulator.twilio().taskrouter.v1.workspaces(WORKSPACE).tasks
    created = await call(
        tasks.create,
        attributes=json.dumps(ROUTING),
        workflow_sid=WORKFLOW,
        task_channel="chat",
        priority=5,
        timeout=600,
    )
    assert created.sid.startswith("WT") and len(created.sid) == 34
    assert created.assignment_status == "pending" and created.reason is None
    assert json.loads(created.attributes) == ROUTING
    assert (created.workspace_sid, created.workflow_sid) == (WORKSPACE, WORKFLOW)
    assert created.account_sid == ACCOUNT_SID
    assert created.task_channel_unique_name == "chat"
    assert created.task_channel_sid.startswith("TC") and created.task_queue_sid.startswith("WQ")
    assert (created.priority, created.timeout, created.age) == (5, 600, 0)
    assert created.url == f"{emulator.url}/v1/Workspaces/{WORKSPACE}/Tasks/{created.sid}"
    assert created.date_created is not None and created.date_created.tzinfo is not None

    default = await call(tasks.create, attributes="{}", task_channel=created.task_channel_sid)
    assert default.workflow_sid == FAKE_WORKFLOW_SID and default.task_channel_unique_name == "chat"

    fetched = await call(tasks(created.sid).fetch)
    assert fetched.attributes == created.attributes
    assert [t.sid for t in await call(tasks.list)] == [created.sid, default.sid]
    assert [t.sid for t in await call(tasks.list, assignment_status=["canceled"])] == []

    updated = await call(
        tasks(created.sid).update, attributes=json.dumps({**ROUTING, "note": "vip"}), priority=9
    )
    assert json.loads(updated.attributes)["note"] == "vip" and updated.priority == 9

    canceled = await call(tasks(default.sid).update, assignment_status="canceled", reason="dup")
    assert canceled.assignment_status == "canceled" and canceled.reason == "dup"
    listed = await call(tasks.list, assignment_status=["pending"])
    assert [t.sid for t in listed] == [created.sid]
    assert await call(tasks(default.sid).delete) is True
    with pytest.raises(TwilioRestException) as gone:
        await call(tasks(default.sid).fetch)
    assert (gone.value.status, gone.value.code) == (404, 20404)


async def test_lifecycle_pending_reserved_assigned_wrapping_completed(emulator: Emulator) -> None:
    tasks = emulator.twilio().taskrouter.v1.workspaces(WORKSPACE).tasks
    task = await call(tasks.create, attributes=json.dumps(ROUTING), task_channel="voice")
    with pytest.raises(TwilioRestException) as early:
        await call(tasks(task.sid).update, assignment_status="wrapping")
    assert early.value.status == 400 and "pending to wrapping" in early.value.msg

    accepted = await emulator.post(f"/_emulator/desktop/tasks/{task.sid}/accept", {})
    assert accepted["status"] == "assigned"
    with pytest.raises(TwilioRestException) as no_reason:
        await call(tasks(task.sid).update, assignment_status="completed")
    assert no_reason.value.status == 400 and "Reason" in no_reason.value.msg
    wrapping = await call(tasks(task.sid).update, assignment_status="wrapping")
    assert wrapping.assignment_status == "wrapping"
    done = await call(tasks(task.sid).update, assignment_status="completed", reason="resolved")
    assert (done.assignment_status, done.reason) == ("completed", "resolved")
    with pytest.raises(TwilioRestException):
        await call(tasks(task.sid).update, assignment_status="canceled", reason="too late")


async def test_bad_attributes_and_channel_are_400(emulator: Emulator) -> None:
    tasks = emulator.twilio().taskrouter.v1.workspaces(WORKSPACE).tasks
    with pytest.raises(TwilioRestException) as bad_json:
        await call(tasks.create, attributes="[1, 2]")
    assert (bad_json.value.status, bad_json.value.code) == (400, 20001)
    with pytest.raises(TwilioRestException) as bad_channel:
        await call(tasks.create, attributes="{}", task_channel="pigeon")
    assert bad_channel.value.status == 400
    with pytest.raises(TwilioRestException) as bad_workspace:
        await call(emulator.twilio().taskrouter.v1.workspaces("nope").tasks("WT" + "0" * 32).fetch)
    assert bad_workspace.value.status == 404


async def test_interaction_creates_a_task_with_the_routing_attributes(emulator: Emulator) -> None:
    client = emulator.twilio()
    conversation = "CH" + "88" * 16
    interaction = await call(
        client.flex_api.v1.interaction.create,
        channel={
            "type": "sms",
            "initiated_by": "customer",
            "properties": {"media_channel_sid": conversation},
        },
        routing={
            "properties": {
                "workspace_sid": WORKSPACE,
                "workflow_sid": WORKFLOW,
                "task_channel_unique_name": "chat",
                "attributes": {"customerAddress": CUSTOMER, "handoffReason": "billing"},
            }
        },
    )
    assert interaction.sid.startswith("KD") and interaction.channel["type"] == "sms"
    assert interaction.channel["sid"].startswith("UO")
    assert interaction.routing["reservation"] is None
    properties = interaction.routing["properties"]
    assert properties["sid"].startswith("WT") and properties["assignment_status"] == "pending"
    assert properties["workspace_sid"] == WORKSPACE and properties["workflow_sid"] == WORKFLOW
    assert isinstance(properties["date_created"], int)
    assert interaction.url == f"{emulator.url}/v1/Interactions/{interaction.sid}"
    assert interaction.links["channels"].endswith("/Channels")

    task = await call(client.taskrouter.v1.workspaces(WORKSPACE).tasks(properties["sid"]).fetch)
    assert json.loads(task.attributes) == {
        "customerAddress": CUSTOMER,
        "handoffReason": "billing",
        "conversationSid": conversation,
        "flexInteractionSid": interaction.sid,
        "flexInteractionChannelSid": interaction.channel["sid"],
    }
    assert task.task_channel_unique_name == "chat"
    fetched = await call(client.flex_api.v1.interaction(interaction.sid).fetch)
    assert fetched.routing["properties"]["sid"] == task.sid


async def test_interaction_validation(emulator: Emulator) -> None:
    create = emulator.twilio().flex_api.v1.interaction.create
    with pytest.raises(TwilioRestException) as bad_type:
        await call(create, channel={"type": "pigeon"}, routing={"properties": {}})
    assert bad_type.value.status == 400
    with pytest.raises(TwilioRestException) as no_workspace:
        await call(create, channel={"type": "sms"}, routing={"properties": {"attributes": {}}})
    assert no_workspace.value.status == 400 and "workspace_sid" in no_workspace.value.msg


async def test_traceparent_on_the_creating_request_is_kept(emulator: Emulator) -> None:
    trace_id = 0x4BF92F3577B34DA6A3CE929D0E0E4736
    caller = SpanContext(trace_id, 0x00F067AA0BA902B7, is_remote=True, trace_flags=TraceFlags(1))
    with trace.use_span(NonRecordingSpan(caller)):
        async with emulator.rest() as rest:
            traced = await rest.post(
                f"/v1/Workspaces/{WORKSPACE}/Tasks",
                data={"Attributes": "{}"},
                headers=inject_trace_headers(),
            )
    assert traced.status_code == 201
    untraced = await call(
        emulator.twilio().taskrouter.v1.workspaces(WORKSPACE).tasks.create, attributes="{}"
    )
    views = {t["sid"]: t for t in (await emulator.get("/_emulator/desktop/tasks"))["tasks"]}
    expected = f"http://localhost:16686/trace/{trace_id:032x}"
    assert views[traced.json()["sid"]]["traceUrl"] == expected
    assert views[untraced.sid]["traceUrl"] is None
