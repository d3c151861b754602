"""A started service freezes what start-up built and collects its youngest objects less often."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from baton.serving import YOUNG_GENERATION_THRESHOLD, DrainingServer, uvicorn_config
from baton_devtools.nats_server import free_port


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})


@pytest.fixture
def collector_restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("collector_restored")
async def test_a_started_service_tunes_the_collector() -> None:
    gc.unfreeze()
    server = DrainingServer(uvicorn_config(hello, host="127.0.0.1", port=free_port()))
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
        assert gc.get_freeze_count() > 0, "start-up's objects are left to every full collection"
        assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD == 50_000
    finally:
        server.should_exit = True
        await serving
