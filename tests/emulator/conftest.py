"""Fixtures: emulators served over real HTTP, and a signature-checking webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from baton_devtools.nats_server import free_port
from emulator.app import create_app
from tests.emulator.harness import Emulator, Receiver, emulator_settings
from tests.support.servers import serve

StartEmulator = Callable[..., Awaitable[Emulator]]


@pytest.fixture
async def start_emulator() -> AsyncIterator[StartEmulator]:
    """Start emulators with extra settings; every one stops when the test ends."""
    async with AsyncExitStack() as stack:

        async def start(**extra: Any) -> Emulator:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            settings = emulator_settings(url, **extra)
            app = create_app(settings)
            await stack.enter_async_context(serve(app, port))
            admin = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=5))
            return Emulator(url, app, settings, admin)

        yield start


@pytest.fixture
async def emulator(start_emulator: StartEmulator) -> Emulator:
    return await start_emulator()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    """A webhook receiver and its URL; it checks signatures against the URL it is reached at."""
    hooks = Receiver()
    async with serve(hooks.app, free_port()) as url:
        yield hooks, url
