"""The end-to-end scenarios (tests/e2e/scenarios.py) rehearsed on the in-process route stack:
their steps and checks hold against the real services and emulator here, where the composed
stack cannot run. Only the containers, Jaeger and the restarts need Docker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
from nats.js import JetStreamContext

from tests.e2e.scenarios import called_for_a_human, conversation_across, texted_to_a_human
from tests.e2e.stack import EmulatorDriver, handoff_attributes
from tests.support.digital_stack import ATTRIBUTES
from tests.support.route_stack import start_route_stack


@pytest.fixture
async def emulator(nats_url: str, js: JetStreamContext) -> AsyncIterator[EmulatorDriver]:
    assert handoff_attributes() == ATTRIBUTES, "the route stack must route as compose does"
    async with AsyncExitStack() as stack:
        route = await start_route_stack(stack, nats_url)
        with httpx.Client(base_url=route.emulator, timeout=30) as http:
            yield EmulatorDriver(http)


async def test_the_sms_scenario(emulator: EmulatorDriver) -> None:
    task = await asyncio.to_thread(texted_to_a_human, emulator, "+15005550321")
    assert task["customer"] == "+15005550321"


async def test_the_call_scenario(emulator: EmulatorDriver) -> None:
    call_sid, task = await asyncio.to_thread(called_for_a_human, emulator, "+15005550322")
    assert task["callSid"] == call_sid


def nothing() -> None:
    """Stands in for a replica's restart."""


async def test_the_conversation_scenario(emulator: EmulatorDriver) -> None:
    task = await asyncio.to_thread(conversation_across, emulator, "+15005550323", [nothing] * 2)
    assert task["customer"] == "+15005550323"
