"""The messages services exchange over NATS, and the Twilio-exact ``HandoffData``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def utc_now() -> datetime:
    return datetime.now(UTC)


class Channel(StrEnum):
    """How the customer reached us, which decides how replies and handoffs travel."""

    SMS = "sms"
    """Programmable Messaging (replies through ``Messages.json``)."""
    CONVERSATIONS = "conversations"
    """Conversations (classic) (replies through ``/v1/Conversations/{CH}/Messages``)."""
    ORCHESTRATOR = "orchestrator"
    """Conversation Orchestrator (replies through ``/v2/Conversations/{id}/Actions``)."""
    VOICE = "voice"
    """ConversationRelay (replies as ``text`` frames on the owning gateway's socket)."""

    @property
    def is_digital(self) -> bool:
        return self is not Channel.VOICE


class Route(BaseModel):
    """Where the customer is and how to answer them; carried with every turn and reply."""

    channel: Channel
    customer_address: str
    """The customer's address (E.164, ``whatsapp:+…`` or a chat identity)."""
    agent_address: str
    """Our side of the conversation: the Twilio number or the bot's identity."""
    twilio_conversation_id: str | None = None
    """``CH…`` for Conversations (classic), the conversation id for the Orchestrator."""
    call_sid: str | None = None
    medium: str = ""
    """The Orchestrator's channel name for the customer's address (``SMS``, ``WHATSAPP``, …)."""
    channel_id: str | None = None
    """The Orchestrator communication's ``channelId`` (a bridged ``CH…``): sent back as
    ``channelSettings.channelId``, which chat requires."""


class CustomerTurn(BaseModel):
    """One thing the customer said or typed, normalized by a gateway."""

    conversation_id: str
    message_id: str
    """Natural key (``MessageSid``, idempotency token, ``CallSid``+turn): the ``Nats-Msg-Id``."""
    route: Route
    text: str
    kind: Literal["text", "dtmf"] = "text"
    received_at: datetime = Field(default_factory=utc_now)
    previous_sequence: int | None = None
    """Where the conversation's turn before this one is stored, when the gateway knows it (a
    call's socket stores the call's turns one after another): stored with JetStream's check
    that it comes right after that turn, it lets a worker that consumed that turn answer this
    one without reading the turn stream."""


class ReplyKind(StrEnum):
    ANSWER = "answer"
    """An ordinary bot reply; muted once the conversation is handed off."""
    HANDOFF_NOTICE = "handoff_notice"
    """The goodbye sent with the handoff ("connecting you to a person")."""
    FAILURE_NOTICE = "failure_notice"
    """Honest news that the handoff could not be delivered."""


class AgentReply(BaseModel):
    """A reply for the customer on a digital channel."""

    conversation_id: str
    reply_id: str
    route: Route
    text: str
    epoch: int
    """The conversation's handoff epoch when the reply was written (see ``ConversationState``)."""
    kind: ReplyKind = ReplyKind.ANSWER
    created_at: datetime = Field(default_factory=utc_now)


Speaker = Literal["customer", "agent", "human", "system"]


class TranscriptLine(BaseModel):
    role: Speaker
    text: str
    at: datetime = Field(default_factory=utc_now)
    turn: int | None = None
    """On an agent line: the turn it answered (so a caller's interruption can cut it)."""


class HandoffRequested(BaseModel):
    """The agent decided a human should take over; the dispatcher delivers it exactly once."""

    conversation_id: str
    epoch: int
    route: Route
    reason: str
    summary: str = ""
    attributes: dict[str, Any] = Field(default_factory=dict)
    """Routing attributes given to the tool by the application (never by the model)."""
    transcript: list[TranscriptLine] = Field(default_factory=list)
    turn_sequence: int = 0
    """The turn whose reply is the goodbye; on voice, ``end`` follows its ``last:true`` frame."""
    turn_received_at: datetime | None = None
    """When a gateway received that turn: the start of "customer turn → Twilio has it"."""
    requested_at: datetime = Field(default_factory=utc_now)

    @property
    def handoff_id(self) -> str:
        """One id per conversation episode: the ``Nats-Msg-Id`` and the delivery record key."""
        return f"{self.conversation_id}:{self.epoch}"


class HandoffFailure(StrEnum):
    """Why a handoff could not be delivered, for the customer notice, metrics and alerts."""

    STUDIO_REJECTED = "studio_rejected"
    """Studio answered 4xx (bad flow SID, bad parameters, auth)."""
    STUDIO_UNAVAILABLE = "studio_unavailable"
    """5xx or timeouts past the retry budget."""
    RATE_LIMITED = "rate_limited"
    """429 past the retry budget."""
    CALLER_GONE = "caller_gone"
    """The caller hung up before the ``end`` message could be sent."""


class HandoffOutcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"


class HandoffResult(BaseModel):
    conversation_id: str
    epoch: int
    channel: Channel
    outcome: HandoffOutcome
    failure: HandoffFailure | None = None
    detail: str = ""
    execution_sid: str | None = None
    verified: bool = True
    """False when delivered is presumed, not seen: Studio answered 409 for our contact (or the
    call's socket was gone after an earlier ``end``) and our execution could not be found."""
    attempts: int = 0
    requested_at: datetime
    completed_at: datetime = Field(default_factory=utc_now)


class HandoffData(BaseModel):
    """The payload Twilio's "Agent Handoff" Studio template reads, field for field as TAC sends it.

    Digital: ``Parameters={"HandoffData": …}`` → ``{{flow.data.HandoffData.*}}``.
    Voice: the ``end`` frame's ``handoffData`` string → ``{{trigger.call.HandoffData}}``.
    """

    model_config = ConfigDict(populate_by_name=True)

    conversation_id: str = Field(alias="conversationId")
    store_id: str = Field(default="", alias="storeId")
    profile_id: str = Field(default="", alias="profileId")
    attributes: dict[str, Any] = Field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)

    def studio_parameters(self) -> str:
        """The ``Parameters`` form field of a Studio execution: a JSON string."""
        return json.dumps({"HandoffData": self.to_wire()}, separators=(",", ":"))

    def end_frame(self) -> dict[str, str]:
        """The ConversationRelay ``end`` message; ``handoffData`` is an opaque JSON string."""
        return {"type": "end", "handoffData": json.dumps(self.to_wire(), separators=(",", ":"))}


# --- Core NATS messages addressed to the relay_gateway replica that owns a call's socket ---


class VoiceToken(BaseModel):
    """A piece of the reply to a voice turn, forwarded as a ConversationRelay ``text`` frame."""

    type: Literal["token"] = "token"
    turn: int
    token: str
    last: bool = False


class VoiceFrame(BaseModel):
    """A ``play``, ``sendDigits`` or ``language`` frame the agent sends during a turn."""

    type: Literal["frame"] = "frame"
    turn: int
    frame: dict[str, Any]


class VoiceEnd(BaseModel):
    """Send ``{"type":"end","handoffData":…}`` once the goodbye turn's ``last:true`` is out."""

    type: Literal["end"] = "end"
    turn: int
    handoff_id: str
    handoff_data: str


class VoiceHangup(BaseModel):
    """The call ended (status callback seen by any replica): close the socket's session."""

    type: Literal["hangup"] = "hangup"


VoiceCommand = Annotated[
    VoiceToken | VoiceFrame | VoiceEnd | VoiceHangup, Field(discriminator="type")
]


class VoiceCancel(BaseModel):
    """The caller interrupted: stop generating replies to turns up to ``through_turn``."""

    through_turn: int


class VoiceEndAnswer(BaseModel):
    status: Literal["sent", "caller_gone"]
