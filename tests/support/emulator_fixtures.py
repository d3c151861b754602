"""One emulator per test module, reset before each test: every answer over real HTTP, cheaply."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest

from baton_devtools.nats_server import free_port
from emulator.app import create_app
from libs.platform.twilio_rest import TwilioRestClient
from tests.emulator.harness import Emulator, emulator_settings
from tests.support.servers import serve
from tests.support.twilio_rest import rest_client


@pytest.fixture(scope="module")
async def module_emulator() -> AsyncIterator[Emulator]:
    async with AsyncExitStack() as stack:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        settings = emulator_settings(url)
        app = create_app(settings)
        await stack.enter_async_context(serve(app, port))
        admin = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=5))
        yield Emulator(url, app, settings, admin)


@pytest.fixture
async def emulator(module_emulator: Emulator) -> Emulator:
    """The module's emulator with no resources, requests or faults left from other tests."""
    await module_emulator.post("/_emulator/reset", {})
    return module_emulator


@pytest.fixture
async def emulator_rest(emulator: Emulator) -> AsyncIterator[TwilioRestClient]:
    """The product's REST client (API key auth), pointed at the emulator."""
    async with rest_client(emulator.url) as client:
        yield client
