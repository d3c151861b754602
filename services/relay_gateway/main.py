"""relay_gateway: the voice webhook, the ConversationRelay socket and the ``end`` frame.

Run with ``baton run relay-gateway --port 8080``. On SIGTERM (or ``POST /internal/drain`` on
the admin listener) it stops taking calls (``/readyz`` 503) and waits for live calls to end,
up to ``BATON_DRAIN_DEADLINE_SECONDS``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from libs.contracts.subjects import CONVERSATIONS_BUCKET
from libs.platform.admin import admin_app, attach_admin, public_app
from libs.platform.connection import bucket, connect_broker, create_broker, jetstream
from libs.platform.conversation_store import ConversationStore
from libs.platform.health import Readiness, broker_running, health_router
from libs.platform.settings import load_settings
from libs.platform.tracing import instrument_app, service_tracer
from libs.platform.twilio_signature import TwilioSignature
from services.relay_gateway.call_url import RelayUrlSigner
from services.relay_gateway.relay import LiveCalls, relay_router
from services.relay_gateway.settings import RelayGatewaySettings
from services.relay_gateway.voice_webhooks import voice_router

SERVICE_NAME = "relay-gateway"


def create_app(settings: RelayGatewaySettings | None = None) -> FastAPI:
    settings = settings or load_settings(RelayGatewaySettings)
    broker = create_broker(settings, SERVICE_NAME)
    readiness = Readiness(broker)
    live = LiveCalls(max_calls=settings.baton_voice_max_live_calls)
    signature = TwilioSignature(
        settings.twilio_auth_token.get_secret_value(),
        settings.public_base_url,
        settings.baton_webhook_max_bytes,
    )
    relay_urls = RelayUrlSigner(
        settings.twilio_auth_token.get_secret_value(), settings.baton_relay_url_ttl_seconds
    )

    async def drain() -> bool:
        readiness.draining = live.draining = True
        return await live.wait_until_empty(settings.baton_drain_deadline_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await connect_broker(broker, settings)
        app.state.store = ConversationStore(await bucket(jetstream(broker), CONVERSATIONS_BUCKET))
        async with broker_running(broker, readiness):
            yield

    app = public_app("Baton relay gateway", settings, lifespan)
    app.state.drain = drain
    app.state.live_calls = live
    instrument_app(app, SERVICE_NAME, log_sensitive=settings.baton_log_sensitive)
    tracer = service_tracer(SERVICE_NAME)
    app.include_router(health_router(readiness))
    app.include_router(voice_router(settings, signature, broker, live, relay_urls, tracer))
    app.include_router(
        relay_router(
            settings, signature, relay_urls, broker, live, lambda: app.state.store, tracer
        )
    )

    internal = APIRouter(prefix="/internal")

    @internal.post("/drain")
    async def start_drain() -> dict[str, object]:
        """Readiness off, no new calls; returns once live calls have ended."""
        drained = await drain()
        return {"drained": drained, "live_calls": len(live.calls)}

    @internal.get("/calls")
    async def live_calls() -> dict[str, int]:
        return {"live_calls": len(live.calls)}

    attach_admin(app, admin_app("Baton relay gateway", readiness, internal))
    return app
