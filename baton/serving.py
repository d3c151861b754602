"""Serving a service: NATS reached first, then the public and the admin listener together.

Every service is served with the same WebSocket options (:func:`uvicorn_config`): the
sans-I/O ``websockets`` implementation and no permessage-deflate. Compressing each small
ConversationRelay frame costs the gateway CPU for a few bytes saved on a local link, so
the extension is never accepted, even when the client offers it.

Once started, a service tunes Python's garbage collector (:func:`tune_collector`): what
start-up built is frozen out of its reach, and the youngest generation is collected less
often. A turn allocates many short-lived objects; with the default threshold the collector
ran every few hundred allocations, and its pauses showed in the caller's first-token p99.

Start-up never hangs: the service waits for NATS for ``BATON_NATS_CONNECT_SECONDS`` at most
(a log line per attempt), then exits non-zero with one line naming ``NATS_URL``; SIGTERM or
Ctrl-C while it waits end it at once.

The public listener serves Twilio's routes and the probes; the admin listener
(``BATON_ADMIN_HOST:BATON_ADMIN_PORT``) serves ``/metrics`` and ``/internal/*``. uvicorn
closes every open WebSocket with 1012 as soon as it gets SIGTERM, which would cut live
calls: a service with a drain (the relay gateway) runs it in-process on the first signal
and only then shuts down. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from types import FrameType
from typing import Any

import uvicorn

from libs.platform.connection import NatsUnreachable, wait_for_nats
from libs.platform.settings import BatonSettings

log = logging.getLogger("baton.serving")

STARTUP_FAILURE = 3
"""uvicorn's exit status when the app's start-up failed."""


class StoppedWhileStarting(Exception):
    """A signal arrived while the service was still waiting for NATS."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status
Drain = Callable[[], Awaitable[object]]

YOUNG_GENERATION_THRESHOLD = 50_000
"""Allocations between two collections of the youngest generation (CPython's default: 700)."""


def tune_collector() -> None:
    """Freeze what start-up built (it lives as long as the process) and collect less often."""
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)


def uvicorn_config(app: Any, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for a Baton service (``options``: host, port, log level…)."""
    return uvicorn.Config(app, ws="websockets-sansio", ws_per_message_deflate=False, **options)


class DrainingServer(uvicorn.Server):
    """The public listener: the first SIGTERM or SIGINT drains the app, then exits."""

    def __init__(self, config: uvicorn.Config, drain: Drain | None = None) -> None:
        super().__init__(config)
        self._drain = drain
        self._drain_task: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        tune_collector()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain is None or self._drain_task is not None or not self.started:
            super().handle_exit(sig, frame)
            return
        log.info("signal %s: draining live calls before exit", sig)
        self._drain_task = asyncio.get_event_loop().create_task(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        assert self._drain is not None
        try:
            log.info("drain finished: %s", await self._drain())
        except Exception as error:
            log.warning("drain failed: %r", error)
        self.should_exit = True


class AdminServer(uvicorn.Server):
    """The admin listener: stopped by the public one, never by a signal of its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass(frozen=True)
class Listener:
    host: str
    port: int


def _config(app: Any, listener: Listener, log_level: str, **extra: Any) -> uvicorn.Config:
    return uvicorn_config(
        app,
        host=listener.host,
        port=listener.port,
        log_level=log_level,
        log_config=None,  # uvicorn's records go through Baton's one handler
        **extra,
    )


async def _nats_or_signal(settings: BatonSettings) -> int | None:
    """Wait for NATS; a signal meanwhile ends the wait. Returns the exit status, if stopping."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    received: list[int] = []

    def stopping(sig: int) -> None:
        received.append(sig)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping, sig)
    try:
        reached = await wait_for_nats(settings, stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if reached:
        return None
    log.info("signal %s while waiting for NATS: stopped", received[0])
    return 128 + received[0]


async def serve(
    app: Any,
    settings: BatonSettings,
    public: Listener,
    admin: Listener,
    admin_app: Any,
    *,
    log_level: str = "info",
    drain: Drain | None = None,
) -> int:
    """Run one service until it is told to stop; returns the process's exit status."""
    stopped = await _nats_or_signal(settings)
    if stopped is not None:
        raise StoppedWhileStarting(stopped)
    server = DrainingServer(_config(app, public, log_level), drain)
    admin_server = AdminServer(_config(admin_app, admin, log_level, lifespan="off"))
    admin_task = asyncio.create_task(admin_server.serve())
    try:
        await server.serve()
    finally:
        admin_server.should_exit = True
        await admin_task
    return 0 if server.started else STARTUP_FAILURE


def run(
    app: Any,
    settings: BatonSettings,
    public: Listener,
    admin: Listener,
    admin_app: Any,
    *,
    log_level: str = "info",
    drain: Drain | None = None,
) -> int:
    """:func:`serve` in its own event loop; one line and status 1 when NATS is unreachable."""
    try:
        return asyncio.run(
            serve(app, settings, public, admin, admin_app, log_level=log_level, drain=drain)
        )
    except NatsUnreachable as error:
        raise SystemExit(f"baton: {error}") from None
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except StoppedWhileStarting as stopped:
        # Nothing was started, so nothing needs closing: leave at once rather than wait for
        # the interpreter's teardown (the tracing exporter's thread, abandoned NATS attempts).
        logging.shutdown()
        os._exit(stopped.status)
