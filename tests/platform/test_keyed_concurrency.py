"""Keyed concurrency: parallel across keys up to the limit, serial and in order within a key."""

from __future__ import annotations

import asyncio

from libs.platform.keyed_concurrency import KeyedConcurrency


async def settle() -> None:
    """Let every ready task run until it waits on something the test controls."""
    for _ in range(20):
        await asyncio.sleep(0)


class Work:
    def __init__(self, lines: KeyedConcurrency) -> None:
        self.lines = lines
        self.started: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}

    def submit(self, key: str, name: str) -> asyncio.Task[None]:
        turn = self.lines.reserve(key)
        gate = self.gates[name] = asyncio.Event()

        async def run() -> None:
            async with turn:
                self.started.append(name)
                await gate.wait()

        return asyncio.create_task(run())


async def test_different_keys_run_side_by_side_up_to_the_limit() -> None:
    work = Work(KeyedConcurrency(limit=3))
    tasks = [work.submit(f"conv-{n}", f"r{n}") for n in range(5)]
    await settle()
    assert work.started == ["r0", "r1", "r2"]
    assert work.lines.running == 3
    work.gates["r1"].set()
    await settle()
    assert work.started == ["r0", "r1", "r2", "r3"]
    for gate in work.gates.values():
        gate.set()
    await asyncio.gather(*tasks)
    assert work.lines.running == 0
    assert work.lines.keys_waiting_or_running == 0


async def test_one_key_runs_one_at_a_time_in_the_order_reserved() -> None:
    work = Work(KeyedConcurrency(limit=10))
    tasks = [work.submit("conv-a", f"a{n}") for n in range(4)]
    tasks.append(work.submit("conv-b", "b0"))
    await settle()
    assert work.started == ["a0", "b0"]
    for n in range(4):
        assert work.started.count(f"a{n}") == 1
        work.gates[f"a{n}"].set()
        await settle()
    work.gates["b0"].set()
    await asyncio.gather(*tasks)
    assert [name for name in work.started if name.startswith("a")] == ["a0", "a1", "a2", "a3"]


async def test_a_key_waiting_for_its_turn_holds_no_slot() -> None:
    work = Work(KeyedConcurrency(limit=2))
    tasks = [work.submit("conv-a", "a0"), work.submit("conv-a", "a1"), work.submit("b", "b0")]
    await settle()
    assert work.started == ["a0", "b0"]
    for gate in work.gates.values():
        gate.set()
    await asyncio.gather(*tasks)


async def test_a_failed_or_cancelled_turn_lets_the_next_one_run_after_the_one_ahead() -> None:
    lines = KeyedConcurrency(limit=5)
    work = Work(lines)
    first = work.submit("conv-a", "a0")
    waiting = work.submit("conv-a", "a1")
    last = work.submit("conv-a", "a2")
    await settle()
    waiting.cancel()
    await settle()
    assert work.started == ["a0"], "the one behind the cancelled still waits for the first"
    work.gates["a0"].set()
    await settle()
    assert work.started == ["a0", "a2"]
    work.gates["a2"].set()
    await asyncio.gather(first, last)
    assert lines.keys_waiting_or_running == 0


async def test_a_place_never_entered_is_given_up() -> None:
    lines = KeyedConcurrency(limit=1)
    lines.reserve("conv-a").abandon()
    turn = lines.reserve("conv-a")
    async with turn:
        assert lines.running == 1
    assert lines.keys_waiting_or_running == 0
