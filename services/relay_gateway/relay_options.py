"""Every documented ``<ConversationRelay>`` attribute and ``<Language>`` element, typed.

``BATON_RELAY_ATTRIBUTES`` and ``BATON_RELAY_LANGUAGES`` are JSON read into these models, so a
misspelt attribute or a bad value stops the gateway at start instead of being silently ignored
by Twilio (an unknown TwiML attribute produces no error, only a call that behaves otherwise).
The attributes Baton sets from its own settings (``url``, ``welcomeGreeting``, ``language``,
``voice``, ``interruptible``, ``dtmfDetection``, ``partialPrompts``,
``conversationConfiguration``) are not accepted here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Interruptible = Literal["none", "dtmf", "speech", "any"]


class RelayModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    def twiml_kwargs(self) -> dict[str, Any]:
        """twilio's ``VoiceResponse`` keyword arguments (snake_case, which it renders camelCase)."""
        return self.model_dump(exclude_none=True, by_alias=False)


class RelayAttributes(RelayModel):
    """Optional ``<ConversationRelay>`` attributes, by their TwiML (camelCase) names."""

    tts_language: str | None = Field(default=None, alias="ttsLanguage")
    transcription_language: str | None = Field(default=None, alias="transcriptionLanguage")
    tts_provider: str | None = Field(default=None, alias="ttsProvider")
    transcription_provider: str | None = Field(default=None, alias="transcriptionProvider")
    speech_model: str | None = Field(default=None, alias="speechModel")
    profanity_filter: bool | None = Field(default=None, alias="profanityFilter")
    welcome_greeting_interruptible: Interruptible | None = Field(
        default=None, alias="welcomeGreetingInterruptible"
    )
    preemptible: bool | None = None
    hints: str | None = None
    intelligence_service: str | None = Field(default=None, alias="intelligenceService")
    report_input_during_agent_speech: bool | None = Field(
        default=None, alias="reportInputDuringAgentSpeech"
    )
    elevenlabs_text_normalization: Literal["on", "off", "auto"] | None = Field(
        default=None, alias="elevenlabsTextNormalization"
    )
    interrupt_sensitivity: Literal["low", "medium", "high"] | None = Field(
        default=None, alias="interruptSensitivity"
    )
    debug: str | None = None
    events: str | None = None
    backgroundNoiseReduction: bool | None = None  # noqa: N815 (twilio's own kwarg name)
    speechTimeout: int | None = Field(default=None, ge=0)  # noqa: N815
    deepgramSmartFormat: bool | None = None  # noqa: N815
    ignoreBackchannel: bool | None = None  # noqa: N815
    eot_threshold: float | None = Field(default=None, alias="eotThreshold", ge=0, le=1)


class RelayLanguage(RelayModel):
    """One ``<Language>`` child: a language the caller may speak and how it is heard and spoken."""

    code: str = Field(min_length=2)
    tts_provider: str | None = Field(default=None, alias="ttsProvider")
    voice: str | None = None
    transcription_provider: str | None = Field(default=None, alias="transcriptionProvider")
    speech_model: str | None = Field(default=None, alias="speechModel")
