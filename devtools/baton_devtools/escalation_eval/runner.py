"""Runs an agent over the set as the worker would: one turn per item, its history before it.

The handoff is recorded instead of published: the recorder answers as the worker's handoff
does when the episode is claimed, and asks the agent's summarizer for the summary, as the
worker does once the claim succeeds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from baton_devtools.escalation_eval.dataset import Item
from baton_devtools.escalation_eval.scoring import Outcome
from emulator.fake_account import CUSTOMER_NUMBER, PHONE_NUMBER
from libs.contracts.messages import Channel, Route
from services.agent_worker.agent import Agent, Summarize, TurnContext, TurnTools
from services.agent_worker.decision import ESCALATION_ATTRIBUTE, EVIDENCE_ATTRIBUTE

ROUTE = Route(channel=Channel.SMS, customer_address=CUSTOMER_NUMBER, agent_address=PHONE_NUMBER)


@dataclass
class HandoffRecorder:
    """The worker's handoff tool call, kept in memory: the first call claims the episode."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    summary: str | None = None

    async def __call__(
        self, reason: str, attributes: dict[str, Any] | None, summarize: Summarize | None
    ) -> dict[str, Any]:
        self.calls.append((reason, dict(attributes or {})))
        if len(self.calls) > 1:
            return {"status": "handoff_already_requested", "channel": "SMS", "detail": "pending"}
        if summarize is not None:
            self.summary = await summarize()
        return {"status": "handoff_initiated", "channel": "SMS"}


def turn_for(item: Item) -> TurnContext:
    return TurnContext(
        conversation_id=f"eval-{item.id}",
        epoch=0,
        route=ROUTE,
        text=item.latest,
        history=list(item.history),
    )


async def run_item(agent: Agent, item: Item) -> Outcome:
    recorder = HandoffRecorder()
    tokens = [token async for token in agent.respond(turn_for(item), TurnTools(recorder))]
    if not recorder.calls:
        return Outcome(item, handoff=False, trigger=None, reply="".join(tokens))
    reason, attributes = recorder.calls[0]
    trigger = attributes.get(ESCALATION_ATTRIBUTE)
    return Outcome(
        item,
        handoff=True,
        trigger=str(trigger) if trigger is not None else None,
        reason=reason,
        evidence=str(attributes.get(EVIDENCE_ATTRIBUTE, "")),
        summary=recorder.summary,
        reply="".join(tokens),
    )


async def run(agent: Agent, items: Sequence[Item], *, concurrency: int = 1) -> list[Outcome]:
    """Every item's outcome, in the set's order; ``concurrency`` items at a time."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def bounded(item: Item) -> Outcome:
        async with gate:
            return await run_item(agent, item)

    return list(await asyncio.gather(*(bounded(item) for item in items)))
