"""The calls a replica holds (what a drain waits for) and who the customer is on a call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from libs.platform.metrics import REGISTRY
from services.relay_gateway.calls import CallSession
from services.relay_gateway.relay import LiveCalls, customer_address
from tests.support.waits import until

LIVE_CALLS = "baton_voice_live_calls"


async def discard(frame: dict[str, Any]) -> None:
    return None


def live_gauge() -> float:
    return REGISTRY.get_sample_value(LIVE_CALLS) or 0.0


async def test_a_call_added_twice_counts_once_and_removal_is_idempotent() -> None:
    live = LiveCalls()
    before = live_gauge()
    call = CallSession("CA1", send=discard)
    live.add(call)
    live.add(CallSession("CA1", send=discard))  # a reconnect of the same call
    assert list(live.calls) == ["CA1"] and live_gauge() - before == 1
    live.remove("CA1")
    live.remove("CA1")
    assert live.calls == {} and live_gauge() - before == 0


async def test_wait_until_empty_returns_when_the_last_call_leaves() -> None:
    live = LiveCalls()
    live.add(CallSession("CA1", send=discard))
    live.add(CallSession("CA2", send=discard))
    drained = asyncio.create_task(live.wait_until_empty(30.0))
    await until(lambda: not live.changed.is_set())  # the waiter took the calls in
    live.remove("CA1")
    await until(lambda: not live.changed.is_set())  # ... and saw a change that leaves one
    assert not drained.done()
    live.remove("CA2")
    assert await asyncio.wait_for(drained, 5.0) is True


async def test_wait_until_empty_is_immediate_with_no_calls() -> None:
    assert await asyncio.wait_for(LiveCalls().wait_until_empty(30.0), 1.0) is True


async def test_wait_until_empty_gives_up_at_the_deadline() -> None:
    live = LiveCalls()
    live.add(CallSession("CA1", send=discard))
    assert await asyncio.wait_for(live.wait_until_empty(0.05), 5.0) is False
    assert await asyncio.wait_for(live.wait_until_empty(0.0), 5.0) is False
    assert list(live.calls) == ["CA1"]


INBOUND = {"type": "setup", "direction": "inbound", "from": "+15005550006", "to": "+15005550001"}
OUTBOUND = {"type": "setup", "from": "+15005550001", "to": "+15005550006"}


@pytest.mark.parametrize(
    "setup",
    [
        INBOUND,
        {**INBOUND, "direction": "INBOUND"},
        {key: value for key, value in INBOUND.items() if key != "direction"},
        {**OUTBOUND, "direction": "outbound-api"},
        {**OUTBOUND, "direction": "outbound-dial"},
        {**OUTBOUND, "direction": "Outbound-API"},
    ],
)
def test_the_customer_is_from_on_inbound_and_to_on_outbound_calls(setup: dict[str, Any]) -> None:
    assert customer_address(setup) == ("+15005550006", "+15005550001")
