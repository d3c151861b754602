"""Flex Interactions: ``POST /v1/Interactions`` binds a customer's channel to a TaskRouter task.

``Channel`` and ``Routing`` are JSON strings inside the form. ``Routing.properties.attributes``
are copied onto the task as they are, plus ``flexInteractionSid``,
``flexInteractionChannelSid`` and, for a bound conversation, its ``conversationSid`` and the
customer (``customerAddress``, ``from``, ``channelType``). Binding an existing conversation
hands it to Flex: it is marked "handed-off" and its ``onMessageAdded`` webhooks are deleted,
so the bot no longer hears the customer and nothing is delivered twice.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from opentelemetry.context import Context

from emulator.auth import require_twilio_auth
from emulator.dependencies import Settings, State
from emulator.errors import TwilioError, missing, not_found
from emulator.settings import EmulatorSettings
from emulator.sms_threads import SMS_ORIGIN
from emulator.store import Conversation, EmulatorState, Interaction, Task
from emulator.taskrouter import DEFAULT_TIMEOUT, channel_name, channel_sid, create_task
from emulator.tracing import caller_trace_id, incoming_context
from emulator.webhook_targets import remove_message_added
from emulator.wire import form_fields, is_sid, new_sid, utc_now

CHANNEL_TYPES = ("sms", "whatsapp", "web", "chat", "email", "messenger", "gbm", "voice")

router = APIRouter(prefix="/v1/Interactions", dependencies=[Depends(require_twilio_auth)])


def _json_field(raw: str | None, name: str) -> dict[str, Any]:
    if not raw:
        raise missing(name)
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise TwilioError(400, f"{name} must be a valid JSON object") from error
    if not isinstance(value, dict):
        raise TwilioError(400, f"{name} must be a valid JSON object")
    return value


def _routing_attributes(properties: dict[str, Any]) -> dict[str, Any]:
    raw = properties.get("attributes") or {}
    if isinstance(raw, str):
        raw = json.loads(raw) if raw.strip() else {}
    if not isinstance(raw, dict):
        raise TwilioError(400, "Routing.properties.attributes must be a JSON object")
    return dict(raw)


def _customer_attributes(conversation: Conversation, channel_type: str) -> dict[str, str]:
    """What Flex puts on a conversation's task about the customer."""
    customer = next(
        (p.address or p.identity for p in conversation.participants if p.address or p.identity),
        "",
    )
    return {
        "customerAddress": customer or "",
        "from": customer or "",
        "channelType": channel_type,
        "channel": channel_type,
    }


def _hand_to_flex(conversation: Conversation, task: Task) -> None:
    """The conversation is the human's: "handed-off", without ``onMessageAdded`` webhooks. A
    conversation nobody listened to is the thread a flow opened for a plain SMS pair."""
    if conversation.origin == "conversations" and not conversation.webhooks:
        conversation.origin = SMS_ORIGIN
    remove_message_added(conversation)
    conversation.handed_off = True
    conversation.handed_off_at = utc_now()
    conversation.flex_task_sid = task.sid
    task.conversation_sid = conversation.sid


def create_interaction(
    state: EmulatorState,
    settings: EmulatorSettings,
    *,
    channel: dict[str, Any],
    routing: dict[str, Any],
    interaction_context_sid: str | None = None,
    trace_id: str | None = None,
    context: Context | None = None,
) -> Interaction:
    """Validate as Flex does, then create the task that routes the interaction."""
    channel_type = channel.get("type")
    if channel_type not in CHANNEL_TYPES:
        raise TwilioError(400, f"Channel.type must be one of {', '.join(CHANNEL_TYPES)}")
    properties = routing.get("properties")
    if not isinstance(properties, dict):
        raise missing("Routing.properties")
    workspace = str(properties.get("workspace_sid") or "")
    if not is_sid(workspace, "WS"):
        raise TwilioError(400, "Routing.properties.workspace_sid must be a Workspace SID")
    workflow = properties.get("workflow_sid")
    if workflow is not None and not is_sid(str(workflow), "WW"):
        raise TwilioError(400, "Routing.properties.workflow_sid must be a Workflow SID")
    sid, interaction_channel = new_sid("KD"), new_sid("UO")
    media_sid = (channel.get("properties") or {}).get("media_channel_sid")
    attributes = _routing_attributes(properties)
    conversation = state.conversations.get(str(media_sid or ""))
    if media_sid:
        attributes.setdefault("conversationSid", media_sid)
    if conversation is not None:
        attributes.update(_customer_attributes(conversation, str(channel_type)))
    attributes["flexInteractionSid"] = sid
    attributes["flexInteractionChannelSid"] = interaction_channel
    default_channel = "voice" if channel_type == "voice" else "chat"
    task = create_task(
        state,
        settings,
        attributes=attributes,
        workspace_sid=workspace,
        workflow_sid=str(workflow) if workflow else None,
        channel=channel_name(
            workspace,
            str(
                properties.get("task_channel_unique_name")
                or properties.get("task_channel_sid")
                or default_channel
            ),
        ),
        priority=int(properties.get("priority") or 0),
        timeout=int(properties.get("timeout") or DEFAULT_TIMEOUT),
        trace_id=trace_id,
        context=context,
    )
    task.interaction_sid = sid
    if conversation is not None:
        _hand_to_flex(conversation, task)
    interaction = Interaction(
        sid=sid,
        channel=channel,
        routing=routing,
        channel_sid=interaction_channel,
        task_sid=task.sid,
        interaction_context_sid=interaction_context_sid,
        webhook_ttid=f"flex_interactionwebhook_{secrets.token_hex(13)}",
        date_created=utc_now(),
    )
    state.interactions[sid] = interaction
    return interaction


def _epoch(task: Task) -> int:
    return int(task.date_created.timestamp())


def interaction_json(
    settings: EmulatorSettings, state: EmulatorState, interaction: Interaction
) -> dict[str, Any]:
    url = f"{settings.public_url}/v1/Interactions/{interaction.sid}"
    task = state.tasks.get(interaction.task_sid)
    properties: dict[str, Any] = {"sid": interaction.task_sid}
    if task is not None:
        properties = {
            "sid": task.sid,
            "account_sid": settings.twilio_account_sid,
            "workspace_sid": task.workspace_sid,
            "workflow_sid": task.workflow_sid,
            "queue_sid": task.task_queue_sid,
            "task_channel_sid": channel_sid(task.workspace_sid, task.task_channel_unique_name),
            "task_channel_unique_name": task.task_channel_unique_name,
            "assignment_status": task.assignment_status,
            "attributes": task.attributes,
            "priority": task.priority,
            "reason": task.reason,
            "age": int((utc_now() - task.date_created).total_seconds()),
            "timeout": task.timeout,
            "date_created": _epoch(task),
            "date_updated": int(task.date_updated.timestamp()),
            "task_queue_entered_date": _epoch(task),
            "routing_target": None,
        }
    return {
        "sid": interaction.sid,
        "channel": {"type": interaction.channel.get("type"), "sid": interaction.channel_sid},
        "routing": {"reservation": None, "properties": properties},
        "interaction_context_sid": interaction.interaction_context_sid,
        "webhook_ttid": interaction.webhook_ttid,
        "url": url,
        "links": {"channels": f"{url}/Channels"},
    }


@router.post("", status_code=201)
async def create(request: Request, state: State, settings: Settings) -> dict[str, Any]:
    form = await form_fields(request)
    interaction = create_interaction(
        state,
        settings,
        channel=_json_field(form.get("Channel"), "Channel"),
        routing=_json_field(form.get("Routing"), "Routing"),
        interaction_context_sid=form.get("InteractionContextSid") or None,
        trace_id=caller_trace_id(request.headers),
        context=incoming_context(request.headers),
    )
    return interaction_json(settings, state, interaction)


@router.get("/{interaction_sid}")
async def fetch(
    interaction_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    interaction = state.interactions.get(interaction_sid)
    if interaction is None:
        raise not_found(request.url.path)
    return interaction_json(settings, state, interaction)
