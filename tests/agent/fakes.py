"""Turns and a handoff for agents under test, without NATS."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from libs.contracts.messages import Channel, Route, TranscriptLine
from services.agent_worker.agent import Agent, Summarize, TurnContext, TurnTools
from services.agent_worker.tac.handoff import TAC, TACConfig
from tests.support.twilio_fakes import CUSTOMER, FLOW_SID, OUR_NUMBER

SMS_ROUTE = Route(channel=Channel.SMS, customer_address=CUSTOMER, agent_address=OUR_NUMBER)


def turn(text: str, history: list[TranscriptLine] | None = None) -> TurnContext:
    return TurnContext(
        conversation_id="CONV-test", epoch=0, route=SMS_ROUTE, text=text, history=history or []
    )


def lines(*pairs: tuple[str, str]) -> list[TranscriptLine]:
    """``("customer", "hi"), ("agent", "hello")`` as history."""
    return [TranscriptLine(role=role, text=text) for role, text in pairs]


def tac() -> TAC:
    return TAC(TACConfig(studio_handoff_flow_sid=FLOW_SID))


@dataclass
class FakeHandoff:
    """The worker's handoff as the tool sees it: the first call of an episode claims it."""

    error: Exception | None = None
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)

    async def __call__(
        self, reason: str, attributes: dict[str, Any] | None, summarize: Summarize | None
    ) -> dict[str, Any]:
        self.calls.append((reason, dict(attributes or {})))
        if summarize is not None and len(self.calls) == 1:
            self.summaries.append(await summarize())
        if self.error is not None:
            raise self.error
        if len(self.calls) > 1:
            return {"status": "handoff_already_requested", "channel": "SMS", "detail": "pending"}
        return {"status": "handoff_initiated", "channel": "SMS"}

    def tools(self) -> TurnTools:
        return TurnTools(handoff=self)


async def reply(agent: Agent, context: TurnContext, tools: TurnTools) -> list[str]:
    """The tokens the agent streams for one turn."""
    return [token async for token in agent.respond(context, tools)]
