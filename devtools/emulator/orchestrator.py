"""Conversation Orchestrator (JSON API v2): conversation status, sending, and inbound events.

Conversations are created by ``POST /v2/Conversations``, by a customer writing in (grouped by
participant addresses; with the configuration's Conversations (classic) bridge, a ``CH…`` is
behind each digital one, named by the participants' ``channelId``) and by a call whose
``<ConversationRelay>`` names the configuration (``channelId`` is the ``CallSid``); any other
id is a 404, as on Twilio. Customers get their Memory profile (``profileId``). ``CLOSED`` is
terminal. A conversation whose ``statusCallbacks`` were cleared is not reported to the app.
A customer's message reaches the app as a signed
JSON webhook ``{"eventType": "COMMUNICATION_CREATED", "data": {...}}`` with ``bodySHA256`` —
unless the Conversations (classic) conversation behind it (``channelId``) is handed off to a
human agent, who then reads it there instead.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from emulator.auth import require_twilio_auth
from emulator.conversations import add_message, add_participant
from emulator.conversations import new_conversation as open_classic
from emulator.dependencies import Settings, State, Webhooks
from emulator.errors import CONFLICT, TwilioError, not_found
from emulator.memory import resolve_profile
from emulator.settings import EmulatorSettings
from emulator.store import (
    Conversation,
    EmulatorState,
    OrchestratorCommunication,
    OrchestratorConversation,
    OrchestratorParticipant,
    OutboxEntry,
)
from emulator.wire import json_object, utc_now

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


def not_found_conversation(conversation_id: str) -> TwilioError:
    return TwilioError(
        404, f"The requested resource /Conversations/{conversation_id} was not found", 20404
    )


def new_conversation(
    state: EmulatorState, conversation_id: str | None = None
) -> OrchestratorConversation:
    now = utc_now()
    conversation = OrchestratorConversation(
        id=conversation_id or new_id("conv_conversation"),
        status="ACTIVE",
        name=None,
        channel_id=None,
        created_at=now,
        updated_at=now,
    )
    state.orchestrator[conversation.id] = conversation
    return conversation


def conversation_for(
    state: EmulatorState, conversation_id: str, settings: EmulatorSettings
) -> OrchestratorConversation:
    """The conversation with this id (404 as Twilio answers otherwise); timeouts applied."""
    conversation = state.orchestrator.get(conversation_id)
    if conversation is None:
        raise not_found_conversation(conversation_id)
    apply_status_timeouts(conversation, settings)
    return conversation


def participant_for(
    state: EmulatorState,
    conversation: OrchestratorConversation,
    kind: str,
    address: str,
    channel: str,
    channel_id: str | None = None,
) -> OrchestratorParticipant:
    """The participant owning ``address`` on ``channel``; a new customer gets their profile."""
    for participant in conversation.participants:
        if participant.address == address and participant.channel == channel:
            participant.channel_id = participant.channel_id or channel_id
            return participant
    profile = resolve_profile(state, address).id if kind == "CUSTOMER" else None
    participant = OrchestratorParticipant(
        new_id("comms_participant"), kind, address, channel, channel_id, profile
    )
    conversation.participants.append(participant)
    return participant


def participant_json(
    settings: EmulatorSettings, conversation: OrchestratorConversation, p: OrchestratorParticipant
) -> dict[str, Any]:
    address: dict[str, Any] = {"channel": p.channel, "address": p.address}
    if p.channel_id:
        address["channelId"] = p.channel_id
    return {
        "id": p.id,
        "conversationId": conversation.id,
        "accountId": settings.twilio_account_sid,
        "name": p.address,
        "type": p.type,
        "profileId": p.profile_id,
        "addresses": [address],
        "createdAt": stamp(conversation.created_at),
        "updatedAt": stamp(conversation.updated_at),
    }


def open_voice_conversation(
    state: EmulatorState, settings: EmulatorSettings, call_sid: str, caller: str, ours: str
) -> OrchestratorConversation:
    """``<ConversationRelay conversationConfiguration>``: the call is one conversation, its
    VOICE addresses carrying the ``CallSid`` as ``channelId``."""
    conversation = new_conversation(state)
    participant_for(state, conversation, "CUSTOMER", caller, "VOICE", call_sid)
    participant_for(state, conversation, "AI_AGENT", ours, "VOICE", call_sid)
    return conversation


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


@router.get("")
async def list_conversations(request: Request, state: State, settings: Settings) -> dict[str, Any]:
    """``?channelId=`` (a ``CallSid`` or ``CH…``) and ``?status=`` filters, as TAC polls."""
    channel_id = request.query_params.get("channelId")
    statuses = {s for value in request.query_params.getlist("status") for s in value.split(",")}
    chosen = []
    for conversation in state.orchestrator.values():
        apply_status_timeouts(conversation, settings)
        if statuses and conversation.status not in statuses:
            continue
        ids = {conversation.channel_id} | {p.channel_id for p in conversation.participants}
        if channel_id and channel_id not in ids:
            continue
        chosen.append(conversation_json(settings, conversation))
    return {"conversations": chosen, "meta": {"key": "conversations", "pageSize": len(chosen)}}


@router.post("", status_code=201)
async def create_conversation(request: Request, state: State, settings: Settings) -> dict[str, Any]:
    body = await json_object(request)
    if body.get("configurationId") != settings.twilio_conversation_configuration_id:
        raise TwilioError(400, f"Unknown configurationId {body.get('configurationId')!r}")
    conversation = new_conversation(state)
    for given in body.get("participants") or []:
        for address in given.get("addresses") or []:
            participant_for(
                state,
                conversation,
                str(given.get("type") or "UNKNOWN"),
                str(address.get("address", "")),
                str(address.get("channel", "SMS")),
                address.get("channelId"),
            )
    return conversation_json(settings, conversation)


@router.get("/{conversation_id}/Participants")
async def list_participants(
    conversation_id: str, state: State, settings: Settings
) -> dict[str, Any]:
    conversation = conversation_for(state, conversation_id, settings)
    participants = [participant_json(settings, conversation, p) for p in conversation.participants]
    return {"participants": participants, "meta": {"key": "participants"}}


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


def _party(conversation: OrchestratorConversation, party: Any) -> OrchestratorParticipant | None:
    """A ``from``/``to`` reference: ``participantId``, or ``address`` on ``channel``."""
    if not isinstance(party, dict):
        return None
    for participant in conversation.participants:
        if party.get("participantId") == participant.id or (
            party.get("address") == participant.address
            and party.get("channel", participant.channel) == participant.channel
        ):
            return participant
    return None


@router.post("/{conversation_id}/Actions")
async def create_action(
    conversation_id: str, request: Request, state: State, settings: Settings
) -> JSONResponse:
    """``SEND_MESSAGE`` delivers ``payload.content.text`` to each ``payload.to`` (202).

    The sender and recipients must be the conversation's participants, and a CHAT message needs
    ``channelSettings.channelId``, as Twilio requires; the text also lands in the bridged
    conversation, where a human agent reads it.
    """
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
    sender = _party(conversation, payload.get("from"))
    if sender is None:
        raise TwilioError(400, "payload.from is not a participant of this conversation")
    recipients = [_party(conversation, party) for party in payload.get("to") or []]
    if not recipients or None in recipients:
        raise TwilioError(400, "payload.to must name participants of this conversation")
    settings_given = payload.get("channelSettings") or {}
    if sender.channel == "CHAT" and not (
        isinstance(settings_given, dict) and settings_given.get("channelId")
    ):
        raise TwilioError(400, "CHAT messages need payload.channelSettings.channelId")
    now = utc_now()
    communication = OrchestratorCommunication(sender.address, text, now, new_id("comm"))
    conversation.communications.append(communication)
    for recipient in recipients:
        assert recipient is not None
        state.outbox.append(
            OutboxEntry(
                "orchestrator", recipient.address, sender.address, text, conversation.id, now
            )
        )
    classic = state.conversations.get(conversation.channel_id or "")
    if classic is not None and classic.state != "closed":
        add_message(classic, sender.address, text)
    conversation.updated_at = now
    action = {
        "id": new_id("action"),
        "type": "SEND_MESSAGE",
        "status": "COMPLETED",
        "conversationId": conversation.id,
    }
    return JSONResponse(action, status_code=202)


configuration_router = APIRouter(
    prefix="/v2/ControlPlane/Configurations", dependencies=[Depends(require_twilio_auth)]
)


def bridge_service_sid(settings: EmulatorSettings) -> str:
    """The Conversations (classic) service the configuration bridges (``conversationsV1Bridge``)."""
    seed = (settings.twilio_conversation_configuration_id or "").encode().hex()
    return "IS" + (seed + "0" * 32)[:32]


@configuration_router.get("/{configuration_id}")
async def fetch_configuration(
    configuration_id: str, request: Request, settings: Settings
) -> dict[str, Any]:
    if configuration_id != settings.twilio_conversation_configuration_id:
        raise not_found(request.url.path)
    configuration: dict[str, Any] = {
        "id": configuration_id,
        "displayName": "baton",
        "description": "The emulator's conversation configuration",
        "conversationGroupingType": "GROUP_BY_PARTICIPANT_ADDRESSES",
        "memoryStoreId": settings.emulator_memory_store_id,
        "channelSettings": {
            channel: {
                "statusTimeouts": {
                    "inactive": settings.emulator_orchestrator_inactive_seconds / 60,
                    "closed": settings.emulator_orchestrator_closed_seconds / 60,
                }
            }
            for channel in CHANNELS
        },
        "statusCallbacks": [],
    }
    if settings.emulator_orchestrator_bridge:
        configuration["conversationsV1Bridge"] = {"serviceId": bridge_service_sid(settings)}
    return configuration


CHANNELS = ("VOICE", "SMS", "WHATSAPP", "RCS", "CHAT")


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
    channel: Literal["SMS", "WHATSAPP", "RCS", "CHAT"] = "SMS"
    text: str = ""
    to: str | None = None
    """Our address on the channel; defaults to the account's sender for it (``TWILIO_…``)."""
    author_type: Literal["CUSTOMER", "HUMAN_AGENT"] = "CUSTOMER"
    """``HUMAN_AGENT``: a person in Flex writes into the conversation."""
    webhook_url: str | None = None
    """Overrides ``EMULATOR_ORCHESTRATOR_WEBHOOK_URL`` for this message."""


def our_address(settings: EmulatorSettings, channel: str) -> str:
    return {
        "SMS": settings.twilio_phone_number,
        "WHATSAPP": settings.twilio_whatsapp_number,
        "RCS": settings.twilio_rcs_sender_id,
        "CHAT": settings.baton_bot_identity,
    }[channel]


def _customer_conversation(
    state: EmulatorState, inbound: InboundCommunication, ours: str, settings: EmulatorSettings
) -> OrchestratorConversation:
    """Grouped by participant addresses: the pair's open conversation, else a new one."""
    if inbound.conversation_id:
        return conversation_for(state, inbound.conversation_id, settings)
    for conversation in state.orchestrator.values():
        apply_status_timeouts(conversation, settings)
        if conversation.status == "CLOSED":
            close_bridged(state, conversation)
            continue
        addresses = {(p.type, p.address, p.channel) for p in conversation.participants}
        if {
            ("CUSTOMER", inbound.author, inbound.channel),
            ("AI_AGENT", ours, inbound.channel),
        } <= addresses:
            return conversation
    return new_conversation(state)


def close_bridged(state: EmulatorState, conversation: OrchestratorConversation) -> None:
    """Orchestrator owns the lifecycle: a CLOSED conversation closes the one bridged to it."""
    classic = state.conversations.get(conversation.channel_id or "")
    if classic is not None and classic.state != "closed":
        classic.state = "closed"
        classic.date_updated = utc_now()


def bridge(
    state: EmulatorState,
    settings: EmulatorSettings,
    conversation: OrchestratorConversation,
    customer: str,
    ours: str,
    channel: str,
) -> Conversation | None:
    """The Conversations (classic) conversation behind a digital one (one-to-one), created with
    the customer's binding (or chat identity) when the configuration bridges classic."""
    if not settings.emulator_orchestrator_bridge:
        return None
    classic = state.conversations.get(conversation.channel_id or "")
    if classic is not None and classic.state != "closed":
        return classic
    classic = open_classic(state, friendly_name=f"{channel} {conversation.id}")
    classic.chat_service_sid = bridge_service_sid(settings)
    classic.origin = "orchestrator"
    if channel == "CHAT":
        add_participant(state, classic, identity=customer)
    else:
        add_participant(state, classic, address=customer, proxy_address=ours)
    conversation.channel_id = classic.sid
    for participant in conversation.participants:
        participant.channel_id = classic.sid
    return classic


def _webhook_targets(conversation: OrchestratorConversation, default: str) -> list[str]:
    """The conversation's ``statusCallbacks`` when set (``[]`` silences it), else the default."""
    callbacks = conversation.configuration.get("statusCallbacks")
    if isinstance(callbacks, list):
        return [str(c.get("url")) for c in callbacks if isinstance(c, dict) and c.get("url")]
    return [default]


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
    ours = inbound.to or our_address(settings, inbound.channel)
    conversation = _customer_conversation(state, inbound, ours, settings)
    author = participant_for(
        state, conversation, inbound.author_type, inbound.author, inbound.channel
    )
    agent = participant_for(state, conversation, "AI_AGENT", ours, inbound.channel)
    if inbound.author_type == "CUSTOMER":
        classic = bridge(state, settings, conversation, inbound.author, ours, inbound.channel)
    else:
        classic = state.conversations.get(conversation.channel_id or "")
    if conversation.status == "INACTIVE":
        conversation.status = "ACTIVE"
    now = utc_now()
    conversation.updated_at = now
    communication_id = new_id("comm")
    conversation.communications.append(
        OrchestratorCommunication(inbound.author, inbound.text, now, communication_id)
    )
    answer: dict[str, Any] = {
        "message_sid": None,
        "conversation_id": conversation.id,
        "status_code": None,
        "idempotency_token": None,
        "error": None,
        "handed_off": False,
        "answer": None,
    }
    if classic is not None:
        add_message(classic, inbound.author, inbound.text)
        if classic.handed_off:
            return {**answer, "handed_off": True}
    event = {
        "eventType": "COMMUNICATION_CREATED",
        "data": {
            "id": communication_id,
            "conversationId": conversation.id,
            "accountId": settings.twilio_account_sid,
            "author": {
                "address": inbound.author,
                "channel": inbound.channel,
                "participantId": author.id,
            },
            "content": {"type": "TEXT", "text": inbound.text},
            "recipients": [
                {"address": ours, "channel": inbound.channel, "participantId": agent.id}
            ],
            "channelId": conversation.channel_id,
            "createdAt": stamp(now),
            "updatedAt": stamp(now),
        },
    }
    answer["message_sid"] = communication_id
    for target in _webhook_targets(conversation, url):
        delivery = await webhooks.send_json("orchestrator", communication_id, target, event)
        answer.update(
            status_code=delivery.status_code,
            idempotency_token=delivery.idempotency_token,
            error=delivery.error,
            answer=delivery.response_body,
        )
    return answer
