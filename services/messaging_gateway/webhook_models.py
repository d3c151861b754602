"""The webhook bodies Twilio posts, as pydantic models with Twilio's own field names.

Twilio adds parameters without notice, so unknown fields are ignored; the fields Baton reads
are typed, and addresses, SIDs and ids match their patterns
(:mod:`libs.contracts.identifiers`). A body that does not fit is refused with a 4xx by the
route, never a 5xx.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from libs.contracts.identifiers import (
    ADDRESS_PATTERN,
    CHANNEL_ADDRESS_PATTERN,
    CONVERSATION_ID_PATTERN,
    CONVERSATION_SID_PATTERN,
    MESSAGE_SID_PATTERN,
    optional,
)


class TwilioForm(BaseModel):
    """A form-encoded webhook: PascalCase fields, extras ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class InboundSms(TwilioForm):
    """Programmable Messaging's "A message comes in" webhook."""

    message_sid: str = Field(default="", alias="MessageSid", pattern=optional(MESSAGE_SID_PATTERN))
    from_: str = Field(alias="From", pattern=CHANNEL_ADDRESS_PATTERN)
    to: str = Field(alias="To", pattern=CHANNEL_ADDRESS_PATTERN)
    body: str = Field(default="", alias="Body")
    num_media: int = Field(default=0, alias="NumMedia", ge=0)
    media_type: str = Field(default="", alias="MediaContentType0")


class ConversationsEvent(TwilioForm):
    """A Conversations (classic) post-event webhook; Baton acts on ``onMessageAdded``."""

    event_type: str = Field(alias="EventType")
    conversation_sid: str = Field(
        default="", alias="ConversationSid", pattern=optional(CONVERSATION_SID_PATTERN)
    )
    message_sid: str = Field(default="", alias="MessageSid", pattern=optional(MESSAGE_SID_PATTERN))
    author: str = Field(default="", alias="Author", pattern=optional(ADDRESS_PATTERN))
    body: str = Field(default="", alias="Body")
    media: str = Field(default="", alias="Media")
    """A JSON list of the message's media, when it has any."""


class JsonEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class Author(JsonEvent):
    """An author or recipient: Twilio's communication participant (no profile on it)."""

    address: str = Field(default="", pattern=optional(ADDRESS_PATTERN))
    channel: str = Field(default="SMS", pattern=r"^[A-Z_]{1,32}$")
    participant_id: str = Field(
        default="", alias="participantId", pattern=optional(CONVERSATION_ID_PATTERN)
    )


class Content(JsonEvent):
    text: str | None = None


class Communication(JsonEvent):
    """``COMMUNICATION_CREATED``'s ``data``: one message in an Orchestrator conversation."""

    id: str = Field(default="", pattern=optional(CONVERSATION_ID_PATTERN))
    conversation_id: str = Field(
        default="", alias="conversationId", pattern=optional(CONVERSATION_ID_PATTERN)
    )
    author: Author = Field(default_factory=Author)
    recipients: list[Author] = Field(default_factory=list)
    content: Content = Field(default_factory=Content)
    channel_id: str | None = Field(
        default=None, alias="channelId", pattern=optional(CONVERSATION_ID_PATTERN)
    )


class ConversationUpdate(JsonEvent):
    """``CONVERSATION_UPDATED``'s ``data``: the conversation's new status."""

    id: str = Field(default="", pattern=optional(CONVERSATION_ID_PATTERN))
    status: str = ""
    configuration_id: str = Field(default="", alias="configurationId")


class CommunicationCreated(JsonEvent):
    event_type: Literal["COMMUNICATION_CREATED"] = Field(alias="eventType")
    data: Communication


class ConversationUpdated(JsonEvent):
    event_type: Literal["CONVERSATION_UPDATED"] = Field(alias="eventType")
    data: ConversationUpdate


class OtherEvent(JsonEvent):
    """Any other Orchestrator event: acknowledged and ignored (one Baton acts on but whose
    ``data`` does not fit is refused, not ignored)."""

    event_type: str = Field(alias="eventType")

    @field_validator("event_type")
    @classmethod
    def _not_one_baton_acts_on(cls, value: str) -> str:
        if value in ACTED_ON:
            raise ValueError(f"{value} with data of the wrong shape")
        return value


ACTED_ON = frozenset({"COMMUNICATION_CREATED", "CONVERSATION_UPDATED"})
OrchestratorEvent = CommunicationCreated | ConversationUpdated | OtherEvent
"""Tried in this order: the two events Baton acts on, then any other named event."""
