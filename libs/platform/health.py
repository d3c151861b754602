"""Liveness, readiness and metrics for every HTTP service.

``/healthz`` answers as long as the process runs (no NATS or Twilio check, so a broker blip
causes no restart storm); ``/readyz`` is 503 while draining or while NATS is unreachable.
Both are on the public listener, where the kubelet probes them. ``/metrics`` is the
Prometheus scrape (OpenMetrics, with exemplars, when asked for), served on the admin
listener only (:mod:`libs.platform.admin`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response
from faststream.nats import NatsBroker

if TYPE_CHECKING:
    from libs.platform.consumer_lag import ConsumerLag

from libs.platform.metrics import NATS_CONNECTED, exposition


@dataclass
class Readiness:
    broker: NatsBroker
    draining: bool = False

    def nats_connected(self) -> bool:
        try:
            return bool(self.broker.connection.is_connected)
        except Exception:  # not connected yet
            return False


def health_router(readiness: Readiness) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @router.get("/readyz")
    async def readyz(response: Response) -> dict[str, str | bool]:
        nats_ok = readiness.nats_connected()
        ready = nats_ok and not readiness.draining
        if not ready:
            response.status_code = 503
        return {"ready": ready, "nats": nats_ok, "draining": readiness.draining}

    return router


def metrics_router(readiness: Readiness) -> APIRouter:
    router = APIRouter()

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        NATS_CONNECTED.set(1.0 if readiness.nats_connected() else 0.0)
        body, content_type = exposition(request.headers.get("accept", ""))
        return Response(body, media_type=content_type)

    return router


@asynccontextmanager
async def broker_running(
    broker: NatsBroker,
    readiness: Readiness,
    *,
    lag: ConsumerLag | None = None,
    closers: Sequence[Callable[[], Awaitable[None]]] = (),
) -> AsyncIterator[None]:
    """Start consuming; on the way out, stop being ready first, then drain and close."""
    await broker.start()
    if lag is not None:
        lag.start()
    try:
        yield
    finally:
        readiness.draining = True
        if lag is not None:
            await lag.stop()
        await broker.stop()
        for close in closers:
            await close()
