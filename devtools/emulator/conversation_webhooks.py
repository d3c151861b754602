"""Conversation-scoped webhooks: ``/v1/Conversations/{CH}/Webhooks``.

At most five per conversation; ``webhook`` needs ``Configuration.Url``, ``studio`` needs
``Configuration.FlowSid``. Repeated form fields (``Configuration.Filters``) are kept whole.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from emulator.auth import require_twilio_auth
from emulator.conversations import find_conversation
from emulator.dependencies import Settings, State
from emulator.errors import TwilioError, missing, not_found
from emulator.store import Conversation, ScopedWebhook
from emulator.webhook_targets import MAX_SCOPED_WEBHOOKS, new_webhook, webhook_json
from emulator.wire import meta_page

TARGETS = ("webhook", "studio", "trigger")

router = APIRouter(prefix="/v1/Conversations", dependencies=[Depends(require_twilio_auth)])


def _webhook(conversation: Conversation, request: Request, sid: str) -> ScopedWebhook:
    for webhook in conversation.webhooks:
        if webhook.sid == sid:
            return webhook
    raise not_found(request.url.path)


async def _multi_form(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    form = await request.form()
    single = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    lists = {
        name: [v for v in form.getlist(name) if isinstance(v, str)]
        for name in ("Configuration.Filters", "Configuration.Triggers")
    }
    return single, lists


services_router = APIRouter(prefix="/v1/Services", dependencies=[Depends(require_twilio_auth)])


@services_router.post("/{service_sid}/Conversations/{conversation_sid}/Webhooks", status_code=201)
async def create_service_webhook(
    service_sid: str, conversation_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    """The same, addressed through the conversation's service (``/v1/Services/{IS}/…``)."""
    conversation = find_conversation(state, request, conversation_sid)
    if conversation.chat_service_sid != service_sid:
        raise not_found(request.url.path)
    return await create_webhook(conversation_sid, request, state, settings)


@router.post("/{conversation_sid}/Webhooks", status_code=201)
async def create_webhook(
    conversation_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    conversation = find_conversation(state, request, conversation_sid)
    form, lists = await _multi_form(request)
    target = form.get("Target", "")
    if not target:
        raise missing("Target")
    if target not in TARGETS:
        raise TwilioError(400, f"Invalid Target '{target}': use webhook, studio or trigger")
    if target in ("webhook", "trigger") and not form.get("Configuration.Url"):
        raise missing("Configuration.Url")
    if target == "studio" and not form.get("Configuration.FlowSid"):
        raise missing("Configuration.FlowSid")
    if len(conversation.webhooks) >= MAX_SCOPED_WEBHOOKS:
        raise TwilioError(400, "A conversation may have at most 5 scoped webhooks")
    webhook = new_webhook(
        target,
        url=form.get("Configuration.Url") or None,
        method=form.get("Configuration.Method") or "POST",
        filters=lists["Configuration.Filters"],
        triggers=lists["Configuration.Triggers"],
        flow_sid=form.get("Configuration.FlowSid") or None,
    )
    conversation.webhooks.append(webhook)
    return webhook_json(settings, conversation, webhook)


@router.get("/{conversation_sid}/Webhooks")
async def list_webhooks(
    conversation_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    conversation = find_conversation(state, request, conversation_sid)
    records = [webhook_json(settings, conversation, w) for w in conversation.webhooks]
    return meta_page(request, settings.public_url, "webhooks", records)


@router.get("/{conversation_sid}/Webhooks/{webhook_sid}")
async def fetch_webhook(
    conversation_sid: str, webhook_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    conversation = find_conversation(state, request, conversation_sid)
    return webhook_json(settings, conversation, _webhook(conversation, request, webhook_sid))


@router.post("/{conversation_sid}/Webhooks/{webhook_sid}")
async def update_webhook(
    conversation_sid: str, webhook_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    conversation = find_conversation(state, request, conversation_sid)
    webhook = _webhook(conversation, request, webhook_sid)
    form, lists = await _multi_form(request)
    if form.get("Configuration.Url"):
        webhook.url = form["Configuration.Url"]
    if form.get("Configuration.Method"):
        webhook.method = form["Configuration.Method"].upper()
    if form.get("Configuration.FlowSid"):
        webhook.flow_sid = form["Configuration.FlowSid"]
    if lists["Configuration.Filters"]:
        webhook.filters = lists["Configuration.Filters"]
    if lists["Configuration.Triggers"]:
        webhook.triggers = lists["Configuration.Triggers"]
    return webhook_json(settings, conversation, webhook)


@router.delete("/{conversation_sid}/Webhooks/{webhook_sid}", status_code=204)
async def delete_webhook(
    conversation_sid: str, webhook_sid: str, request: Request, state: State
) -> Response:
    conversation = find_conversation(state, request, conversation_sid)
    webhook = _webhook(conversation, request, webhook_sid)
    conversation.webhooks.remove(webhook)
    return Response(status_code=204)
