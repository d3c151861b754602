"""relay_gateway configuration."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from libs.platform.settings import (
    FLOW_SID_PATTERN,
    WORKFLOW_SID_PATTERN,
    JsonObject,
    PublicWebhookSettings,
    parse_json_object,
)


class RelayGatewaySettings(PublicWebhookSettings):
    twilio_studio_handoff_flow_sid: str = Field(pattern=FLOW_SID_PATTERN)
    """The Studio flow whose webhook is the ``<Connect action>`` (voice handoff)."""
    baton_voice_action: Literal["studio", "gateway"] = "studio"
    """``<Connect action>``: the Studio flow webhook (TAC's default) or ``/voice/action`` here."""
    baton_taskrouter_workflow_sid: str | None = Field(default=None, pattern=WORKFLOW_SID_PATTERN)
    """With the action on the gateway: enqueue handed-off calls to this TaskRouter workflow,
    with the HandoffData attributes as task attributes (else the call goes to the Studio flow)."""
    baton_welcome_greeting: str = "Hello! How can I assist you today?"
    """``welcomeGreeting`` spoken when the call connects."""
    baton_voice_language: str = "en-US"
    """``language`` of speech recognition and text-to-speech."""
    baton_tts_voice: str | None = None
    """``voice`` of text-to-speech (provider default when unset)."""
    baton_voice_interruptible: Literal["none", "dtmf", "speech", "any"] = "any"
    """``interruptible``: what lets the caller cut the agent off."""
    baton_dtmf_detection: bool = True
    """``dtmfDetection``: key presses reach the agent."""
    baton_partial_prompts: bool = False
    """``partialPrompts``: Twilio also sends interim transcripts (the agent acts on final ones)."""
    baton_relay_parameters: JsonObject = Field(default_factory=dict)
    """Extra ``<Parameter>``s for ``setup.customParameters`` (JSON object of strings)."""
    baton_drain_deadline_seconds: float = Field(default=900.0, ge=0)
    """On SIGTERM or ``/internal/drain``: how long live calls may continue before exit."""
    baton_voice_end_wait_seconds: float = Field(default=60.0, gt=0)
    """How long an ``end`` waits for the goodbye's final ``last:true`` frame."""

    @field_validator("baton_relay_parameters", mode="before")
    @classmethod
    def _parse_parameters(cls, value: Any) -> dict[str, Any]:
        return parse_json_object(value)
