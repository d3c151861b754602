"""Drain: on SIGTERM a relay gateway stops taking calls but keeps live ones, then exits."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from nats.js import JetStreamContext

from baton_devtools.nats_server import free_port
from services.agent_worker.main import create_app as create_worker
from services.agent_worker.settings import AgentWorkerSettings
from tests.support.processes import ServiceProcess, service_env, start_service, wait_for_exit
from tests.support.relay_caller import dial, relay_url_for
from tests.support.servers import serve
from tests.support.twilio_fakes import sid


async def start_relay(nats_url: str, deadline_seconds: float) -> ServiceProcess:
    port = free_port()
    env = service_env(
        nats_url,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        BATON_DRAIN_DEADLINE_SECONDS=str(deadline_seconds),
    )
    return await start_service("relay-gateway", env, port=port)


@pytest.fixture
async def worker(nats_url: str, js: JetStreamContext) -> AsyncIterator[None]:
    async with serve(create_worker(AgentWorkerSettings(nats_url=nats_url))):
        yield


@pytest.mark.slow
async def test_sigterm_keeps_live_calls_until_they_end(nats_url: str, worker: None) -> None:
    relay = await start_relay(nats_url, deadline_seconds=60)
    try:
        caller = await dial(relay.url, sid("CA"))
        await caller.say("what are your hours")
        await caller.reply()
        late_call = sid("CA")
        late_url = await relay_url_for(relay.url, late_call)
        relay.signal(signal.SIGTERM)
        async with httpx.AsyncClient() as client:
            for _ in range(50):
                if (await client.get(f"{relay.url}/readyz")).status_code == 503:
                    break
                await asyncio.sleep(0.05)
            assert (await client.get(f"{relay.url}/readyz")).status_code == 503
            assert (await client.get(f"{relay.url}/healthz")).status_code == 200
        newcomer = await dial(relay.url, late_call, url=late_url, send_setup=False)
        await newcomer.closed.wait()
        assert newcomer.connection.close_code == 1013
        await caller.say("and do you take returns")
        assert "30 days" in "".join(str(f.get("token", "")) for f in await caller.reply())
        assert relay.process.poll() is None
        await caller.hang_up()
        assert await wait_for_exit(relay, timeout=15) == 0
    finally:
        relay.stop()


@pytest.mark.slow
async def test_drain_deadline_bounds_the_wait(nats_url: str, worker: None) -> None:
    relay = await start_relay(nats_url, deadline_seconds=1)
    try:
        caller = await dial(relay.url, sid("CA"))
        await caller.say("hello")
        await caller.reply()
        started = time.monotonic()
        relay.signal(signal.SIGTERM)
        assert await wait_for_exit(relay, timeout=15) == 0
        assert time.monotonic() - started >= 1.0
        await caller.closed.wait()
    finally:
        relay.stop()
