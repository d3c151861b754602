"""Twilio Agent Connect's session and handoff tool, on Baton's worker.

``create_studio_handoff_tool(tac, session, attributes)`` keeps TAC's signature and what
the model sees: one ``reason`` parameter. What the tool does differs where TAC falls short:

* it claims the conversation episode with compare-and-set in NATS KV and publishes one
  ``HandoffRequested``; a second call in the episode returns ``handoff_already_requested``
  instead of a second Studio execution or ``end`` message;
* it never sets the conversation INACTIVE before delivery is known; the dispatcher
  delivers with retries and settles the conversation either way;
* a request that cannot be made returns ``handoff_failed`` with the error, so the reply
  tells the customer instead of claiming success.

Attributes come from the application only: the model's arguments named ``attributes`` (or
anything else that is not ``reason``) are dropped by the tool API.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, PrivateAttr

from libs.contracts.messages import Channel, Route, utc_now
from services.agent_worker.agent import TurnContext, TurnTools
from services.agent_worker.summary import (
    ExtractiveSummarizer,
    Summarizer,
)
from services.agent_worker.tac.tools import InjectedToolArg, TACTool, function_tool

log = logging.getLogger("baton.agent_worker.handoff_tool")

DEFAULT_HANDOFF_TOOL_NAME = "handoff"
DEFAULT_HANDOFF_TOOL_DESCRIPTION = (
    "Hand off the conversation to a human agent. "
    "Use this when the customer requests a human, or when you "
    "cannot adequately handle the request."
)
MISSING_FLOW_SID = (
    "TWILIO_STUDIO_HANDOFF_FLOW_SID: required by create_studio_handoff_tool "
    "(the Studio flow that routes handoffs to your contact center)"
)
DEFAULT_REASON = "customer needs a human agent"


class ParticipantInfo(BaseModel):
    address: str = ""
    participant_id: str = ""


class ConversationSession(BaseModel):
    """TAC's per-conversation session, built for one turn from what the worker knows.

    The turn and its tools travel privately (excluded from dumps), like TAC's cache fields.
    """

    conversation_id: str
    channel: str
    """TAC's channel names: ``SMS``, ``WHATSAPP``, ``RCS``, ``CHAT`` or ``VOICE``."""
    call_sid: str | None = None
    profile_id: str | None = None
    started_at: datetime = Field(default_factory=utc_now)
    author_info: ParticipantInfo | None = None
    """The customer."""
    ai_agent_info: ParticipantInfo | None = None
    """Our side: the Twilio number or the bot's identity."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    _turn: TurnContext | None = PrivateAttr(default=None)
    _tools: TurnTools | None = PrivateAttr(default=None)

    @classmethod
    def from_turn(cls, turn: TurnContext, tools: TurnTools) -> ConversationSession:
        route = turn.route
        session = cls(
            conversation_id=route.twilio_conversation_id or turn.conversation_id,
            channel=tac_channel(route),
            call_sid=route.call_sid,
            profile_id=route.profile_id or None,
            author_info=ParticipantInfo(address=route.customer_address),
            ai_agent_info=ParticipantInfo(address=route.agent_address),
            metadata={"baton_conversation_id": turn.conversation_id, "epoch": turn.epoch},
        )
        session._turn = turn
        session._tools = tools
        return session

    @property
    def turn(self) -> TurnContext:
        if self._turn is None:
            raise RuntimeError("this session was not built from a turn (use from_turn)")
        return self._turn

    @property
    def tools(self) -> TurnTools:
        if self._tools is None:
            raise RuntimeError("this session was not built from a turn (use from_turn)")
        return self._tools


def tac_channel(route: Route) -> str:
    """The channel name TAC would give this route (it reports it in tool results)."""
    if route.channel is Channel.VOICE:
        return "VOICE"
    if route.channel is Channel.CONVERSATIONS:
        return "CHAT"
    if route.medium:
        return route.medium.upper()
    for prefix, name in (("whatsapp:", "WHATSAPP"), ("rcs:", "RCS")):
        if route.customer_address.startswith(prefix):
            return name
    return "SMS" if route.customer_address.startswith("+") else "CHAT"


DISPATCHER_FLOW = "dispatcher"
"""The worker's flow: the dispatcher's ``TWILIO_STUDIO_HANDOFF_FLOW_SID``.

The worker never calls Studio. The dispatcher delivers every handoff and refuses to start
without the variable, so the worker's tool always hands off to a configured flow.
"""


class TACConfig(BaseModel):
    """The part of TAC's configuration the worker's tools depend on."""

    studio_handoff_flow_sid: str | None = None
    memory_store_id: str = ""

    @classmethod
    def for_worker(cls) -> TACConfig:
        return cls(studio_handoff_flow_sid=DISPATCHER_FLOW)


class TAC:
    """What ``create_studio_handoff_tool`` takes as ``tac``: configuration and the summarizer.

    The summarizer writes the note the human reads; the model's when one is configured.
    """

    def __init__(self, config: TACConfig, *, summarizer: Summarizer | None = None) -> None:
        self.config = config
        self.summarizer: Summarizer = summarizer or ExtractiveSummarizer()

    def ensure_handoff_configured(self) -> None:
        """Raise ``ValueError`` as TAC does when no Studio flow is configured."""
        if not self.config.studio_handoff_flow_sid:
            raise ValueError(MISSING_FLOW_SID)


async def _handoff(
    reason: Annotated[
        str, Field(description="Why the customer needs a human agent, in a few words")
    ],
    tac: Annotated[TAC, InjectedToolArg],
    session: Annotated[ConversationSession, InjectedToolArg],
    attributes: Annotated[dict[str, Any], InjectedToolArg],
) -> dict[str, Any]:
    """Ask for a human; the result says whether the customer is on their way to one."""
    reason = " ".join(str(reason).split())[:200] or DEFAULT_REASON

    async def summarize() -> str:
        return await tac.summarizer.summarize(session.turn, reason)

    try:
        result = await session.tools.request_handoff(reason, attributes, summarize)
    except Exception as error:  # the model must hear the truth, not a success
        log.error(
            "handoff of %s could not be requested: %r",
            session.metadata.get("baton_conversation_id"),
            error,
        )
        return {
            "status": "handoff_failed",
            "channel": session.channel,
            "error": f"the handoff could not be requested ({type(error).__name__})",
        }
    return {**result, "channel": session.channel}


def create_studio_handoff_tool(
    tac: TAC,
    session: ConversationSession,
    attributes: dict[str, Any] | None = None,
    *,
    name: str = DEFAULT_HANDOFF_TOOL_NAME,
    description: str = DEFAULT_HANDOFF_TOOL_DESCRIPTION,
) -> TACTool:
    """The handoff tool for one session; the model sees only ``reason``.

    ``attributes`` are routing attributes for the task (``{"department": "billing"}``);
    the dispatcher merges them over ``BATON_HANDOFF_ATTRIBUTES`` and adds ``reason``.
    Raises ``ValueError`` when no Studio flow is configured, as TAC does.
    """
    tac.ensure_handoff_configured()
    tool = function_tool(name=name, description=description)(_handoff)
    return tool.configure_injection(tac=tac, session=session, attributes=dict(attributes or {}))
