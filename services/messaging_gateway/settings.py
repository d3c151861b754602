"""messaging_gateway configuration."""

from __future__ import annotations

from pydantic import Field

from libs.platform.settings import PublicWebhookSettings, TwilioApiKeySettings


class MessagingGatewaySettings(PublicWebhookSettings, TwilioApiKeySettings):
    baton_bot_identity: str = Field(default="baton-agent", min_length=1)
    """``Author`` of the bot's messages in Conversations (classic)."""
    baton_reply_max_deliver: int = Field(default=5, ge=1)
    """Tries to send one reply through Twilio before it goes to the dead-letter stream."""
