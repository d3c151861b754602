"""Serving a service with uvicorn; the relay gateway drains live calls before it exits.

Every service is served with the same WebSocket options (:func:`uvicorn_config`): the
sans-I/O ``websockets`` implementation and no permessage-deflate. Compressing each small
ConversationRelay frame costs the gateway CPU for a few bytes saved on a local link, so
the extension is never accepted, even when the client offers it.

uvicorn closes every open WebSocket with 1012 as soon as it gets SIGTERM, which would cut
live calls. ``DrainingServer`` instead asks the app to drain (``POST /internal/drain``
returns once calls have ended or the drain deadline passed) and only then shuts down.
A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import logging
from types import FrameType
from typing import Any

import httpx
import uvicorn

log = logging.getLogger("baton.serving")


def uvicorn_config(app: Any, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for a Baton service (``options``: host, port, log level…)."""
    return uvicorn.Config(app, ws="websockets-sansio", ws_per_message_deflate=False, **options)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._drain_task: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain_task is not None or not self.started:
            super().handle_exit(sig, frame)
            return
        log.info("signal %s: draining live calls before exit", sig)
        loop = asyncio.get_event_loop()
        self._drain_task = loop.create_task(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        url = f"http://127.0.0.1:{self.config.port}/internal/drain"
        try:
            async with httpx.AsyncClient(timeout=None) as client:
                response = await client.post(url)
                log.info("drain finished: %s", response.text)
        except httpx.HTTPError as error:
            log.warning("drain request failed: %r", error)
        self.should_exit = True
