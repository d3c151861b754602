"""messaging_gateway configuration."""

from __future__ import annotations

from pydantic import Field

from libs.platform.settings import PublicWebhookSettings, TwilioApiKeySettings

TWILIO_WEBHOOK_TIMEOUT_SECONDS = 15.0
"""Twilio gives up on a webhook after 15 s (and then calls the Fallback URL, if set)."""


class MessagingGatewaySettings(PublicWebhookSettings, TwilioApiKeySettings):
    baton_bot_identity: str = Field(default="baton-agent", min_length=1)
    """``Author`` of the bot's messages in Conversations (classic)."""
    baton_reply_max_age_seconds: float = Field(default=600.0, ge=1)
    """How long a reply is retried through Twilio errors and outages before it is given up
    and dead-lettered with the reason (``baton dlq`` lists and replays it)."""
    baton_reply_first_retry_seconds: float = Field(default=1.0, gt=0)
    """Wait before the second try of a reply; doubled each time, with jitter."""
    baton_reply_max_retry_seconds: float = Field(default=60.0, gt=0)
    """Longest wait between two tries of a reply (a longer ``Retry-After`` still wins)."""
    baton_reply_concurrency: int = Field(default=64, ge=1, le=4096)
    """Replies one gateway sends to Twilio at the same time, across conversations; a
    conversation's own replies still go out one at a time, in order."""
    baton_reply_timeout_seconds: float = Field(default=10.0, gt=0)
    """Timeout of one Twilio request that sends (or looks up) a reply."""
    baton_webhook_store_seconds: float = Field(
        default=10.0, gt=0, lt=TWILIO_WEBHOOK_TIMEOUT_SECONDS
    )
    """How long a webhook waits for NATS to store its turn (through a NATS restart) before it
    answers 503; below Twilio's 15 s webhook timeout. A 503 means the turn was not stored."""
