"""The admin listener: ``/metrics`` and ``/internal/*`` on their own port, never the public one.

A service's public app answers Twilio (and the kubelet's ``/healthz`` and ``/readyz``); what
an operator or Prometheus uses lives in a second app that ``baton run`` serves on
``BATON_ADMIN_HOST:BATON_ADMIN_PORT`` (loopback by default, the pod network in Kubernetes).
FastAPI's generated ``/docs``, ``/redoc`` and ``/openapi.json`` are off unless
``BATON_API_DOCS`` turns them on for development.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI

from libs.platform.health import Readiness, metrics_router
from libs.platform.settings import BatonSettings

ADMIN_PORT_OFFSET = 1000
"""The admin listener's default port is the service's HTTP port plus this (8080 → 9080)."""
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def public_app(title: str, settings: BatonSettings, lifespan: Lifespan | None = None) -> FastAPI:
    """A service's public app: no generated API docs unless ``BATON_API_DOCS`` is on."""
    docs = settings.baton_api_docs
    return FastAPI(
        title=title,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )


def admin_app(title: str, readiness: Readiness, *routers: APIRouter) -> FastAPI:
    """``/metrics`` and the service's ``/internal/*`` routes, for the admin listener."""
    app = FastAPI(title=f"{title} (admin)", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(metrics_router(readiness))
    for router in routers:
        app.include_router(router)
    return app


def attach_admin(app: FastAPI, admin: FastAPI) -> None:
    app.state.admin = admin


def admin_of(app: Any) -> FastAPI | None:
    """The admin app a service's public app carries (``None`` for any other ASGI app)."""
    state = getattr(app, "state", None)
    admin = getattr(state, "admin", None) if state is not None else None
    return admin if isinstance(admin, FastAPI) else None


def admin_port(settings: BatonSettings, public_port: int) -> int:
    return settings.baton_admin_port or public_port + ADMIN_PORT_OFFSET
