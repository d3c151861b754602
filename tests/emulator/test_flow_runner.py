"""The shipped Agent Handoff flows (``deploy/studio/``) run strictly: messaging and voice
branches, Flex tasks, the agent's actions, and the failures Twilio would answer."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from twilio.base.exceptions import TwilioRestException

from libs.platform.propagation import inject_trace_headers
from libs.platform.tracing import configure_tracing, spans_exported_to
from tests.emulator.conftest import StartEmulator
from tests.emulator.harness import Emulator, Receiver, call
from tests.support.twilio_fakes import ACCOUNT_SID, CUSTOMER, FLOW_SID, OUR_NUMBER

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "studio"

REASON = "billing dispute"
SUMMARY = "Customer says the March bill charged them twice."
CONFIGURATION = "conv_configuration_01"
STORE = "mem_store_01"


def handoff(conversation_id: str, profile_id: str = "", **extra: Any) -> dict[str, Any]:
    """HandoffData as the dispatcher sends it: the identifiers also in ``attributes``."""
    ids = {"conversationId": conversation_id, "storeId": STORE, "profileId": profile_id}
    attributes = {"reason": REASON, "summary": SUMMARY, "department": "billing", **ids, **extra}
    return {"HandoffData": {**ids, "attributes": attributes}}


async def steps_of(emulator: Emulator, execution_sid: str) -> list[tuple[str, str]]:
    flow = emulator.twilio().studio.v2.flows(FLOW_SID).executions(execution_sid)
    return [(s.transitioned_from, s.transitioned_to) for s in await call(flow.steps.list)]


async def only_task(emulator: Emulator) -> dict[str, Any]:
    (task,) = (await emulator.get("/_emulator/desktop/tasks"))["tasks"]
    return dict(task)


async def desk(emulator: Emulator, task_sid: str, action: str, **body: Any) -> Any:
    return await emulator.post(f"/_emulator/desktop/tasks/{task_sid}/{action}", body)


def bodies(task: dict[str, Any]) -> list[tuple[str, str]]:
    return [(line["role"], line["body"]) for line in task["transcript"]]


async def test_conversation_handoff_mutes_the_bot_until_handed_back(
    start_emulator: StartEmulator, receiver: tuple[Receiver, str]
) -> None:
    hooks, url = receiver
    emulator = await start_emulator(
        emulator_conversations_webhook_url=f"{url}/conversations",
        emulator_handback_url=f"{url}/handback",
    )
    client = emulator.twilio()
    first = await emulator.post(
        "/_emulator/conversations/message", {"author": CUSTOMER, "body": "my bill is wrong"}
    )
    sid = first["conversation_sid"]
    scoped = client.conversations.v1.conversations(sid).webhooks
    (bot_hook,) = await call(scoped.list)
    assert (bot_hook.target, bot_hook.configuration["filters"]) == ("webhook", ["onMessageAdded"])
    assert bot_hook.configuration["url"] == f"{url}/conversations"

    flow = client.studio.v2.flows(FLOW_SID)
    execution = await call(
        flow.executions.create, to=CUSTOMER, from_=OUR_NUMBER, parameters=handoff(sid)
    )
    assert await steps_of(emulator, execution.sid) == [
        ("Trigger", "is_conversation"),
        ("is_conversation", "use_conversation"),
        ("use_conversation", "send_conversation_to_flex"),
        ("send_conversation_to_flex", "Ended"),
    ]
    assert await call(scoped.list) == [], "the onMessageAdded webhooks were not removed"

    task = await only_task(emulator)
    assert (task["status"], task["channel"], task["customer"]) == ("pending", "sms", CUSTOMER)
    assert (task["reason"], task["summary"]) == (REASON, SUMMARY)
    attributes = task["attributes"]
    assert attributes["department"] == "billing" and attributes["storeId"] == STORE
    assert attributes["conversationId"] == attributes["conversationSid"] == sid
    assert attributes["customerAddress"] == CUSTOMER
    assert attributes["flexInteractionSid"].startswith("KD")
    context = await call(flow.executions(execution.sid).execution_context().fetch)
    interaction = context.context["widgets"]["send_conversation_to_flex"]["parsed"]
    assert interaction["routing"]["properties"]["sid"] == task["sid"]

    later = await emulator.post(
        "/_emulator/conversations/message", {"author": CUSTOMER, "body": "hello? anyone?"}
    )
    assert later["handed_off"] is True and later["status_code"] is None
    assert len(hooks.deliveries) == 1, "a handed-off conversation reached the bot"
    with pytest.raises(TwilioRestException) as again:
        await call(flow.executions.create, to=CUSTOMER, from_=OUR_NUMBER, parameters=handoff(sid))
    assert again.value.status == 409

    early = await emulator.admin.post(
        f"/_emulator/desktop/tasks/{task['sid']}/reply", json={"body": "Hi"}
    )
    assert early.status_code == 409
    assert (await desk(emulator, task["sid"], "accept"))["status"] == "assigned"
    replied = await desk(emulator, task["sid"], "reply", body="Hi, I'm Sam. Let me fix that.")
    assert bodies(replied) == [
        ("customer", "my bill is wrong"),
        ("customer", "hello? anyone?"),
        ("agent", "Hi, I'm Sam. Let me fix that."),
    ]
    outbox = await emulator.get("/_emulator/outbox")
    assert [(e["to"], e["author"], e["body"]) for e in outbox] == [
        (CUSTOMER, "flex-agent", "Hi, I'm Sam. Let me fix that.")
    ]
    assert len(hooks.deliveries) == 1

    back = await desk(emulator, task["sid"], "handback")
    assert (
        back["status"] == "completed" and back["taskReason"] == "handed back to the virtual agent"
    )
    assert back["handback"]["status_code"] == 200
    notice = hooks.deliveries[-1]
    assert notice.path == "/handback" and notice.valid
    assert json.loads(notice.body) == {"conversationId": sid, "taskSid": task["sid"]}
    (restored,) = await call(scoped.list)
    assert restored.configuration["url"] == f"{url}/conversations"
    assert (await call(flow.executions(execution.sid).fetch)).status == "ended"
    await emulator.post(
        "/_emulator/conversations/message", {"author": CUSTOMER, "body": "one more thing"}
    )
    assert hooks.deliveries[-1].params["Body"] == "one more thing"


async def test_sms_pair_gets_a_conversation_holding_the_thread(
    start_emulator: StartEmulator, receiver: tuple[Receiver, str]
) -> None:
    hooks, url = receiver
    emulator = await start_emulator(emulator_sms_webhook_url=f"{url}/sms")
    client = emulator.twilio()
    await emulator.post("/_emulator/sms", {"from": CUSTOMER, "body": "hi, my order is late"})
    await call(client.messages.create, to=CUSTOMER, from_=OUR_NUMBER, body="Sorry! Checking.")
    await call(
        client.studio.v2.flows(FLOW_SID).executions.create,
        to=CUSTOMER,
        from_=OUR_NUMBER,
        parameters=handoff("sms-thread-1"),
    )
    task = await only_task(emulator)
    assert task["attributes"]["conversationId"] == "sms-thread-1"
    conversation = task["conversationSid"]
    (customer,) = await call(client.conversations.v1.conversations(conversation).participants.list)
    assert customer.messaging_binding["address"] == CUSTOMER
    assert customer.messaging_binding["proxy_address"] == OUR_NUMBER

    await emulator.post("/_emulator/sms", {"from": CUSTOMER, "body": "still waiting"})
    assert len(hooks.deliveries) == 2, "plain SMS keeps reaching the number's SMS URL"
    await desk(emulator, task["sid"], "accept")
    done = await desk(emulator, task["sid"], "reply", body="It ships today.")
    assert bodies(done) == [
        ("customer", "hi, my order is late"),
        ("bot", "Sorry! Checking."),
        ("customer", "still waiting"),
        ("agent", "It ships today."),
    ]
    completed = await desk(emulator, task["sid"], "complete")
    assert (completed["status"], completed["taskReason"]) == ("completed", "completed by the agent")
    fetched = await call(client.conversations.v1.conversations(conversation).fetch)
    assert fetched.state == "closed"


async def test_orchestrator_flow_finds_the_bridged_conversation(
    start_emulator: StartEmulator, receiver: tuple[Receiver, str]
) -> None:
    hooks, url = receiver
    emulator = await start_emulator(
        emulator_orchestrator_webhook_url=f"{url}/orchestrator",
        twilio_conversation_configuration_id=CONFIGURATION,
    )
    sent = await emulator.post(
        "/_emulator/orchestrator/communication", {"author": CUSTOMER, "text": "I need a person"}
    )
    data = json.loads(hooks.deliveries[0].body)["data"]
    channel_id = data["channelId"]
    assert channel_id.startswith("CH") and "profileId" not in data["author"]
    async with emulator.rest() as rest:
        listed = (
            await rest.get(f"/v2/Conversations/{sent['conversation_id']}/Participants")
        ).json()
    customer = next(p for p in listed["participants"] if p["type"] == "CUSTOMER")
    assert customer["addresses"] == [
        {"channel": "SMS", "address": CUSTOMER, "channelId": channel_id}
    ]
    assert customer["profileId"].startswith("mem_profile_")
    flow = emulator.twilio().studio.v2.flows(FLOW_SID)
    execution = await call(
        flow.executions.create,
        to=CUSTOMER,
        from_=OUR_NUMBER,
        parameters=handoff(sent["conversation_id"], customer["profileId"]),
    )
    assert await steps_of(emulator, execution.sid) == [
        ("Trigger", "fetch_participants"),
        ("fetch_participants", "find_customer_channel"),
        ("find_customer_channel", "has_conversation"),
        ("has_conversation", "fetch_configuration"),
        ("fetch_configuration", "resume_conversation"),
        ("resume_conversation", "send_conversation_to_flex"),
        ("send_conversation_to_flex", "Ended"),
    ]
    task = await only_task(emulator)
    assert task["conversationSid"] == channel_id
    attributes = task["attributes"]
    assert attributes["conversationId"] == sent["conversation_id"]
    assert (attributes["profileId"], attributes["storeId"]) == (customer["profileId"], STORE)
    later = await emulator.post(
        "/_emulator/orchestrator/communication",
        {"author": CUSTOMER, "text": "hello?", "conversation_id": sent["conversation_id"]},
    )
    assert later["handed_off"] is True and len(hooks.deliveries) == 1
    task = await only_task(emulator)
    assert bodies(task) == [("customer", "I need a person"), ("customer", "hello?")]
    await desk(emulator, task["sid"], "handback")
    back = await emulator.post(
        "/_emulator/orchestrator/communication",
        {"author": CUSTOMER, "text": "ok bot", "conversation_id": sent["conversation_id"]},
    )
    assert back["handed_off"] is False and len(hooks.deliveries) == 2


@pytest.mark.parametrize(
    ("conversation_id", "failed_at"),
    [
        ("CA" + "12" * 16, "fetch_participants"),
        ("CH" + "12" * 16, "fetch_participants"),
        ("sms-" + "12" * 16, "fetch_participants"),
    ],
)
async def test_orchestrator_flow_refuses_ids_that_are_not_orchestrator_conversations(
    start_emulator: StartEmulator, conversation_id: str, failed_at: str
) -> None:
    """A CallSid, a classic ``CH…`` or a plain SMS thread id is a 404 for the HTTP Request
    widget, as on Twilio: the execution ends there and no task is created."""
    emulator = await start_emulator(twilio_conversation_configuration_id=CONFIGURATION)
    flow = emulator.twilio().studio.v2.flows(FLOW_SID)
    execution = await call(
        flow.executions.create, to=CUSTOMER, from_=OUR_NUMBER, parameters=handoff(conversation_id)
    )
    assert await steps_of(emulator, execution.sid) == [
        ("Trigger", "fetch_participants"),
        (failed_at, "Ended"),
    ]
    (failed,) = [
        s for s in await call(flow.executions(execution.sid).steps.list) if s.name == "failed"
    ]
    assert failed.context["status_code"] == 404
    assert (await call(flow.executions(execution.sid).fetch)).status == "ended"
    assert (await emulator.get("/_emulator/desktop/tasks"))["tasks"] == []


async def test_orchestrator_flow_needs_a_bridged_conversation(
    start_emulator: StartEmulator, receiver: tuple[Receiver, str]
) -> None:
    """Without the Conversations (classic) bridge the customer's address has no ``channelId``:
    nothing can be resumed and the flow ends without a task."""
    hooks, url = receiver
    emulator = await start_emulator(
        emulator_orchestrator_webhook_url=f"{url}/orchestrator",
        twilio_conversation_configuration_id=CONFIGURATION,
        emulator_orchestrator_bridge=False,
    )
    sent = await emulator.post(
        "/_emulator/orchestrator/communication", {"author": CUSTOMER, "text": "a person please"}
    )
    flow = emulator.twilio().studio.v2.flows(FLOW_SID)
    execution = await call(
        flow.executions.create,
        to=CUSTOMER,
        from_=OUR_NUMBER,
        parameters=handoff(sent["conversation_id"]),
    )
    assert (await steps_of(emulator, execution.sid))[-1] == ("has_conversation", "Ended")
    assert (await emulator.get("/_emulator/desktop/tasks"))["tasks"] == []


async def test_a_deployed_definition_is_what_runs(emulator: Emulator) -> None:
    """``POST /v2/Flows/{FW}`` (what ``baton studio deploy`` sends) replaces the flow that
    runs; Studio's validator refuses widgets it does not know and unfilled values."""
    text = (SHIPPED / "agent-handoff-classic.json").read_text()
    definition = json.loads(re.sub(r"\$\{[A-Z_]+\}", "WW" + "0" * 32, text))
    trigger = definition["states"][0]
    trigger["transitions"] = [{"event": "incomingRequest"}, {"event": "incomingCall"}]
    async with emulator.rest() as rest:
        bad = await rest.post(
            "/v2/Flows/Validate",
            data={
                "FriendlyName": "x",
                "Status": "published",
                "Definition": json.dumps(
                    {
                        **definition,
                        "states": [*definition["states"], {"name": "w", "type": "teleport"}],
                    }
                ),
            },
        )
        assert bad.status_code == 400 and "teleport" in bad.json()["message"]
        unfilled = await rest.post(
            "/v2/Flows/Validate",
            data={
                "FriendlyName": "x",
                "Status": "published",
                "Definition": (SHIPPED / "agent-handoff-classic.json").read_text(),
            },
        )
        assert unfilled.status_code == 400 and "FLEX_WORKFLOW_SID" in unfilled.json()["message"]
        deployed = await rest.post(
            f"/v2/Flows/{FLOW_SID}",
            data={
                "FriendlyName": "Agent Handoff",
                "Status": "published",
                "Definition": json.dumps(definition),
            },
        )
    assert deployed.status_code == 200 and deployed.json()["revision"] == 1
    flow = emulator.twilio().studio.v2.flows(FLOW_SID)
    execution = await call(
        flow.executions.create, to=CUSTOMER, from_=OUR_NUMBER, parameters=handoff("CH" + "1" * 32)
    )
    assert await steps_of(emulator, execution.sid) == [("Trigger", "Ended")]


async def post_flow_webhook(
    emulator: Emulator, form: dict[str, str], flow_sid: str = FLOW_SID
) -> str:
    async with emulator.rest() as rest:
        response = await rest.post(
            f"/v1/Accounts/{ACCOUNT_SID}/Flows/{flow_sid}?Trigger=incomingCall", data=form
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    return response.text


async def test_voice_flow_webhook_sends_the_call_to_flex(emulator: Emulator) -> None:
    call_sid = "CA" + "22" * 16
    data = handoff(call_sid)["HandoffData"]
    form = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": call_sid,
        "CallStatus": "in-progress",
        "From": CUSTOMER,
        "To": OUR_NUMBER,
        "Direction": "inbound",
        "SessionStatus": "ended",
        "HandoffData": json.dumps(data),
    }
    twiml = await post_flow_webhook(emulator, form)
    assert '<Enqueue workflowSid="WW' in twiml and "<Task>" in twiml
    task = await only_task(emulator)
    assert (task["channel"], task["taskChannel"], task["callSid"]) == ("voice", "voice", call_sid)
    assert (task["reason"], task["summary"], task["customer"]) == (REASON, SUMMARY, CUSTOMER)
    assert task["attributes"]["conversationId"] == call_sid
    assert task["attributes"]["call_sid"] == call_sid
    assert task["attributes"]["storeId"] == STORE
    (execution,) = await emulator.get("/_emulator/executions")
    assert execution["to"] == CUSTOMER and execution["from"] == OUR_NUMBER
    assert execution["steps"] == [
        "parse_handoff_data",
        "has_handoff_data",
        "send_call_to_flex",
        "Ended",
    ]
    flow = emulator.twilio().studio.v2.flows(FLOW_SID).executions(execution["sid"])
    context = (await call(flow.execution_context().fetch)).context
    assert context["trigger"]["call"]["HandoffData"] == json.dumps(data)
    assert context["flow"]["variables"]["handoffData"] == data

    assert "<Hangup" in await post_flow_webhook(emulator, {**form, "HandoffData": ""})
    async with emulator.rest() as rest:
        unknown = await rest.post(f"/v1/Accounts/{ACCOUNT_SID}/Flows/FW{'99' * 16}", data=form)
        wrong = await rest.post(f"/v1/Accounts/AC{'0' * 32}/Flows/{FLOW_SID}", data=form)
    assert (unknown.status_code, unknown.json()["code"]) == (404, 20404), "no such flow"
    assert wrong.status_code == 404


async def test_flow_run_and_task_spans_join_the_callers_trace(emulator: Emulator) -> None:
    configure_tracing("baton-tests")
    exporter = InMemorySpanExporter()
    trace_id = 0x0AF7651916CD43DD8448EB211C80319C
    caller = SpanContext(trace_id, 0xB7AD6B7169203331, is_remote=True, trace_flags=TraceFlags(1))
    with spans_exported_to(exporter), trace.use_span(NonRecordingSpan(caller)):
        async with emulator.rest() as rest:
            response = await rest.post(
                f"/v2/Flows/{FLOW_SID}/Executions",
                data={"To": CUSTOMER, "From": OUR_NUMBER, "Parameters": json.dumps(handoff(""))},
                headers=inject_trace_headers(),
            )
    assert response.status_code == 201
    finished = exporter.get_finished_spans()
    spans = {span.name: span for span in finished}
    by_id = {span.context.span_id: span for span in finished}
    run, create = spans["studio.flow.run"], spans["taskrouter.task.create"]
    assert run.context.trace_id == trace_id and run.parent is not None
    ancestors = []
    parent = create.parent
    while parent is not None and parent.span_id in by_id:
        ancestors.append(by_id[parent.span_id].name)
        parent = by_id[parent.span_id].parent
    assert "studio.flow.run" in ancestors, "the task was not created inside the flow's run"
    assert (await only_task(emulator))["traceId"] == format(trace_id, "032x")
