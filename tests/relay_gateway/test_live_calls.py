"""The calls a replica holds (what a drain waits for) and who the customer is on a call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from libs.platform.metrics import REGISTRY
from services.relay_gateway.calls import CallSession
from services.relay_gateway.relay import LiveCalls, Refusal, customer_address
from tests.support.waits import until

LIVE_CALLS = "baton_voice_live_calls"


async def discard(frame: dict[str, Any]) -> None:
    return None


def live_gauge() -> float:
    return REGISTRY.get_sample_value(LIVE_CALLS) or 0.0


async def test_a_second_socket_for_a_live_call_is_refused_and_cannot_remove_it() -> None:
    live = LiveCalls()
    before = live_gauge()
    first = CallSession("CA1", send=discard)
    second = CallSession("CA1", send=discard)
    assert live.claim(first) is None
    assert live.claim(second) is Refusal.CALL_LIVE
    live.release(second)  # the refused socket ends
    assert live.calls == {"CA1": first} and live_gauge() - before == 1
    live.release(first)
    live.release(first)
    assert live.calls == {} and live_gauge() - before == 0
    assert live.claim(second) is None, "once the first socket ended, the call may reconnect"
    live.release(second)


async def test_a_replica_holds_at_most_max_calls() -> None:
    live = LiveCalls(max_calls=2)
    calls = [CallSession(f"CA{n}", send=discard) for n in range(3)]
    assert [live.claim(call) for call in calls] == [None, None, Refusal.AT_CAPACITY]
    live.release(calls[0])
    assert live.claim(calls[2]) is None
    for call in calls:
        live.release(call)
    assert live.calls == {}


async def test_wait_until_empty_returns_when_the_last_call_leaves() -> None:
    live = LiveCalls()
    first, second = CallSession("CA1", send=discard), CallSession("CA2", send=discard)
    live.claim(first)
    live.claim(second)
    drained = asyncio.create_task(live.wait_until_empty(30.0))
    await until(lambda: not live.changed.is_set())  # the waiter took the calls in
    live.release(first)
    await until(lambda: not live.changed.is_set())  # ... and saw a change that leaves one
    assert not drained.done()
    live.release(second)
    assert await asyncio.wait_for(drained, 5.0) is True


async def test_wait_until_empty_is_immediate_with_no_calls() -> None:
    assert await asyncio.wait_for(LiveCalls().wait_until_empty(30.0), 1.0) is True


async def test_wait_until_empty_gives_up_at_the_deadline() -> None:
    live = LiveCalls()
    live.claim(CallSession("CA1", send=discard))
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
