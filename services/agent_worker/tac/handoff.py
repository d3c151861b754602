"""Twilio Agent Connect's session and ``create_studio_handoff_tool``, as a thin adapter.

``create_studio_handoff_tool(tac, session, attributes)`` keeps TAC's signature and what the
model sees: one ``reason`` parameter; it returns TAC's result dicts. The work happens in the
turn's :class:`~services.agent_worker.handoff.TurnHandoff`: one handoff per episode, no
premature INACTIVE, an honest ``handoff_failed``. Attributes come from the application
only: the model's arguments named ``attributes`` (or anything else that is not ``reason``)
are dropped by the tool API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, PrivateAttr

from libs.contracts.messages import utc_now
from services.agent_worker.agent import TurnContext, TurnTools
from services.agent_worker.channels import tac_channel
from services.agent_worker.tac.tools import InjectedToolArg, TACTool, function_tool

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
            author_info=ParticipantInfo(address=route.customer_address),
            ai_agent_info=ParticipantInfo(address=route.agent_address),
            metadata={"baton_conversation_id": turn.conversation_id, "epoch": turn.epoch},
        )
        session._turn = turn
        session._tools = tools
        return session

    @property
    def tools(self) -> TurnTools:
        if self._tools is None:
            raise RuntimeError("this session was not built from a turn (use from_turn)")
        return self._tools


class TACConfig(BaseModel):
    """The part of TAC's configuration its handoff tool checks."""

    studio_handoff_flow_sid: str | None = None
    memory_store_id: str = ""


class TAC:
    """What ``create_studio_handoff_tool`` takes as ``tac``.

    In Baton's worker ``TAC()`` has no configuration: the dispatcher holds the Studio flow
    (``TWILIO_STUDIO_HANDOFF_FLOW_SID``) and refuses to start without it. A ``TACConfig``
    given here is checked as TAC checks it.
    """

    def __init__(self, config: TACConfig | None = None) -> None:
        self.config = config

    def ensure_handoff_configured(self) -> None:
        """Raise ``ValueError`` as TAC does when a given configuration names no Studio flow."""
        if self.config is not None and not self.config.studio_handoff_flow_sid:
            raise ValueError(MISSING_FLOW_SID)


async def _handoff(
    reason: Annotated[
        str, Field(description="Why the customer needs a human agent, in a few words")
    ],
    session: Annotated[ConversationSession, InjectedToolArg],
    attributes: Annotated[dict[str, Any], InjectedToolArg],
) -> dict[str, str]:
    """Ask for a human; the result says whether the customer is on their way to one."""
    return (await session.tools.request_handoff(reason, attributes)).as_tac()


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
    Raises ``ValueError`` when a configuration without a Studio flow is given, as TAC does.
    """
    tac.ensure_handoff_configured()
    tool = function_tool(name=name, description=description)(_handoff)
    return tool.configure_injection(session=session, attributes=dict(attributes or {}))
