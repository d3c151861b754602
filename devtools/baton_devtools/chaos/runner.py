"""Running the scenarios against one stack and reporting what the customers got.

One stack serves every scenario; each scenario has customers of its own (their own numbers),
so what one scenario left behind (executions, turns) is only more load for the next: the
executions of earlier scenarios are exactly the "many executions created since" a lookup must
page through. After the load, the run waits until every accepted message was answered and
every handoff settled (bounded), then a quiet period in which a late double would show.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from nats.js import JetStreamContext

from baton_devtools.chaos.customers import (
    ASK_FOR_A_PERSON,
    QUESTIONS,
    Customer,
    Emulator,
    converse,
)
from baton_devtools.chaos.scenarios import SCENARIOS, Run, Scenario
from baton_devtools.chaos.stack import ChaosStack
from baton_devtools.chaos.tally import (
    ZERO_GOALS,
    Figures,
    dead_letter_count,
    handoff_results,
    tally,
)

RESULTS = Path("bench-results") / "chaos.json"
QUIET_SECONDS = 5.0


@dataclass(frozen=True)
class Sizes:
    """How big a run is: ``--quick`` (what ``make test`` runs) or the full ``make chaos``."""

    quick: bool
    load_seconds: float
    reply_wait_seconds: float
    settle_seconds: float
    customers_scale: float

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        if quick:
            # a customer waits out the reply's longest retry (BATON_REPLY_MAX_RETRY_SECONDS,
            # 60 s) and more: one who moves on sooner asks for a person, and the late reply
            # to the earlier question is then rightly muted, which would count as lost
            return cls(True, 8.0, 90.0, 90.0, 0.5)
        return cls(False, 20.0, 180.0, 240.0, 1.0)


def customers_for(scenario: Scenario, index: int, sizes: Sizes) -> list[Customer]:
    count = max(4, int(scenario.customers * sizes.customers_scale))
    return [
        Customer(
            number=f"+1555{index:02d}{number:05d}",
            questions=min(scenario.questions, len(QUESTIONS)),
            wants_person=number % 2 == 0,
        )
        for number in range(count)
    ]


async def run_scenario(
    stack: ChaosStack, emulator: Emulator, scenario: Scenario, index: int, sizes: Sizes
) -> Figures:
    started = time.monotonic()
    dead_before = await _with_js(stack, dead_letter_count)
    customers = customers_for(scenario, index, sizes)
    run = Run(stack, emulator, sizes.load_seconds, sizes.quick)
    spread = sizes.load_seconds / 2

    async def customer(position: int, who: Customer) -> None:
        await asyncio.sleep(spread * position / len(customers))
        await converse(emulator, who, sizes.reply_wait_seconds)

    chaos = asyncio.ensure_future(scenario.chaos(run))
    await asyncio.gather(*(customer(i, c) for i, c in enumerate(customers)))
    await chaos
    await run.finish()
    await emulator.clear_faults()
    await stack.revive()
    await stack.wait_ready()
    await _with_js(stack, lambda js: settle(js, emulator, customers, sizes.settle_seconds))
    inboxes = {c.number: await emulator.inbox(c.number) for c in customers}
    executions = await emulator.executions()
    figures: Figures = await _with_js(
        stack,
        lambda js: tally(scenario.name, customers, inboxes, executions, js, dead_before),
    )
    figures.seconds = round(time.monotonic() - started, 1)
    return figures


async def settle(
    js: JetStreamContext, emulator: Emulator, customers: Sequence[Customer], seconds: float
) -> None:
    """Wait until every accepted message has its answer and every handoff its result."""
    deadline = time.monotonic() + seconds
    pending = list(customers)
    while pending and time.monotonic() < deadline:
        still = []
        for who in pending:
            expected = sum(1 for question, _ in QUESTIONS if who.accepted(question))
            person = who.wants_person and who.accepted(ASK_FOR_A_PERSON)
            expected += 1 if person else 0
            answered = len(await emulator.inbox(who.number)) >= expected
            if not answered or (person and not await handoff_results(js, who.number)):
                still.append(who)
        pending = still
        await asyncio.sleep(0.5)
    await asyncio.sleep(QUIET_SECONDS)


async def _with_js(stack: ChaosStack, work: Any) -> Any:
    client = await nats.connect(stack.nats_url, connect_timeout=5)
    try:
        return await work(client.jetstream())
    finally:
        await client.close()


def render(figures: Figures, title: str) -> str:
    handoffs = (
        f"{figures.handoffs_0_executions} / {figures.handoffs_1_execution} / "
        f"{figures.handoffs_2plus_executions}"
    )
    latency = (
        f"{figures.handoff_seconds_p50} / {figures.handoff_seconds_max} s"
        if figures.handoff_seconds_max is not None
        else "-"
    )
    lines = [
        f"== {figures.scenario}: {title}  ({figures.seconds} s)",
        f"   conversations                          {figures.conversations}",
        f"   turns sent                             {figures.turns_sent}",
        f"   turns refused 5xx (Fallback URL)       {figures.turns_refused}",
        f"   refused but stored                     {figures.refused_but_stored}",
        f"   turns answered                         {figures.turns_answered}",
        f"   turns lost                             {figures.turns_lost}",
        f"   replies doubled                        {figures.replies_doubled}",
        f"   handoffs never settled                 {figures.handoffs_unsettled}",
        f"   handoffs with 0 / 1 / >1 executions    {handoffs}",
        f"   handoffs delivered unverified          {figures.handoffs_unverified}",
        f"   told 'failed' while their task exists  {figures.told_failed_with_task}",
        f"   bot replies after a handoff            {figures.bot_replies_after_handoff}",
        f"   dead letters                           {figures.dead_letters}",
        f"   handoff latency p50 / max              {latency}",
        f"   {'all zeros' if figures.clean else 'NOT CLEAN'}",
    ]
    return "\n".join(lines)


async def run_all(scenarios: Sequence[Scenario], sizes: Sizes, workdir: Path) -> list[Figures]:
    stack = ChaosStack.create(workdir)
    emulator = Emulator(stack.emulator_url)
    results: list[Figures] = []
    try:
        await stack.start()
        for index, scenario in enumerate(scenarios, start=1):
            figures = await run_scenario(stack, emulator, scenario, index, sizes)
            print(render(figures, scenario.title), flush=True)
            results.append(figures)
    finally:
        with contextlib.suppress(Exception):
            await emulator.aclose()
        stack.stop()
    return results


def chosen(quick: bool, names: Sequence[str]) -> list[Scenario]:
    if names:
        unknown = set(names) - {s.name for s in SCENARIOS}
        if unknown:
            sys.exit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
        return [s for s in SCENARIOS if s.name in names]
    return [s for s in SCENARIOS if s.quick or not quick]


def write_results(results: list[Figures], sizes: Sizes, path: Path) -> dict[str, Any]:
    document = {
        "mode": "quick" if sizes.quick else "full",
        "goal": dict.fromkeys(ZERO_GOALS, 0),
        "all_clean": all(f.clean for f in results),
        "scenarios": [f.as_json() for f in results],
        "python": sys.version.split()[0],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return document
