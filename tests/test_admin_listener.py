"""Admin routes never share the public listener: ``/internal/*`` and ``/metrics`` answer only on
the admin port, FastAPI's generated docs are off, and the probes stay public for the kubelet."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext

from baton_devtools.nats_server import free_port
from services.agent_worker.main import create_app as create_worker
from services.agent_worker.settings import AgentWorkerSettings
from services.handoff_dispatcher.main import create_app as create_dispatcher
from services.handoff_dispatcher.settings import HandoffDispatcherSettings
from services.messaging_gateway.main import create_app as create_messaging
from services.messaging_gateway.settings import MessagingGatewaySettings
from services.relay_gateway.main import create_app as create_relay
from services.relay_gateway.settings import RelayGatewaySettings
from tests.support.processes import service_env, start_service
from tests.support.servers import admin_url, serve
from tests.support.twilio_fakes import twilio_env

ADMIN_ONLY = [
    ("POST", "/internal/drain"),
    ("GET", "/internal/calls"),
    ("GET", "/metrics"),
    ("GET", "/docs"),
    ("GET", "/redoc"),
    ("GET", "/openapi.json"),
]


def relay(nats_url: str, **extra: Any) -> FastAPI:
    public = "https://voice.example.test"
    settings = RelayGatewaySettings(**twilio_env(nats_url, public_base_url=public), **extra)
    return create_relay(settings)


def messaging(nats_url: str, **extra: Any) -> FastAPI:
    public = "https://webhooks.example.test"
    settings = MessagingGatewaySettings(**twilio_env(nats_url, public_base_url=public), **extra)
    return create_messaging(settings)


def worker(nats_url: str, **extra: Any) -> FastAPI:
    return create_worker(AgentWorkerSettings(nats_url=nats_url, **extra))


def dispatcher(nats_url: str, **extra: Any) -> FastAPI:
    return create_dispatcher(HandoffDispatcherSettings(**twilio_env(nats_url), **extra))


SERVICES: dict[str, Callable[..., FastAPI]] = {
    "relay-gateway": relay,
    "messaging-gateway": messaging,
    "agent-worker": worker,
    "handoff-dispatcher": dispatcher,
}


@pytest.mark.parametrize("name", sorted(SERVICES))
async def test_admin_routes_answer_404_on_the_public_port(
    nats_url: str, js: JetStreamContext, name: str
) -> None:
    app = SERVICES[name](nats_url)
    async with serve(app) as public, httpx.AsyncClient() as client:
        for method, path in ADMIN_ONLY:
            response = await client.request(method, f"{public}{path}")
            assert response.status_code == 404, (name, path)
        assert (await client.get(f"{public}/healthz")).status_code == 200
        assert (await client.get(f"{public}/readyz")).status_code == 200
        admin = admin_url(app)
        metrics = await client.get(f"{admin}/metrics")
        assert metrics.status_code == 200 and "baton_" in metrics.text
        for path in ("/docs", "/redoc", "/openapi.json", "/voice/incoming", "/messaging/sms"):
            assert (await client.get(f"{admin}{path}")).status_code == 404, path


async def test_the_relay_admin_listener_lists_and_drains_calls(
    nats_url: str, js: JetStreamContext
) -> None:
    app = relay(nats_url, baton_drain_deadline_seconds=0)
    async with serve(app) as public, httpx.AsyncClient() as client:
        admin = admin_url(app)
        assert (await client.get(f"{admin}/internal/calls")).json() == {"live_calls": 0}
        assert (await client.post(f"{public}/internal/drain")).status_code == 404
        assert (await client.get(f"{public}/readyz")).status_code == 200, "nothing drained it"
        drained = await client.post(f"{admin}/internal/drain")
        assert drained.json() == {"drained": True, "live_calls": 0}
        assert (await client.get(f"{public}/readyz")).status_code == 503


async def test_api_docs_are_served_only_when_turned_on(
    nats_url: str, js: JetStreamContext
) -> None:
    app = messaging(nats_url, baton_api_docs=True)
    async with serve(app) as public, httpx.AsyncClient() as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await client.get(f"{public}{path}")).status_code == 200, path


@pytest.mark.slow
async def test_baton_run_serves_admin_routes_on_their_own_loopback_port(
    nats_url: str, js: JetStreamContext
) -> None:
    port = free_port()
    env = service_env(nats_url, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    relay_process = await start_service("relay-gateway", env, port=port)
    try:
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{relay_process.url}/metrics")).status_code == 404
            assert (await client.get(f"{relay_process.url}/internal/calls")).status_code == 404
            admin = relay_process.admin_url
            assert (await client.get(f"{admin}/metrics")).status_code == 200
            assert (await client.get(f"{admin}/internal/calls")).json() == {"live_calls": 0}
    finally:
        relay_process.terminate()
