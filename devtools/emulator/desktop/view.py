"""A task as the human agent reads it: who, why, the bot's summary and the whole transcript.

The transcript is the conversation's messages for a messaging task. For a call it is the
transcript HandoffData carried (if the agent sent one) followed by what was said since, or
else everything the caller and the agents said on the call.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emulator.settings import EmulatorSettings
from emulator.sms_threads import SMS_ORIGIN
from emulator.store import CallRecord, Conversation, EmulatorState, Task
from emulator.taskrouter import FINAL, task_attributes
from emulator.wire import utc_now

CALL_ROLES = {"caller": "customer", "bot": "bot", "agent": "agent", "system": "system"}


def _line(role: str, author: str, body: str, at: datetime | None) -> dict[str, Any]:
    return {"role": role, "author": author, "body": body, "at": at.isoformat() if at else None}


def conversation_transcript(
    conversation: Conversation, customer: str, agent: str
) -> list[dict[str, Any]]:
    customers = {customer} | {p.address for p in conversation.participants if p.address}
    lines = []
    for message in conversation.messages:
        if message.author in customers:
            role = "customer"
        elif message.author == agent:
            role = "agent"
        elif message.author == "system":
            role = "system"
        else:
            role = "bot"
        lines.append(_line(role, message.author, message.body, message.date_created))
    return lines


def texts_before(
    state: EmulatorState, conversation: Conversation, customer: str
) -> list[dict[str, Any]]:
    """The pair's plain SMS before the conversation a flow opened for it was handed off: what the
    human would read in the customer's messaging history (later texts are copied into it)."""
    ours = {p.proxy_address for p in conversation.participants if p.proxy_address}
    cutoff = conversation.handed_off_at or conversation.date_created
    lines = []
    for text in sorted(state.sms_messages.values(), key=lambda t: t.date_created):
        if text.date_created >= cutoff:
            continue
        if text.from_ == customer and text.to in ours:
            lines.append(_line("customer", customer, text.body, text.date_created))
        elif text.to == customer and text.from_ in ours:
            lines.append(_line("bot", text.from_, text.body, text.date_created))
    return lines


def call_transcript(
    call: CallRecord, agent: str, since: datetime | None = None
) -> list[dict[str, Any]]:
    lines = []
    for said in call.transcript:
        if since is not None and said.at < since:
            continue
        role = CALL_ROLES.get(said.role, "system")
        author = {"customer": call.from_, "agent": agent}.get(role, role)
        lines.append(_line(role, author, said.text, said.at))
    return lines


def handoff_transcript(data: dict[str, Any]) -> list[dict[str, Any]]:
    """HandoffData's ``transcript`` (top level or in ``attributes``): text or a list of turns."""
    attributes = data.get("attributes")
    raw = data.get("transcript")
    if raw is None and isinstance(attributes, dict):
        raw = attributes.get("transcript")
    if isinstance(raw, str):
        return [_line("bot", "transcript", text, None) for text in raw.splitlines() if text]
    lines = []
    for turn in raw if isinstance(raw, list) else []:
        if not isinstance(turn, dict):
            continue
        role = str(turn.get("role") or turn.get("speaker") or "bot").lower()
        role = {"user": "customer", "caller": "customer", "assistant": "bot"}.get(role, role)
        body = str(turn.get("text") or turn.get("content") or turn.get("body") or "")
        lines.append(_line(role, role, body, None))
    return lines


def _handoff_data(state: EmulatorState, task: Task) -> dict[str, Any]:
    execution = state.executions.get(task.execution_sid or "")
    if execution is None:
        return {}
    data = execution.variables.get("handoffData") or execution.parameters.get("HandoffData")
    return data if isinstance(data, dict) else {}


def transcript(
    state: EmulatorState, settings: EmulatorSettings, task: Task
) -> list[dict[str, Any]]:
    agent = settings.emulator_agent_identity
    conversation = state.conversations.get(task.conversation_sid or "")
    if conversation is not None:
        customer = str(task_attributes(task).get("customerAddress") or "")
        earlier = (
            texts_before(state, conversation, customer) if conversation.origin == SMS_ORIGIN else []
        )
        return earlier + conversation_transcript(conversation, customer, agent)
    call = state.calls.get(task.call_sid or "")
    carried = handoff_transcript(_handoff_data(state, task))
    if carried:
        since = call_transcript(call, agent, task.date_created) if call else []
        return carried + since
    return call_transcript(call, agent) if call else []


def _can_reply(state: EmulatorState, task: Task) -> bool:
    if task.assignment_status != "assigned":
        return False
    conversation = state.conversations.get(task.conversation_sid or "")
    if conversation is not None:
        return conversation.state != "closed"
    call = state.calls.get(task.call_sid or "")
    return call is not None and call.state in ("in-queue", "with-agent")


def task_view(state: EmulatorState, settings: EmulatorSettings, task: Task) -> dict[str, Any]:
    attributes = task_attributes(task)
    status = task.assignment_status
    trace_url = (
        settings.emulator_trace_url.format(trace_id=task.trace_id) if task.trace_id else None
    )
    return {
        "sid": task.sid,
        "status": status,
        "channel": str(attributes.get("channel") or task.task_channel_unique_name),
        "taskChannel": task.task_channel_unique_name,
        "customer": str(attributes.get("customerAddress") or attributes.get("from") or ""),
        "reason": attributes.get("reason"),
        "summary": attributes.get("summary"),
        "attributes": attributes,
        "conversationSid": task.conversation_sid,
        "callSid": task.call_sid,
        "executionSid": task.execution_sid,
        "taskReason": task.reason,
        "traceId": task.trace_id,
        "traceUrl": trace_url,
        "age": int((utc_now() - task.date_created).total_seconds()),
        "dateCreated": task.date_created.isoformat(),
        "transcript": transcript(state, settings, task),
        "canAccept": status in ("pending", "reserved"),
        "canReply": _can_reply(state, task),
        "canComplete": status in ("assigned", "wrapping"),
        "canHandBack": status not in FINAL,
    }
