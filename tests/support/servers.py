"""Serving an ASGI app over real HTTP on a free loopback port, inside the test's event loop.

A Baton service's app carries its admin app (``/metrics``, ``/internal/*``); it is served
too, on its own free port, as ``baton run`` does: :func:`admin_url` names it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Literal

import uvicorn

from baton_devtools.nats_server import free_port
from libs.platform.admin import admin_of


@asynccontextmanager
async def _listening(
    app: Any, port: int, lifespan: Literal["on", "off"]
) -> AsyncIterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped during start-up")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def serve(app: Any, port: int | None = None) -> AsyncIterator[str]:
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(_listening(app, port or free_port(), "on"))
        admin = admin_of(app)
        if admin is not None:
            admin_listener = _listening(admin, free_port(), "off")
            app.state.admin_url = await stack.enter_async_context(admin_listener)
        yield url


def admin_url(app: Any) -> str:
    """Where :func:`serve` serves a service's admin listener."""
    return str(app.state.admin_url)
