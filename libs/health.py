"""Liveness, readiness and metrics for every HTTP service.

``/healthz`` answers as long as the process runs (no NATS or Twilio check, so a broker blip
causes no restart storm); ``/readyz`` is 503 while draining or while NATS is unreachable;
``/metrics`` is the Prometheus scrape (OpenMetrics, with exemplars, when asked for).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from faststream.nats import NatsBroker

from libs.metrics import exposition


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

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        body, content_type = exposition(request.headers.get("accept", ""))
        return Response(body, media_type=content_type)

    return router
