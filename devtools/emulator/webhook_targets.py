"""Who hears ``onMessageAdded`` for a conversation: its scoped webhooks, else the service's URL.

Inbound auto-creation attaches a scoped ``onMessageAdded`` webhook to the bot's URL, as an
Address Configuration with ``AutoCreation.Type=webhook`` does. SendToFlex marks a conversation
"handed-off" and deletes its ``onMessageAdded`` webhooks, so the bot no longer hears the
customer and nothing is delivered twice; handing it back attaches one again.
"""

from __future__ import annotations

from typing import Any

from emulator.settings import EmulatorSettings
from emulator.store import Conversation, ScopedWebhook
from emulator.wire import iso, new_sid, utc_now

MESSAGE_ADDED = "onMessageAdded"
MAX_SCOPED_WEBHOOKS = 5


def new_webhook(
    target: str,
    *,
    url: str | None = None,
    method: str = "POST",
    filters: list[str] | None = None,
    triggers: list[str] | None = None,
    flow_sid: str | None = None,
) -> ScopedWebhook:
    return ScopedWebhook(
        sid=new_sid("WH"),
        target=target,
        url=url,
        method=method.upper(),
        filters=list(filters or []),
        triggers=list(triggers or []),
        flow_sid=flow_sid,
        date_created=utc_now(),
    )


def hears_message_added(webhook: ScopedWebhook) -> bool:
    return MESSAGE_ADDED in webhook.filters


def attach_bot_webhook(conversation: Conversation, url: str) -> ScopedWebhook:
    """The bot's ``onMessageAdded`` webhook, attached once per URL."""
    for webhook in conversation.webhooks:
        if webhook.target == "webhook" and webhook.url == url and hears_message_added(webhook):
            return webhook
    webhook = new_webhook("webhook", url=url, filters=[MESSAGE_ADDED])
    conversation.webhooks.append(webhook)
    return webhook


def remove_message_added(conversation: Conversation) -> list[str]:
    """Delete every ``onMessageAdded`` webhook; returns the SIDs removed."""
    removed = [w.sid for w in conversation.webhooks if hears_message_added(w)]
    conversation.webhooks = [w for w in conversation.webhooks if not hears_message_added(w)]
    return removed


def message_added_urls(
    conversation: Conversation, settings: EmulatorSettings, override: str | None = None
) -> list[str]:
    """The URLs one ``onMessageAdded`` goes to; none for a handed-off conversation."""
    scoped = [
        w.url
        for w in conversation.webhooks
        if w.target == "webhook" and w.url and hears_message_added(w)
    ]
    if conversation.handed_off:
        return scoped
    if override:
        return [override]
    if scoped:
        return scoped
    service_url = settings.emulator_conversations_webhook_url
    return [service_url] if service_url else []


def webhook_json(
    settings: EmulatorSettings, conversation: Conversation, webhook: ScopedWebhook
) -> dict[str, Any]:
    configuration: dict[str, Any] = {"filters": webhook.filters}
    if webhook.url:
        configuration.update({"url": webhook.url, "method": webhook.method})
    if webhook.triggers:
        configuration["triggers"] = webhook.triggers
    if webhook.flow_sid:
        configuration["flow_sid"] = webhook.flow_sid
    base = f"{settings.public_url}/v1/Conversations/{conversation.sid}"
    return {
        "sid": webhook.sid,
        "account_sid": settings.twilio_account_sid,
        "conversation_sid": conversation.sid,
        "target": webhook.target,
        "url": f"{base}/Webhooks/{webhook.sid}",
        "configuration": configuration,
        "date_created": iso(webhook.date_created),
        "date_updated": iso(webhook.date_created),
    }
