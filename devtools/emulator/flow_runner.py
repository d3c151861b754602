"""The "Agent Handoff" Studio template, run on every execution of the handoff flow.

Messaging branch (a digital handoff, ``Parameters.HandoffData``)::

    Trigger → split_by_channel → fetch_conversation → resume_conversation → send_to_flex

``fetch_conversation`` is the template's HTTP Request widget: it finds the Conversations
(classic) conversation from HandoffData's ``conversationId`` — a ``CH…`` SID, or an
Orchestrator conversation whose ``channelId`` names it — and for a plain SMS pair (which has
no conversation) opens one for the To/From binding, holding the thread so far.
``resume_conversation`` attaches the flow's ``onMessageAdded`` webhook; ``send_to_flex`` creates
a Flex Interaction (and so a task carrying the HandoffData attributes) and marks the
conversation "handed-off", which deletes its ``onMessageAdded`` webhooks: from then on the
customer's messages reach the human agent only.

Voice branch (the flow webhook, ``trigger.call.HandoffData``)::

    Trigger → split_by_channel → set_variables → send_to_flex

The execution stays active while its Flex task is open, so Studio's one-active-execution
rule still answers a repeated handoff for the same contact with 409.
"""

from __future__ import annotations

import json
from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from emulator.conversations import add_message, add_participant, bound_conversation
from emulator.conversations import new_conversation as open_conversation
from emulator.errors import TwilioError
from emulator.executions import FIRST_WIDGET, add_step
from emulator.interactions import create_interaction
from emulator.settings import EmulatorSettings
from emulator.sms_threads import SMS_ORIGIN
from emulator.store import Conversation, EmulatorState, Execution, Task
from emulator.taskrouter import create_task
from emulator.webhook_targets import MESSAGE_ADDED, new_webhook, remove_message_added

ENDED = "Ended"
HANDOFF_KEYS = ("profileId", "storeId")


def handoff_data(raw: Any) -> dict[str, Any]:
    """HandoffData as the flow reads it: an object, or a JSON string Set Variables parses."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return {}
    return dict(raw) if isinstance(raw, dict) else {}


def _routing_attributes(data: dict[str, Any]) -> dict[str, Any]:
    attributes = data.get("attributes")
    merged: dict[str, Any] = dict(attributes) if isinstance(attributes, dict) else {}
    merged.update({key: data[key] for key in HANDOFF_KEYS if data.get(key)})
    return merged


def medium_of(address: str) -> str:
    """The customer's channel as Flex names it, from their address."""
    if address.startswith("whatsapp:"):
        return "whatsapp"
    return "sms" if address.startswith("+") else "chat"


def _fail(execution: Execution, widget: str, error: TwilioError) -> None:
    add_step(execution, "failed", widget, ENDED, "failure", {"error": error.message})
    execution.status = "ended"


# --- messaging branch ---------------------------------------------------------------------


def _add_customer(
    state: EmulatorState, conversation: Conversation, customer: str, ours: str
) -> None:
    """Bind the customer's address; a binding held elsewhere falls back to an identity."""
    if any(customer in (p.address, p.identity) for p in conversation.participants):
        return
    try:
        add_participant(state, conversation, address=customer, proxy_address=ours)
    except TwilioError:
        add_participant(state, conversation, identity=customer)


def _sms_thread(state: EmulatorState, customer: str, ours: str) -> Conversation:
    """A conversation for an SMS pair, holding every text of the pair so far."""
    conversation = open_conversation(state, friendly_name=f"SMS {customer}")
    conversation.origin = SMS_ORIGIN
    _add_customer(state, conversation, customer, ours)
    pair = {(customer, ours), (ours, customer)}
    texts = sorted(state.sms_messages.values(), key=lambda text: text.date_created)
    for text in texts:
        if (text.from_, text.to) in pair:
            add_message(conversation, text.from_, text.body).date_created = text.date_created
    return conversation


def _orchestrator_thread(
    state: EmulatorState, conversation_id: str, customer: str, ours: str
) -> Conversation | None:
    """The classic conversation behind an Orchestrator conversation (its ``channelId``)."""
    orchestrated = state.orchestrator.get(conversation_id)
    if orchestrated is None:
        return None
    existing = state.conversations.get(orchestrated.channel_id)
    if existing is not None and existing.state != "closed":
        return existing
    reuse = existing is None
    conversation = open_conversation(state, sid=orchestrated.channel_id if reuse else None)
    orchestrated.channel_id = conversation.sid
    conversation.origin = "orchestrator"
    _add_customer(state, conversation, customer, ours)
    for said in orchestrated.communications:
        add_message(conversation, said.author, said.text).date_created = said.at
    return conversation


def fetch_conversation(
    state: EmulatorState, execution: Execution, conversation_id: str
) -> tuple[Conversation, str]:
    """The HTTP Request widget: the conversation to resume, and how it was found."""
    customer, ours = execution.to, execution.from_
    classic = state.conversations.get(conversation_id)
    if classic is not None and classic.state != "closed":
        return classic, "conversationSid"
    orchestrated = _orchestrator_thread(state, conversation_id, customer, ours)
    if orchestrated is not None:
        return orchestrated, "channelId"
    bound = bound_conversation(state, customer, ours)
    if bound is not None:
        return bound, "address"
    return _sms_thread(state, customer, ours), "created"


def resume_conversation(execution: Execution, conversation: Conversation) -> str:
    """Attach the flow to the conversation with an ``onMessageAdded`` studio webhook."""
    webhook = new_webhook("studio", flow_sid=execution.flow_sid, filters=[MESSAGE_ADDED])
    conversation.webhooks.append(webhook)
    if conversation.state == "inactive":
        conversation.state = "active"
    return webhook.sid


def send_messaging_to_flex(
    state: EmulatorState,
    settings: EmulatorSettings,
    execution: Execution,
    conversation: Conversation,
    data: dict[str, Any],
    trace_id: str | None,
) -> Task:
    customer = execution.to
    medium = medium_of(customer)
    attributes = _routing_attributes(data)
    attributes.update(
        {
            "conversationId": str(data.get("conversationId") or conversation.sid),
            "conversationSid": conversation.sid,
            "customerAddress": customer,
            "channel": medium,
            "channelType": medium,
            "from": customer,
            "direction": "inbound",
        }
    )
    interaction = create_interaction(
        state,
        settings,
        channel={
            "type": medium,
            "initiated_by": "customer",
            "properties": {"media_channel_sid": conversation.sid},
        },
        routing={
            "properties": {
                "workspace_sid": settings.emulator_taskrouter_workspace_sid,
                "workflow_sid": settings.emulator_taskrouter_workflow_sid,
                "task_channel_unique_name": "sms" if medium == "sms" else "chat",
                "attributes": attributes,
            }
        },
        trace_id=trace_id,
    )
    task = state.tasks[interaction.task_sid]
    task.execution_sid = execution.sid
    task.conversation_sid = conversation.sid
    execution.task_sid = task.sid
    removed = remove_message_added(conversation)
    conversation.handed_off = True
    conversation.flex_task_sid = task.sid
    execution.widgets["send_to_flex"] = {
        "sid": task.sid,
        "interaction_sid": interaction.sid,
        "removed_webhooks": removed,
    }
    return task


def run_messaging_branch(
    state: EmulatorState,
    settings: EmulatorSettings,
    execution: Execution,
    *,
    trace_id: str | None = None,
) -> Task | None:
    """Run the messaging branch to its end; ``None`` (and a ``failed`` step) if it cannot."""
    data = handoff_data(execution.parameters.get("HandoffData"))
    conversation_id = str(data.get("conversationId") or "")
    add_step(
        execution,
        "messaging",
        FIRST_WIDGET,
        "fetch_conversation",
        "split-based-on",
        {"input": "messaging"},
    )
    widget = "fetch_conversation"
    try:
        conversation, found_by = fetch_conversation(state, execution, conversation_id)
        fetched = {"conversationSid": conversation.sid, "foundBy": found_by}
        execution.widgets[widget] = {"status_code": 200, "parsed": fetched}
        add_step(execution, "success", widget, "resume_conversation", "make-http-request", fetched)
        widget = "resume_conversation"
        webhook_sid = resume_conversation(execution, conversation)
        resumed = {"conversationSid": conversation.sid, "webhookSid": webhook_sid}
        execution.widgets[widget] = resumed
        add_step(execution, "success", widget, "send_to_flex", "resume-conversation", resumed)
        widget = "send_to_flex"
        task = send_messaging_to_flex(state, settings, execution, conversation, data, trace_id)
    except TwilioError as error:
        _fail(execution, widget, error)
        return None
    add_step(execution, "handed-off", widget, ENDED, "send-to-flex", {"taskSid": task.sid})
    return task


# --- voice branch -------------------------------------------------------------------------


def _open_call_task(state: EmulatorState, call_sid: str) -> Task | None:
    for task in state.tasks.values():
        if task.call_sid == call_sid and task.assignment_status not in ("completed", "canceled"):
            return task
    return None


def run_voice_branch(
    state: EmulatorState,
    settings: EmulatorSettings,
    execution: Execution,
    call: dict[str, str],
    *,
    trace_id: str | None = None,
) -> str:
    """Run the voice branch; returns the TwiML the live call continues with."""
    response = VoiceResponse()
    raw = call.get("HandoffData", "")
    if not raw:
        add_step(execution, "noMatch", FIRST_WIDGET, ENDED, "split-based-on", {"input": "voice"})
        execution.status = "ended"
        response.hangup()
        return str(response)
    add_step(
        execution, "voice", FIRST_WIDGET, "set_variables", "split-based-on", {"input": "voice"}
    )
    data = handoff_data(raw)
    execution.variables["HandoffData"] = data
    add_step(
        execution, "next", "set_variables", "send_to_flex", "set-variables", {"HandoffData": data}
    )
    call_sid, caller = call.get("CallSid", ""), call.get("From", "")
    attributes = _routing_attributes(data)
    attributes.update(
        {
            "conversationId": str(data.get("conversationId") or call_sid),
            "customerAddress": caller,
            "channel": "voice",
            "call_sid": call_sid,
            "from": caller,
            "to": call.get("To", ""),
            "direction": "inbound",
            "type": "inbound",
            "name": caller,
        }
    )
    task = _open_call_task(state, call_sid) if call_sid else None
    if task is None:
        task = create_task(
            state, settings, attributes=attributes, channel="voice", trace_id=trace_id
        )
        task.call_sid = call_sid or None
    task.execution_sid = execution.sid
    execution.task_sid = task.sid
    execution.widgets["send_to_flex"] = {"sid": task.sid}
    add_step(execution, "enqueued", "send_to_flex", ENDED, "send-to-flex", {"taskSid": task.sid})
    enqueue = response.enqueue(workflow_sid=task.workflow_sid)
    enqueue.task(json.dumps(attributes))
    return str(response)
