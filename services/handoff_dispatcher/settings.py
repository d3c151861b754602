"""handoff_dispatcher configuration."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from libs.platform.settings import (
    FLOW_SID_PATTERN,
    JsonObject,
    TwilioApiKeySettings,
    parse_json_object,
)


class HandoffDispatcherSettings(TwilioApiKeySettings):
    twilio_studio_handoff_flow_sid: str = Field(pattern=FLOW_SID_PATTERN)
    """The Studio flow (``FW…``) built from the "Agent Handoff" template."""
    twilio_memory_store_id: str = ""
    """Overrides the ``storeId`` in HandoffData (normally the configuration's memory store)."""
    baton_handoff_attributes: JsonObject = Field(default_factory=dict)
    """Routing attributes for every handoff (JSON object), e.g. ``{"department": "support"}``."""
    baton_studio_max_attempts: int = Field(default=4, ge=1, le=20)
    """Studio POSTs per handoff before it is reported as failed (429, 5xx, timeouts)."""
    baton_studio_timeout_seconds: float = Field(default=10.0, gt=0)
    """Timeout of one Studio request."""
    baton_studio_backoff_seconds: float = Field(default=0.5, ge=0)
    """First retry delay, doubled each time; ``Retry-After`` wins when Studio sends it."""
    baton_studio_max_retry_after_seconds: float = Field(default=30.0, ge=0)
    """Cap on a ``Retry-After`` wait."""
    baton_dispatcher_heartbeat_seconds: float = Field(default=1.0, gt=0, le=10)
    """How often a dispatcher tells JetStream it is still delivering a handoff; after three
    silent heartbeats (the ack wait) another replica takes a crashed dispatcher's handoff."""
    baton_voice_end_wait_seconds: float = Field(default=60.0, gt=0)
    """How long the call's gateway may take to confirm ``end`` (the goodbye is still playing)."""
    baton_handoff_failed_message: str = Field(
        default="I'm sorry, I couldn't reach a member of our team just now. "
        "I'm still here and happy to help in the meantime.",
        min_length=1,
    )
    """What the customer is told when a handoff could not be delivered."""

    @field_validator("baton_handoff_attributes", mode="before")
    @classmethod
    def _parse_attributes(cls, value: Any) -> dict[str, Any]:
        return parse_json_object(value)
