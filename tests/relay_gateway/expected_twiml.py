"""What the relay gateway's TwiML is checked against, and its settings for those checks."""

from __future__ import annotations

from typing import Any

from services.relay_gateway.settings import RelayGatewaySettings
from tests.support.twilio_fakes import twilio_env

STUDIO_WEBHOOK = (
    "https://webhooks.twilio.com/v1/Accounts/AC11111111111111111111111111111111"
    "/Flows/FW55555555555555555555555555555555?Trigger=incomingCall"
)
"""The Agent Handoff flow's Incoming Call webhook, as TAC builds it (tac_sdk.md §1)."""
XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'


def relay_settings(**extra: Any) -> RelayGatewaySettings:
    values = twilio_env("nats://127.0.0.1:4222", public_base_url="https://voice.example.test")
    return RelayGatewaySettings(**{**values, **extra})
