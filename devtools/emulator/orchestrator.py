"""Conversation Orchestrator (JSON API v2): conversation status, sending, and inbound events.

Conversations come into being on first reference, so an app can be driven without setting up a
configuration first. ``CLOSED`` is terminal. A customer's message reaches the app as a signed
JSON webhook ``{"eventType": "COMMUNICATION_CREATED", "data": {...}}`` with ``bodySHA256`` —
unless the Conversations (classic) conversation behind it (``channelId``) is handed off to a
human agent, who then reads it there instead.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from emulator.auth import require_twilio_auth
from emulator.conversations import add_message
from emulator.dependencies import Settings, State, Webhooks
from emulator.errors import CONFLICT, TwilioError
from emulator.settings import EmulatorSettings
from emulator.store import (
    EmulatorState,
    OrchestratorCommunication,
    OrchestratorConversation,
    OrchestratorParticipant,
    OutboxEntry,
)
from emulator.wire import json_object, new_sid, utc_now

STATUSES = ("ACTIVE", "INACTIVE", "CLOSED")

router = APIRouter(prefix="/v2/Conversations", dependencies=[Depends(require_twilio_auth)])
admin_router = APIRouter(prefix="/_emulator/orchestrator", tags=["emulator admin"])


def new_id(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(16)}"


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def conversation_json(
    settings: EmulatorSettings, conversation: OrchestratorConversation
) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "id": conversation.id,
        "accountId": settings.twilio_account_sid,
        "configurationId": settings.twilio_conversation_configuration_id,
        "status": conversation.status,
        "name": conversation.name,
        "createdAt": stamp(conversation.created_at),
        "updatedAt": stamp(conversation.updated_at),
    }
    if conversation.configuration:
        rendered["configuration"] = conversation.configuration
    return rendered


def apply_status_timeouts(
    conversation: OrchestratorConversation, settings: EmulatorSettings
) -> None:
    """The configuration's status timeouts: quiet ACTIVE → INACTIVE, then INACTIVE → CLOSED."""
    now = utc_now()
    inactive = timedelta(seconds=settings.emulator_orchestrator_inactive_seconds)
    closed = timedelta(seconds=settings.emulator_orchestrator_closed_seconds)
    if conversation.status == "ACTIVE" and now - conversation.updated_at >= inactive:
        conversation.status = "INACTIVE"
        conversation.updated_at = conversation.updated_at + inactive
    if conversation.status == "INACTIVE" and now - conversation.updated_at >= closed:
        conversation.status = "CLOSED"
        conversation.updated_at = conversation.updated_at + closed


def conversation_for(
    state: EmulatorState, conversation_id: str, settings: EmulatorSettings
) -> OrchestratorConversation:
    """The conversation with this id, created ACTIVE on first reference; timeouts applied."""
    conversation = state.orchestrator.get(conversation_id)
    if conversation is not None:
        apply_status_timeouts(conversation, settings)
    if conversation is None:
        now = utc_now()
        conversation = OrchestratorConversation(
            id=conversation_id,
            status="ACTIVE",
            name=None,
            channel_id=new_sid("CH"),
            created_at=now,
            updated_at=now,
        )
        state.orchestrator[conversation_id] = conversation
    return conversation


def participant_for(
    conversation: OrchestratorConversation, kind: str, address: str, channel: str
) -> OrchestratorParticipant:
    for participant in conversation.participants:
        if participant.address == address and participant.channel == channel:
            return participant
    participant = OrchestratorParticipant(new_id("part"), kind, address, channel)
    conversation.participants.append(participant)
    return participant


def _status(body: dict[str, Any]) -> str | None:
    status = body.get("status")
    if status is None:
        return None
    if status not in STATUSES:
        raise TwilioError(400, f"Invalid status {status!r}: use ACTIVE, INACTIVE or CLOSED")
    return str(status)


def _change(conversation: OrchestratorConversation, status: str | None) -> None:
    if status is None or status == conversation.status:
        return
    if conversation.status == "CLOSED":
        raise TwilioError(409, f"Conversation {conversation.id} is CLOSED", CONFLICT)
    conversation.status = status


@router.get("/{conversation_id}")
async def fetch_conversation(
    conversation_id: str, state: State, settings: Settings
) -> dict[str, Any]:
    return conversation_json(settings, conversation_for(state, conversation_id, settings))


@router.put("/{conversation_id}")
async def update_conversation(
    conversation_id: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    """Full update: ``{"status": "ACTIVE|INACTIVE|CLOSED", "name"?}``."""
    body = await json_object(request)
    conversation = conversation_for(state, conversation_id, settings)
    status = _status(body)
    if status is None:
        raise TwilioError(400, "Missing required field status")
    _change(conversation, status)
    if "name" in body:
        conversation.name = body["name"]
    conversation.updated_at = utc_now()
    return conversation_json(settings, conversation)


@router.patch("/{conversation_id}")
async def patch_conversation(
    conversation_id: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    """Partial update, e.g. ``{"configuration": {"statusCallbacks": []}}``."""
    body = await json_object(request)
    conversation = conversation_for(state, conversation_id, settings)
    _change(conversation, _status(body))
    if "name" in body:
        conversation.name = body["name"]
    configuration = body.get("configuration")
    if isinstance(configuration, dict):
        conversation.configuration.update(configuration)
    conversation.updated_at = utc_now()
    return conversation_json(settings, conversation)


def _address(party: Any) -> str | None:
    if not isinstance(party, dict):
        return None
    value = party.get("address") or party.get("participantId")
    return str(value) if value else None


@router.post("/{conversation_id}/Actions")
async def create_action(
    conversation_id: str, request: Request, state: State, settings: Settings
) -> JSONResponse:
    """``SEND_MESSAGE`` delivers ``payload.content.text`` to each ``payload.to`` (202)."""
    body = await json_object(request)
    if body.get("type") != "SEND_MESSAGE":
        raise TwilioError(400, f"Unsupported action type {body.get('type')!r}")
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise TwilioError(400, "Missing required field payload")
    content = payload.get("content") or {}
    text = content.get("text") if isinstance(content, dict) else None
    if not isinstance(text, str) or not text:
        raise TwilioError(400, "Missing required field payload.content.text")
    conversation = conversation_for(state, conversation_id, settings)
    if conversation.status == "CLOSED":
        raise TwilioError(409, f"Conversation {conversation.id} is CLOSED", CONFLICT)
    recipients = [_address(party) for party in payload.get("to") or []]
    if not recipients:
        recipients = [p.address for p in conversation.participants if p.type == "CUSTOMER"]
    sender = _address(payload.get("from"))
    now = utc_now()
    communication = OrchestratorCommunication(sender or "", text, now, new_id("comm"))
    conversation.communications.append(communication)
    for recipient in recipients or [None]:
        state.outbox.append(
            OutboxEntry("orchestrator", recipient, sender, text, conversation.id, now)
        )
    conversation.updated_at = now
    action = {
        "id": new_id("action"),
        "type": "SEND_MESSAGE",
        "status": "COMPLETED",
        "conversationId": conversation.id,
    }
    return JSONResponse(action, status_code=202)


@router.get("/{conversation_id}/Communications")
async def list_communications(
    conversation_id: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    """The conversation's communications, oldest first, paged with ``pageToken``."""
    conversation = conversation_for(state, conversation_id, settings)
    try:
        size = max(1, min(int(request.query_params.get("pageSize", "50")), 1000))
        start = int(request.query_params.get("pageToken", "PT0").removeprefix("PT"))
    except ValueError as error:
        raise TwilioError(400, "pageSize must be a number and pageToken one we issued") from error
    items = conversation.communications[start : start + size]
    following = start + size < len(conversation.communications)
    return {
        "communications": [
            {
                "id": item.id,
                "conversationId": conversation.id,
                "accountId": settings.twilio_account_sid,
                "author": {
                    "address": item.author,
                    "channel": _channel_of(conversation, item.author),
                    "participantId": _participant_id(conversation, item.author),
                },
                "content": {"type": "TEXT", "text": item.text},
                "recipients": [],
                "channelId": conversation.channel_id,
                "createdAt": stamp(item.at),
                "updatedAt": stamp(item.at),
            }
            for item in items
        ],
        "meta": {
            "key": "communications",
            "pageSize": size,
            "nextToken": f"PT{start + size}" if following else None,
            "previousToken": f"PT{max(0, start - size)}" if start else None,
        },
    }


def _channel_of(conversation: OrchestratorConversation, address: str) -> str:
    for participant in conversation.participants:
        if participant.address == address:
            return participant.channel
    return "SMS"


def _participant_id(conversation: OrchestratorConversation, address: str) -> str:
    for participant in conversation.participants:
        if participant.address == address:
            return participant.id
    return ""


class InboundCommunication(BaseModel):
    conversation_id: str | None = None
    author: str = Field(min_length=1)
    channel: str = "SMS"
    text: str = ""
    to: str | None = None
    """Our address; defaults to ``TWILIO_PHONE_NUMBER``."""
    profile_id: str | None = None
    webhook_url: str | None = None
    """Overrides ``EMULATOR_ORCHESTRATOR_WEBHOOK_URL`` for this message."""


def _customer_conversation(
    state: EmulatorState, inbound: InboundCommunication, settings: EmulatorSettings
) -> OrchestratorConversation:
    if inbound.conversation_id:
        return conversation_for(state, inbound.conversation_id, settings)
    for conversation in state.orchestrator.values():
        apply_status_timeouts(conversation, settings)
        if conversation.status == "CLOSED":
            continue
        for participant in conversation.participants:
            customer = (participant.type, participant.address, participant.channel)
            if customer == ("CUSTOMER", inbound.author, inbound.channel):
                return conversation
    return conversation_for(state, new_id("conv"), settings)


@admin_router.post("/communication")
async def customer_communicates(
    inbound: InboundCommunication, state: State, settings: Settings, webhooks: Webhooks
) -> dict[str, Any]:
    """A customer's message reaches Orchestrator: Twilio posts ``COMMUNICATION_CREATED``."""
    url = inbound.webhook_url or settings.emulator_orchestrator_webhook_url
    if not url:
        raise TwilioError(
            400, "EMULATOR_ORCHESTRATOR_WEBHOOK_URL is not set and no webhook_url was given"
        )
    conversation = _customer_conversation(state, inbound, settings)
    ours = inbound.to or settings.twilio_phone_number
    customer = participant_for(conversation, "CUSTOMER", inbound.author, inbound.channel)
    agent = participant_for(conversation, "AI_AGENT", ours, inbound.channel)
    if conversation.status == "INACTIVE":
        conversation.status = "ACTIVE"
    now = utc_now()
    conversation.updated_at = now
    communication_id = new_id("comm")
    conversation.communications.append(
        OrchestratorCommunication(inbound.author, inbound.text, now, communication_id)
    )
    classic = state.conversations.get(conversation.channel_id)
    if classic is not None and classic.handed_off:
        add_message(classic, inbound.author, inbound.text)
        return {
            "message_sid": None,
            "conversation_id": conversation.id,
            "status_code": None,
            "idempotency_token": None,
            "error": None,
            "handed_off": True,
        }
    author: dict[str, Any] = {
        "address": inbound.author,
        "channel": inbound.channel,
        "participantId": customer.id,
    }
    if inbound.profile_id:
        author["profileId"] = inbound.profile_id
    event = {
        "eventType": "COMMUNICATION_CREATED",
        "data": {
            "id": communication_id,
            "conversationId": conversation.id,
            "accountId": settings.twilio_account_sid,
            "author": author,
            "content": {"type": "TEXT", "text": inbound.text},
            "recipients": [
                {"address": ours, "channel": inbound.channel, "participantId": agent.id}
            ],
            "channelId": conversation.channel_id,
            "createdAt": stamp(now),
            "updatedAt": stamp(now),
        },
    }
    delivery = await webhooks.send_json("orchestrator", communication_id, url, event)
    return {
        "message_sid": communication_id,
        "conversation_id": conversation.id,
        "status_code": delivery.status_code,
        "idempotency_token": delivery.idempotency_token,
        "error": delivery.error,
        "handed_off": False,
    }
