"""relay_gateway configuration."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from libs.platform.settings import (
    FLOW_SID_PATTERN,
    WORKFLOW_SID_PATTERN,
    JsonObject,
    PublicWebhookSettings,
    parse_json_object,
)
from services.relay_gateway.relay_options import Interruptible, RelayAttributes, RelayLanguage


class RelayGatewaySettings(PublicWebhookSettings):
    twilio_studio_handoff_flow_sid: str = Field(pattern=FLOW_SID_PATTERN)
    """The Studio flow whose webhook is the ``<Connect action>`` (voice handoff)."""
    baton_voice_action: Literal["studio", "gateway"] = "studio"
    """``<Connect action>``: the Studio flow webhook (TAC's default) or ``/voice/action`` here."""
    baton_taskrouter_workflow_sid: str | None = Field(default=None, pattern=WORKFLOW_SID_PATTERN)
    """With the action on the gateway (required then): enqueue handed-off calls to this
    TaskRouter workflow, with the HandoffData identifiers and attributes as task attributes."""
    baton_welcome_greeting: str = "Hello! How can I assist you today?"
    """``welcomeGreeting`` spoken when the call connects."""
    baton_voice_language: str = "en-US"
    """``language`` of speech recognition and text-to-speech."""
    baton_tts_voice: str | None = None
    """``voice`` of text-to-speech (provider default when unset)."""
    baton_voice_interruptible: Interruptible = "any"
    """``interruptible``: what lets the caller cut the agent off."""
    baton_dtmf_detection: bool = True
    """``dtmfDetection``: key presses reach the agent."""
    baton_partial_prompts: bool = False
    """``partialPrompts``: Twilio also sends interim transcripts (the agent acts on final ones)."""
    baton_relay_parameters: JsonObject = Field(default_factory=dict)
    """Extra ``<Parameter>``s for ``setup.customParameters`` (JSON object of strings)."""
    baton_relay_attributes: Annotated[RelayAttributes, NoDecode] = Field(
        default_factory=RelayAttributes
    )
    """Any other ``<ConversationRelay>`` attribute, by its TwiML name (JSON object), e.g.
    ``{"ttsProvider": "ElevenLabs", "hints": "Baton,Flex"}``; unknown names stop the gateway."""
    baton_relay_languages: Annotated[list[RelayLanguage], NoDecode] = Field(default_factory=list)
    """``<Language>`` elements (JSON list), e.g. ``[{"code": "es-MX", "voice": "…"}]``."""
    baton_drain_deadline_seconds: float = Field(default=900.0, ge=0)
    """On SIGTERM or ``/internal/drain``: how long live calls may continue before exit."""
    baton_voice_end_wait_seconds: float = Field(default=60.0, gt=0)
    """How long an ``end`` waits for the goodbye's final ``last:true`` frame."""
    baton_relay_url_ttl_seconds: int = Field(default=300, ge=10)
    """How long the per-call relay URL in ``/voice/incoming``'s TwiML opens its call's socket."""
    baton_voice_max_live_calls: int = Field(default=1000, ge=1)
    """Sockets one replica holds at most; the next upgrade is refused with 503."""
    baton_voice_idle_timeout_seconds: float = Field(default=300.0, gt=0)
    """A socket with no frame either way for this long after ``setup`` is closed."""
    baton_voice_max_frame_bytes: int = Field(default=65536, ge=1024)
    """Larger frames from Twilio are logged and ignored."""
    baton_voice_max_prompt_chars: int = Field(default=4000, ge=1)
    """Longer ``voicePrompt`` texts are logged and ignored (not turned into a turn)."""
    baton_voice_prompt_burst: int = Field(default=10, ge=1)
    """Final prompts (and interrupts) a call may send at once; beyond, they are ignored."""
    baton_voice_prompts_per_second: float = Field(default=1.0, gt=0)
    """How fast a call's prompt allowance refills."""
    baton_voice_dtmf_burst: int = Field(default=32, ge=1)
    """DTMF digits a call may send at once; beyond, they are ignored."""
    baton_voice_dtmf_per_second: float = Field(default=4.0, gt=0)
    """How fast a call's DTMF allowance refills."""

    @field_validator("baton_relay_parameters", "baton_relay_attributes", mode="before")
    @classmethod
    def _parse_object(cls, value: Any) -> Any:
        return value if isinstance(value, RelayAttributes) else parse_json_object(value)

    @field_validator("baton_relay_languages", mode="before")
    @classmethod
    def _parse_languages(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else []
        if not isinstance(value, list):
            raise ValueError("must be a JSON list of <Language> objects")
        return value

    @model_validator(mode="after")
    def _gateway_action_needs_a_workflow(self) -> Self:
        """A call handed off to ``/voice/action`` is enqueued with its HandoffData: a
        ``<Redirect>`` to the flow would start a fresh execution without it."""
        if self.baton_voice_action == "gateway" and not self.baton_taskrouter_workflow_sid:
            raise ValueError(
                "BATON_VOICE_ACTION=gateway needs BATON_TASKROUTER_WORKFLOW_SID "
                "(else use BATON_VOICE_ACTION=studio)"
            )
        return self
