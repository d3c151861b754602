"""Liveness and readiness for every HTTP service.

``/healthz`` answers as long as the process runs (no NATS or Twilio check, so a broker blip
causes no restart storm); ``/readyz`` is 503 while draining or while NATS is unreachable.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Response
from faststream.nats import NatsBroker


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
