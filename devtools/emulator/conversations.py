"""Conversations (classic): conversations, participants, messages, and a customer writing in.

Rules kept from Twilio because apps trip over them: an SMS binding (address + proxy address)
belongs to one non-closed conversation at a time (409/50416); ``closed`` is terminal; timers
move a quiet conversation to ``inactive``/``closed``; REST-created messages fire
``onMessageAdded`` only with ``X-Twilio-Webhook-Enabled: true``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from emulator.auth import require_twilio_auth
from emulator.dependencies import Settings, State, Webhooks
from emulator.errors import CONFLICT, TwilioError, missing, not_found
from emulator.settings import EmulatorSettings
from emulator.store import (
    Conversation,
    ConversationMessage,
    EmulatorState,
    OutboxEntry,
    Participant,
    WebhookDelivery,
)
from emulator.webhook_targets import attach_bot_webhook, message_added_urls
from emulator.webhooks import WebhookSender
from emulator.wire import form_fields, is_sid, iso, meta_page, new_sid, utc_now

STATES = ("active", "inactive", "closed")
BODY_LIMIT = 1600
BINDING_EXISTS = 50416

router = APIRouter(prefix="/v1/Conversations", dependencies=[Depends(require_twilio_auth)])
admin_router = APIRouter(prefix="/_emulator/conversations", tags=["emulator admin"])

_DURATION = re.compile(
    r"P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)


def parse_duration(raw: str, name: str) -> timedelta:
    """ISO 8601 durations as Twilio's timers take them (``PT5M``, ``P1D``)."""
    match = _DURATION.fullmatch(raw)
    if not match or raw in {"P", "PT"}:
        raise TwilioError(400, f"{name} must be an ISO 8601 duration such as PT10M")
    parts = {key: int(value) for key, value in match.groupdict().items() if value}
    return timedelta(**parts)


def conversation_url(settings: EmulatorSettings, sid: str) -> str:
    return f"{settings.public_url}/v1/Conversations/{sid}"


def conversation_json(settings: EmulatorSettings, conversation: Conversation) -> dict[str, Any]:
    url = conversation_url(settings, conversation.sid)
    timers: dict[str, str | None] = {}
    if conversation.date_inactive:
        timers["date_inactive"] = iso(conversation.date_inactive)
    if conversation.date_closed:
        timers["date_closed"] = iso(conversation.date_closed)
    return {
        "account_sid": settings.twilio_account_sid,
        "chat_service_sid": conversation.chat_service_sid,
        "messaging_service_sid": conversation.messaging_service_sid,
        "sid": conversation.sid,
        "friendly_name": conversation.friendly_name,
        "unique_name": conversation.unique_name,
        "attributes": conversation.attributes,
        "state": conversation.state,
        "date_created": iso(conversation.date_created),
        "date_updated": iso(conversation.date_updated),
        "timers": timers,
        "url": url,
        "links": {
            "participants": f"{url}/Participants",
            "messages": f"{url}/Messages",
            "webhooks": f"{url}/Webhooks",
        },
        "bindings": None,
    }


def participant_json(
    settings: EmulatorSettings, conversation: Conversation, participant: Participant
) -> dict[str, Any]:
    binding = None
    if participant.address:
        binding = {
            "type": "whatsapp" if participant.address.startswith("whatsapp:") else "sms",
            "address": participant.address,
            "proxy_address": participant.proxy_address,
        }
    return {
        "account_sid": settings.twilio_account_sid,
        "conversation_sid": conversation.sid,
        "sid": participant.sid,
        "identity": participant.identity,
        "attributes": participant.attributes,
        "messaging_binding": binding,
        "role_sid": None,
        "date_created": iso(participant.date_created),
        "date_updated": iso(participant.date_created),
        "url": f"{conversation_url(settings, conversation.sid)}/Participants/{participant.sid}",
        "last_read_message_index": None,
        "last_read_timestamp": None,
    }


def message_json(
    settings: EmulatorSettings, conversation: Conversation, message: ConversationMessage
) -> dict[str, Any]:
    url = f"{conversation_url(settings, conversation.sid)}/Messages/{message.sid}"
    return {
        "account_sid": settings.twilio_account_sid,
        "conversation_sid": conversation.sid,
        "sid": message.sid,
        "index": message.index,
        "author": message.author,
        "body": message.body,
        "media": None,
        "attributes": message.attributes,
        "participant_sid": message.participant_sid,
        "date_created": iso(message.date_created),
        "date_updated": iso(message.date_created),
        "delivery": None,
        "content_sid": None,
        "url": url,
        "links": {
            "delivery_receipts": f"{url}/Receipts",
            "channel_metadata": f"{url}/ChannelMetadata",
        },
    }


def apply_timers(conversation: Conversation, now: datetime) -> None:
    """Move a quiet conversation along its timers; Twilio does this on its own clock."""
    if conversation.state == "closed":
        return
    if conversation.date_closed and now >= conversation.date_closed:
        conversation.state = "closed"
        conversation.date_updated = conversation.date_closed
    elif (
        conversation.state == "active"
        and conversation.date_inactive
        and now >= conversation.date_inactive
    ):
        conversation.state = "inactive"
        conversation.date_updated = conversation.date_inactive


def restart_timers(conversation: Conversation, now: datetime) -> None:
    conversation.date_inactive = (
        now + conversation.inactive_after if conversation.inactive_after else None
    )
    conversation.date_closed = (
        now + conversation.closed_after if conversation.closed_after else None
    )


def new_conversation(
    state: EmulatorState, sid: str | None = None, friendly_name: str | None = None
) -> Conversation:
    now = utc_now()
    conversation = Conversation(
        sid=sid or new_sid("CH"),
        chat_service_sid=new_sid("IS"),
        messaging_service_sid=new_sid("MG"),
        friendly_name=friendly_name,
        unique_name=None,
        attributes="{}",
        state="active",
        date_created=now,
        date_updated=now,
    )
    state.conversations[conversation.sid] = conversation
    return conversation


def find_conversation(state: EmulatorState, request: Request, sid: str) -> Conversation:
    conversation = state.conversations.get(sid)
    if conversation is None:
        raise not_found(request.url.path)
    apply_timers(conversation, utc_now())
    return conversation


def bound_conversation(
    state: EmulatorState, address: str, proxy: str | None
) -> Conversation | None:
    """The one non-closed conversation that holds this SMS binding, if any."""
    now = utc_now()
    for conversation in state.conversations.values():
        apply_timers(conversation, now)
        if conversation.state == "closed":
            continue
        for participant in conversation.participants:
            if participant.address == address and participant.proxy_address == proxy:
                return conversation
    return None


def add_participant(
    state: EmulatorState,
    conversation: Conversation,
    *,
    identity: str | None = None,
    address: str | None = None,
    proxy_address: str | None = None,
    attributes: str = "{}",
) -> Participant:
    if address:
        holder = bound_conversation(state, address, proxy_address)
        if holder is not None:
            raise TwilioError(
                409,
                "A binding for this participant and proxy address already exists in "
                f"Conversation {holder.sid}",
                BINDING_EXISTS,
            )
    if identity and any(p.identity == identity for p in conversation.participants):
        raise TwilioError(409, f"Participant already exists with identity {identity}", CONFLICT)
    participant = Participant(
        sid=new_sid("MB"),
        identity=identity,
        address=address,
        proxy_address=proxy_address,
        attributes=attributes,
        date_created=utc_now(),
    )
    conversation.participants.append(participant)
    return participant


def author_participant(conversation: Conversation, author: str) -> Participant | None:
    for participant in conversation.participants:
        if author in (participant.identity, participant.address):
            return participant
    return None


def add_message(
    conversation: Conversation, author: str, body: str, attributes: str = "{}"
) -> ConversationMessage:
    if conversation.state == "closed":
        raise TwilioError(409, f"Conversation {conversation.sid} is closed", CONFLICT)
    now = utc_now()
    participant = author_participant(conversation, author)
    message = ConversationMessage(
        sid=new_sid("IM"),
        index=len(conversation.messages),
        author=author,
        body=body,
        attributes=attributes,
        participant_sid=participant.sid if participant else None,
        date_created=now,
    )
    conversation.messages.append(message)
    conversation.date_updated = now
    if conversation.state == "inactive":
        conversation.state = "active"
    restart_timers(conversation, now)
    return message


def deliver_to_customers(
    state: EmulatorState, conversation: Conversation, message: ConversationMessage
) -> None:
    """Every bound address except the author's receives the message (one outbox entry each).

    A conversation with no bound address still records one entry with no ``to``: the message is
    in the customer's chat window either way, and silence tests must see it.
    """
    author = author_participant(conversation, message.author)
    if author is not None and author.address:
        return
    recipients: list[str | None] = [
        participant.address
        for participant in conversation.participants
        if participant.address and participant.address != message.author
    ]
    for recipient in recipients or [None]:
        state.outbox.append(
            OutboxEntry(
                "conversations",
                recipient,
                message.author,
                message.body,
                conversation.sid,
                message.date_created,
            )
        )


def message_added_params(
    settings: EmulatorSettings,
    conversation: Conversation,
    message: ConversationMessage,
    source: str,
) -> dict[str, str]:
    """The ``onMessageAdded`` post-event webhook's form parameters."""
    params = {
        "AccountSid": settings.twilio_account_sid,
        "EventType": "onMessageAdded",
        "Source": source,
        "ConversationSid": conversation.sid,
        "MessageSid": message.sid,
        "MessagingServiceSid": conversation.messaging_service_sid,
        "ChatServiceSid": conversation.chat_service_sid,
        "Index": str(message.index),
        "DateCreated": message.date_created.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{message.date_created.microsecond // 1000:03d}Z",
        "Body": message.body,
        "Author": message.author,
        "Attributes": message.attributes,
        "RetryCount": "0",
        "WebhookType": "webhook",
    }
    if message.participant_sid:
        params["ParticipantSid"] = message.participant_sid
    if source == "SDK":
        params["ClientIdentity"] = message.author
    return params


def source_of(author: str) -> str:
    if author.startswith("whatsapp:"):
        return "WHATSAPP"
    return "SMS" if author.startswith("+") else "SDK"


async def send_message_added(
    webhooks: WebhookSender,
    url: str,
    settings: EmulatorSettings,
    conversation: Conversation,
    message: ConversationMessage,
    source: str,
) -> WebhookDelivery:
    params = message_added_params(settings, conversation, message, source)
    return await webhooks.send_form("conversations", message.sid, url, params)


def _attributes(raw: str | None) -> str:
    if raw is None or raw == "":
        return "{}"
    try:
        json.loads(raw)
    except ValueError as error:
        raise TwilioError(400, "Attributes must be a valid JSON string") from error
    return raw


def _update_timers(conversation: Conversation, form: dict[str, str]) -> None:
    if "Timers.Inactive" in form:
        conversation.inactive_after = parse_duration(form["Timers.Inactive"], "Timers.Inactive")
    if "Timers.Closed" in form:
        conversation.closed_after = parse_duration(form["Timers.Closed"], "Timers.Closed")
    if "Timers.Inactive" in form or "Timers.Closed" in form:
        restart_timers(conversation, utc_now())


def _set_state(conversation: Conversation, new_state: str) -> None:
    if new_state not in STATES:
        raise TwilioError(400, f"Invalid State '{new_state}': use active, inactive or closed")
    if conversation.state == "closed" and new_state != "closed":
        raise TwilioError(409, f"Conversation {conversation.sid} is closed", CONFLICT)
    conversation.state = new_state


@router.post("", status_code=201)
async def create_conversation(request: Request, state: State, settings: Settings) -> dict[str, Any]:
    form = await form_fields(request)
    conversation = new_conversation(state, friendly_name=form.get("FriendlyName"))
    conversation.unique_name = form.get("UniqueName")
    conversation.attributes = _attributes(form.get("Attributes"))
    if form.get("MessagingServiceSid"):
        conversation.messaging_service_sid = form["MessagingServiceSid"]
    if form.get("State"):
        _set_state(conversation, form["State"])
    _update_timers(conversation, form)
    return conversation_json(settings, conversation)


@router.get("")
async def list_conversations(request: Request, state: State, settings: Settings) -> dict[str, Any]:
    now = utc_now()
    for conversation in state.conversations.values():
        apply_timers(conversation, now)
    wanted = request.query_params.get("State")
    records = [
        conversation_json(settings, conversation)
        for conversation in reversed(state.conversations.values())
        if not wanted or conversation.state == wanted
    ]
    return meta_page(request, settings.public_url, "conversations", records)


@router.get("/{conversation_sid}")
async def fetch_conversation(
    conversation_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    return conversation_json(settings, find_conversation(state, request, conversation_sid))


@router.post("/{conversation_sid}")
async def update_conversation(
    conversation_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    conversation = find_conversation(state, request, conversation_sid)
    form = await form_fields(request)
    if "FriendlyName" in form:
        conversation.friendly_name = form["FriendlyName"]
    if "UniqueName" in form:
        conversation.unique_name = form["UniqueName"]
    if "Attributes" in form:
        conversation.attributes = _attributes(form["Attributes"])
    if form.get("State"):
        _set_state(conversation, form["State"])
    _update_timers(conversation, form)
    conversation.date_updated = utc_now()
    return conversation_json(settings, conversation)


@router.delete("/{conversation_sid}", status_code=204)
async def delete_conversation(conversation_sid: str, request: Request, state: State) -> Response:
    conversation = find_conversation(state, request, conversation_sid)
    del state.conversations[conversation.sid]
    return Response(status_code=204)


@router.post("/{conversation_sid}/Messages", status_code=201)
async def create_message(
    conversation_sid: str,
    request: Request,
    state: State,
    settings: Settings,
    webhooks: Webhooks,
) -> dict[str, Any]:
    conversation = find_conversation(state, request, conversation_sid)
    form = await form_fields(request)
    body = form.get("Body", "")
    if not body and not form.get("MediaSid") and not form.get("ContentSid"):
        raise missing("Body")
    if len(body) > BODY_LIMIT:
        raise TwilioError(400, "Body must not exceed 1600 characters")
    message = add_message(
        conversation, form.get("Author") or "system", body, _attributes(form.get("Attributes"))
    )
    deliver_to_customers(state, conversation, message)
    if request.headers.get("x-twilio-webhook-enabled", "").lower() == "true":
        for url in message_added_urls(conversation, settings):
            webhooks.send_later(
                send_message_added(webhooks, url, settings, conversation, message, "API")
            )
    return message_json(settings, conversation, message)


@router.get("/{conversation_sid}/Messages")
async def list_messages(
    conversation_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    conversation = find_conversation(state, request, conversation_sid)
    records = [message_json(settings, conversation, m) for m in conversation.messages]
    if request.query_params.get("Order") == "desc":
        records.reverse()
    return meta_page(request, settings.public_url, "messages", records)


@router.get("/{conversation_sid}/Messages/{message_sid}")
async def fetch_message(
    conversation_sid: str, message_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    conversation = find_conversation(state, request, conversation_sid)
    for message in conversation.messages:
        if message.sid == message_sid:
            return message_json(settings, conversation, message)
    raise not_found(request.url.path)


@router.post("/{conversation_sid}/Participants", status_code=201)
async def create_participant(
    conversation_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    conversation = find_conversation(state, request, conversation_sid)
    form = await form_fields(request)
    identity = form.get("Identity") or None
    address = form.get("MessagingBinding.Address") or None
    if not identity and not address:
        raise missing("Identity or MessagingBinding.Address")
    participant = add_participant(
        state,
        conversation,
        identity=identity,
        address=address,
        proxy_address=form.get("MessagingBinding.ProxyAddress") or None,
        attributes=_attributes(form.get("Attributes")),
    )
    return participant_json(settings, conversation, participant)


@router.get("/{conversation_sid}/Participants")
async def list_participants(
    conversation_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    conversation = find_conversation(state, request, conversation_sid)
    records = [participant_json(settings, conversation, p) for p in conversation.participants]
    return meta_page(request, settings.public_url, "participants", records)


@router.get("/{conversation_sid}/Participants/{participant_sid}")
async def fetch_participant(
    conversation_sid: str,
    participant_sid: str,
    request: Request,
    state: State,
    settings: Settings,
) -> dict[str, Any]:
    conversation = find_conversation(state, request, conversation_sid)
    for participant in conversation.participants:
        if participant.sid == participant_sid:
            return participant_json(settings, conversation, participant)
    raise not_found(request.url.path)


class InboundConversationMessage(BaseModel):
    conversation_sid: str | None = None
    author: str = Field(min_length=1)
    body: str = ""
    attributes: dict[str, Any] = Field(default_factory=dict)
    proxy_address: str | None = None
    """Our address the customer writes to; defaults to ``TWILIO_PHONE_NUMBER``."""
    webhook_url: str | None = None
    """Overrides ``EMULATOR_CONVERSATIONS_WEBHOOK_URL`` for this message."""


def _customer_conversation(
    state: EmulatorState, inbound: InboundConversationMessage, proxy: str
) -> tuple[Conversation, bool]:
    """Inbound auto-creation: the binding's open conversation, or a new one (``True``)."""
    if inbound.conversation_sid:
        existing = state.conversations.get(inbound.conversation_sid)
        if existing is not None:
            apply_timers(existing, utc_now())
            return existing, False
        if not is_sid(inbound.conversation_sid, "CH"):
            raise TwilioError(400, "conversation_sid must be a CH… SID")
        return new_conversation(state, sid=inbound.conversation_sid), True
    holder = bound_conversation(state, inbound.author, proxy)
    return (holder, False) if holder else (new_conversation(state), True)


@admin_router.post("/message")
async def customer_writes(
    inbound: InboundConversationMessage, state: State, settings: Settings, webhooks: Webhooks
) -> dict[str, Any]:
    """A customer's message reaches a conversation: Twilio posts a signed ``onMessageAdded``
    to each of its webhooks — none once the conversation is handed off to a human."""
    url = inbound.webhook_url or settings.emulator_conversations_webhook_url
    if not url:
        raise TwilioError(
            400, "EMULATOR_CONVERSATIONS_WEBHOOK_URL is not set and no webhook_url was given"
        )
    proxy = inbound.proxy_address or settings.twilio_phone_number
    conversation, created = _customer_conversation(state, inbound, proxy)
    if created:
        attach_bot_webhook(conversation, url)
    if author_participant(conversation, inbound.author) is None:
        is_address = source_of(inbound.author) != "SDK"
        add_participant(
            state,
            conversation,
            identity=None if is_address else inbound.author,
            address=inbound.author if is_address else None,
            proxy_address=proxy if is_address else None,
        )
    message = add_message(
        conversation, inbound.author, inbound.body, json.dumps(inbound.attributes)
    )
    deliveries = [
        await send_message_added(
            webhooks, target, settings, conversation, message, source_of(inbound.author)
        )
        for target in message_added_urls(conversation, settings, inbound.webhook_url)
    ]
    first = deliveries[0] if deliveries else None
    return {
        "message_sid": message.sid,
        "conversation_sid": conversation.sid,
        "index": message.index,
        "status_code": first.status_code if first else None,
        "idempotency_token": first.idempotency_token if first else None,
        "error": first.error if first else None,
        "handed_off": conversation.handed_off,
    }
