"""The faults, one scenario each, injected while customers are texting.

A scenario's ``chaos`` runs beside the customers from the start of the load; it may wait for
the load to be under way, and it leaves every process it killed restarted (or restarting).
Twilio's faults come from the emulator: 429 with ``Retry-After``, a 500 after the request took
effect, an answer held past the client's timeout for a request that took effect, an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from baton_devtools.chaos.customers import Emulator
from baton_devtools.chaos.stack import ChaosStack
from emulator import fake_account

STUDIO = "/v2/Flows"
MESSAGES = "/2010-04-01"
SLOW_SECONDS = 11.0
"""An answer held this long outlasts the services' default 10 s Twilio timeout."""


@dataclass
class Run:
    """What a scenario's chaos needs: the stack, the emulator and how long the load lasts."""

    stack: ChaosStack
    emulator: Emulator
    load_seconds: float
    quick: bool
    background: list[asyncio.Task[Any]] = field(default_factory=list)

    def later(self, work: Awaitable[Any]) -> None:
        self.background.append(asyncio.ensure_future(work))

    async def finish(self) -> None:
        for task in self.background:
            with contextlib.suppress(Exception):
                await task


Chaos = Callable[[Run], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    chaos: Chaos
    customers: int = 12
    questions: int = 2
    quick: bool = True
    """Part of ``--quick`` (what ``make test`` runs)."""


async def calm(run: Run) -> None:
    return None


async def kill_workers(run: Run) -> None:
    """A worker replica SIGKILLed every few seconds, each restarted at once."""
    workers = itertools.cycle(run.stack.of("agent-worker"))
    every = 2.0 if run.quick else 3.0
    elapsed = 0.0
    while elapsed < run.load_seconds:
        await asyncio.sleep(every)
        elapsed += every
        replica = next(workers)
        if replica.alive:
            run.stack.kill_replica(replica)
            run.later(run.stack.start_replica(replica))


async def kill_dispatchers(run: Run) -> None:
    """The dispatchers SIGKILLed twice mid-load, while Studio answers slowly (so POSTs are in
    flight) and other traffic keeps creating executions (more than a page of them)."""
    await run.emulator.fault(
        path_prefix=STUDIO,
        status=0,
        delay_seconds=3.0,
        create_before_delay=True,
        for_seconds=run.load_seconds,
    )
    run.later(other_executions(run, run.load_seconds))
    for moment in (0.3, 0.3):
        await asyncio.sleep(run.load_seconds * moment)
        for replica in run.stack.of("handoff-dispatcher"):
            run.stack.kill_replica(replica)
        await run.stack.revive()


async def other_executions(run: Run, seconds: float) -> None:
    """Executions for other contacts, as a busy contact center keeps starting them."""
    path = f"{STUDIO}/{fake_account.STUDIO_FLOW_SID}/Executions"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    auth = (fake_account.API_KEY, fake_account.API_SECRET)
    async with httpx.AsyncClient(base_url=run.stack.emulator_url, auth=auth, timeout=30) as http:

        async def one_stream() -> None:
            while loop.time() < deadline:
                contact = f"+1666{secrets.randbelow(10**7):07d}"
                data = {"conversationId": f"other-{contact}", "attributes": {}}
                with contextlib.suppress(httpx.HTTPError):
                    await http.post(
                        path,
                        data={
                            "To": contact,
                            "From": fake_account.PHONE_NUMBER,
                            "Parameters": json.dumps({"HandoffData": data}),
                        },
                    )

        await asyncio.gather(*(one_stream() for _ in range(12)))


def kill_nats(down_seconds: float) -> Chaos:
    async def chaos(run: Run) -> None:
        """nats-server SIGKILLed mid-load and started again on its store."""
        await asyncio.sleep(run.load_seconds * 0.3)
        run.stack.kill_nats()
        await asyncio.sleep(down_seconds)
        run.stack.start_nats()

    return chaos


async def restart_nats(run: Run) -> None:
    """nats-server stopped gracefully (SIGTERM) mid-load and started again at once."""
    await asyncio.sleep(run.load_seconds * 0.3)
    run.stack.stop_nats()
    run.stack.start_nats()


def twilio_faults(*path_prefixes: str) -> Chaos:
    async def chaos(run: Run) -> None:
        """Every second a fault for each product: 429 + Retry-After, 500 after acting, an
        answer held past the client's timeout after acting, 503."""
        specs: tuple[dict[str, Any], ...] = (
            {"status": 429, "retry_after": 1},
            {"status": 500, "create_before_delay": True},
            {"status": 0, "delay_seconds": SLOW_SECONDS, "create_before_delay": True},
            {"status": 503},
        )
        faults = itertools.cycle(specs)
        elapsed = 0.0
        while elapsed < run.load_seconds:
            spec = next(faults)
            for prefix in path_prefixes:
                await run.emulator.fault(path_prefix=prefix, **spec)
            await asyncio.sleep(1.0)
            elapsed += 1.0

    return chaos


def messages_down(seconds: float) -> Chaos:
    async def chaos(run: Run) -> None:
        """Messages answers 503 to every send for a while."""
        await asyncio.sleep(run.load_seconds * 0.2)
        await run.emulator.fault(path_prefix=MESSAGES, status=503, for_seconds=seconds)

    return chaos


SCENARIOS = (
    Scenario("calm", "no faults (the reference)", calm, quick=False),
    Scenario("workers-killed", "worker replicas SIGKILLed every few seconds", kill_workers),
    Scenario(
        "dispatchers-killed",
        "the dispatchers SIGKILLed twice mid-load (Studio slow, other executions created)",
        kill_dispatchers,
        customers=16,
        questions=1,
    ),
    Scenario("nats-killed-3s", "nats-server SIGKILLed, back after 3 s", kill_nats(3.0)),
    Scenario(
        "nats-killed-30s", "nats-server SIGKILLed, back after 30 s", kill_nats(30.0), quick=False
    ),
    Scenario("nats-restarted", "nats-server stopped gracefully and restarted", restart_nats),
    Scenario(
        "studio-faults",
        "Studio answers 429 / 500 after acting / slow after acting / 503",
        twilio_faults(STUDIO),
        questions=1,
        quick=False,
    ),
    Scenario(
        "messages-faults",
        "Messages answers 429 / 500 after acting / slow after acting / 503",
        twilio_faults(MESSAGES),
        quick=False,
    ),
    Scenario(
        "twilio-faults",
        "Studio and Messages answer 429 / 500 after acting / slow after acting / 503",
        twilio_faults(STUDIO, MESSAGES),
        questions=1,
    ),
    Scenario("messages-down-60s", "Messages down (503) for 60 s", messages_down(60.0), quick=False),
    Scenario("messages-down-15s", "Messages down (503) for 15 s", messages_down(15.0)),
)
