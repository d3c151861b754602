"""Everything the emulator remembers, held on one object per app so tests can run several.

Records are plain data; each product module renders its own wire JSON from them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass
class ExecutionStep:
    sid: str
    name: str
    transitioned_from: str
    transitioned_to: str
    type: str
    context: dict[str, Any]
    date_created: datetime


@dataclass
class Execution:
    sid: str
    flow_sid: str
    contact_sid: str
    to: str
    from_: str
    parameters: dict[str, Any]
    status: str
    date_created: datetime
    date_updated: datetime
    steps: list[ExecutionStep] = field(default_factory=list)
    trigger: dict[str, Any] = field(default_factory=dict)
    """``{"request": …}`` for a REST execution, ``{"call": …}`` for the Incoming Call path."""
    variables: dict[str, Any] = field(default_factory=dict)
    """``flow.variables``, written by the Set Variables widget."""
    widgets: dict[str, Any] = field(default_factory=dict)
    """Each widget's output, as ``{{widgets.<name>.*}}`` reads it."""
    task_sid: str | None = None
    """The Flex task SendToFlex created; the execution stays active while it is open."""


@dataclass
class DeployedFlow:
    """A flow created or updated through ``/v2/Flows``: its definition is what runs."""

    sid: str
    friendly_name: str
    status: str
    definition: dict[str, Any]
    revision: int
    date_created: datetime
    date_updated: datetime


@dataclass
class SmsMessage:
    sid: str
    to: str
    from_: str
    body: str
    direction: str
    status: str
    date_created: datetime
    date_sent: datetime | None = None
    """When it left Twilio (outbound) or reached the webhook (inbound); unset while queued."""


@dataclass
class Participant:
    sid: str
    identity: str | None
    address: str | None
    proxy_address: str | None
    attributes: str
    date_created: datetime


@dataclass
class ConversationMessage:
    sid: str
    index: int
    author: str
    body: str
    attributes: str
    participant_sid: str | None
    date_created: datetime


@dataclass
class ScopedWebhook:
    """A conversation-scoped webhook (``WH…``): ``webhook``, ``studio`` or ``trigger`` target."""

    sid: str
    target: str
    url: str | None
    method: str
    filters: list[str]
    triggers: list[str]
    flow_sid: str | None
    date_created: datetime


@dataclass
class Conversation:
    sid: str
    chat_service_sid: str
    messaging_service_sid: str
    friendly_name: str | None
    unique_name: str | None
    attributes: str
    state: str
    date_created: datetime
    date_updated: datetime
    inactive_after: timedelta | None = None
    closed_after: timedelta | None = None
    date_inactive: datetime | None = None
    date_closed: datetime | None = None
    participants: list[Participant] = field(default_factory=list)
    messages: list[ConversationMessage] = field(default_factory=list)
    webhooks: list[ScopedWebhook] = field(default_factory=list)
    handed_off: bool = False
    """SendToFlex marked it "handed-off": customer messages go to the human agent only."""
    handed_off_at: datetime | None = None
    flex_task_sid: str | None = None
    origin: str = "conversations"
    """``conversations``, ``sms`` (a thread the flow opened for an SMS pair) or ``orchestrator``."""


@dataclass
class OrchestratorCommunication:
    author: str
    text: str
    at: datetime
    id: str = ""


@dataclass
class OrchestratorParticipant:
    id: str
    type: str
    address: str
    channel: str
    channel_id: str | None = None
    """The address's ``channelId``: the ``CH…`` a bridged conversation has behind it, or the
    ``CallSid`` of a call."""
    profile_id: str | None = None


@dataclass
class MemoryProfile:
    id: str
    address: str
    created_at: datetime
    traits: dict[str, dict[str, Any]] = field(default_factory=dict)
    observations: list[str] = field(default_factory=list)


@dataclass
class OrchestratorConversation:
    id: str
    status: str
    name: str | None
    channel_id: str | None
    """The ``CH…`` of the Conversations (classic) conversation bridged to it, if any."""
    created_at: datetime
    updated_at: datetime
    configuration: dict[str, Any] = field(default_factory=dict)
    participants: list[OrchestratorParticipant] = field(default_factory=list)
    communications: list[OrchestratorCommunication] = field(default_factory=list)


@dataclass
class OutboxEntry:
    """A message the emulator delivered to a customer's phone or chat window."""

    channel: str
    to: str | None
    sender: str | None
    body: str
    conversation: str | None
    at: datetime

    def as_json(self) -> dict[str, Any]:
        sender_key = "author" if self.channel == "conversations" else "from"
        return {
            "channel": self.channel,
            "to": self.to,
            sender_key: self.sender,
            "body": self.body,
            "conversation": self.conversation,
            "at": self.at.isoformat(),
        }


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str | list[str]] | None
    json: Any
    auth: dict[str, str] | None
    headers: dict[str, str]
    status: int
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "form": self.form,
            "json": self.json,
            "auth": self.auth,
            "headers": self.headers,
            "status": self.status,
            "at": self.at.isoformat(),
        }


@dataclass
class Fault:
    id: int
    path_prefix: str
    method: str
    status: int
    count: int
    retry_after: float | None
    delay_seconds: float
    create_before_delay: bool
    until: float | None = None
    """``time.monotonic()`` after which a time-bound fault is gone."""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path_prefix": self.path_prefix,
            "method": self.method,
            "status": self.status,
            "count": self.count,
            "retry_after": self.retry_after,
            "delay_seconds": self.delay_seconds,
            "create_before_delay": self.create_before_delay,
            "for_seconds": round(self.until - time.monotonic(), 3) if self.until else None,
        }


@dataclass
class WebhookDelivery:
    """One signed webhook exactly as sent, kept so it can be re-sent byte for byte."""

    kind: str
    message_sid: str
    url: str
    signed_url: str
    content: bytes
    headers: dict[str, str]
    idempotency_token: str
    status_code: int | None = None
    response_body: str = ""
    error: str | None = None
    attempts: int = 0
    at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message_sid": self.message_sid,
            "url": self.url,
            "signed_url": self.signed_url,
            "idempotency_token": self.idempotency_token,
            "status_code": self.status_code,
            "error": self.error,
            "attempts": self.attempts,
            "at": self.at.isoformat() if self.at else None,
        }


@dataclass
class TaskTransition:
    status: str
    reason: str | None
    at: datetime


@dataclass
class Task:
    """A TaskRouter task, with the links the agent desktop follows to show its context."""

    sid: str
    workspace_sid: str
    workflow_sid: str
    task_queue_sid: str
    task_channel_unique_name: str
    attributes: str
    assignment_status: str
    priority: int
    timeout: int
    date_created: datetime
    date_updated: datetime
    reason: str | None = None
    reservation_sid: str | None = None
    worker_sid: str | None = None
    execution_sid: str | None = None
    conversation_sid: str | None = None
    call_sid: str | None = None
    interaction_sid: str | None = None
    trace_id: str | None = None
    """The W3C trace id of the request that created the task, when it carried one."""
    history: list[TaskTransition] = field(default_factory=list)


@dataclass
class Interaction:
    """A Flex Interaction (``KD…``) and the task its routing created."""

    sid: str
    channel: dict[str, Any]
    routing: dict[str, Any]
    channel_sid: str
    task_sid: str
    interaction_context_sid: str | None
    webhook_ttid: str
    date_created: datetime


@dataclass
class CallLine:
    """One line of a call as the caller heard or said it."""

    role: str
    """``caller``, ``bot`` (the AI agent over ConversationRelay), ``agent`` (a human) or
    ``system`` (Twilio's own speech and events)."""
    text: str
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"role": self.role, "text": self.text, "at": self.at.isoformat()}


@dataclass
class CallRecord:
    """A call the emulator placed to a relay gateway, as a caller would describe it."""

    sid: str
    from_: str
    to: str
    state: str
    """``ringing``, ``in-progress`` (on the relay), ``in-queue`` (waiting for Flex),
    ``with-agent``, ``completed`` or ``failed``."""
    date_created: datetime
    date_updated: datetime
    session_sid: str | None = None
    custom_parameters: dict[str, str] = field(default_factory=dict)
    transcript: list[CallLine] = field(default_factory=list)
    twiml: list[str] = field(default_factory=list)
    """Every TwiML document the call executed, in order."""
    handoff_data: str | None = None
    action_url: str | None = None
    task_sid: str | None = None
    error: str | None = None
    protocol_errors: list[str] = field(default_factory=list)
    """Frames the app sent that ConversationRelay refuses (``end`` mid-reply, non-string data)."""

    def say(self, role: str, text: str, at: datetime) -> None:
        self.transcript.append(CallLine(role, text, at))
        self.date_updated = at

    def as_json(self) -> dict[str, Any]:
        return {
            "call_sid": self.sid,
            "from": self.from_,
            "to": self.to,
            "state": self.state,
            "session_sid": self.session_sid,
            "custom_parameters": self.custom_parameters,
            "transcript": [line.as_json() for line in self.transcript],
            "twiml": self.twiml,
            "handoff_data": self.handoff_data,
            "action_url": self.action_url,
            "task_sid": self.task_sid,
            "error": self.error,
            "protocol_errors": self.protocol_errors,
            "date_created": self.date_created.isoformat(),
            "date_updated": self.date_updated.isoformat(),
        }


@dataclass
class EmulatorState:
    executions: dict[str, Execution] = field(default_factory=dict)
    flows: set[str] = field(default_factory=set)
    flows_deployed: dict[str, DeployedFlow] = field(default_factory=dict)
    sms_messages: dict[str, SmsMessage] = field(default_factory=dict)
    conversations: dict[str, Conversation] = field(default_factory=dict)
    orchestrator: dict[str, OrchestratorConversation] = field(default_factory=dict)
    memory_profiles: dict[str, MemoryProfile] = field(default_factory=dict)
    """By the customer's bare address."""
    outbox: list[OutboxEntry] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    webhooks: dict[str, WebhookDelivery] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    interactions: dict[str, Interaction] = field(default_factory=dict)
    calls: dict[str, CallRecord] = field(default_factory=dict)
    next_fault_id: int = 1
    task_listeners: list[Callable[[Task], None]] = field(default_factory=list)
    """Told of every new task (TaskRouter's event callback); configuration, kept on reset."""

    def reset(self) -> None:
        """Forget everything, as a fresh account would look."""
        fresh = EmulatorState()
        for name in self.__dataclass_fields__:
            if name != "task_listeners":
                setattr(self, name, getattr(fresh, name))
