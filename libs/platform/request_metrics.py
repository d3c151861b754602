"""Webhook traffic on ``/metrics``: every request by route, method and status, and every
signature rejection by name.

:class:`RequestMetrics` is an ASGI middleware (installed by
:func:`libs.platform.tracing.instrument_app`) that measures each HTTP request with its route
template (``/messaging/sms``, never a raw path), so a 4xx or 5xx burst shows per webhook.
A request Twilio signed for another URL answers 403; :func:`signature_rejected` logs it with
the URL it was checked against and counts it, so a wrong ``PUBLIC_BASE_URL`` (every webhook
refused) is an alert, not a silent outage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libs.platform.metrics import REQUEST_BUCKETS, Counter, Histogram

log = logging.getLogger("baton.webhooks")

HTTP_REQUEST_TIME = Histogram(
    "baton_http_request_seconds",
    "HTTP requests served (webhooks and admin routes; probes excluded) by route and status.",
    otel_name="baton.http.server.request.duration",
    buckets=REQUEST_BUCKETS,
    labels=("route", "method", "status"),
)
SIGNATURE_REJECTIONS = Counter(
    "baton_webhook_signature_rejections",
    "Webhooks and WebSocket upgrades refused because X-Twilio-Signature did not match.",
    otel_name="baton.webhook.signature.rejected",
    labels=("route", "reason"),
)
INPUT_REJECTIONS = Counter(
    "baton_webhook_input_rejections",
    "Webhooks refused before their signature was checked: wrong content type, too large.",
    otel_name="baton.webhook.input.rejected",
    labels=("route", "reason"),
)
METRICS = (HTTP_REQUEST_TIME, SIGNATURE_REJECTIONS, INPUT_REJECTIONS)

UNMATCHED = "unmatched"
"""The route label of a request no route took (a 404): never the raw path."""
UNMEASURED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def route_template(scope: Mapping[str, Any]) -> str:
    """The path template of the route that took the request (FastAPI sets ``scope["route"]``)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNMEASURED_PATHS:
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            HTTP_REQUEST_TIME.observe(
                time.perf_counter() - started,
                route=route_template(scope),
                method=str(scope["method"]),
                status=str(status),
            )


def signature_rejected(scope: Mapping[str, Any], checked_url: str, reason: str) -> None:
    """Log and count one refused webhook: the URL it was checked against tells what to fix."""
    route = route_template(scope)
    SIGNATURE_REJECTIONS.inc(route=route, reason=reason)
    log.warning(
        "webhook refused (403, %s) on %s: X-Twilio-Signature was checked against %s; "
        "if every webhook is refused, PUBLIC_BASE_URL is not the URL Twilio calls",
        reason,
        route,
        checked_url,
    )


def input_rejected(scope: Mapping[str, Any], reason: str) -> None:
    """Count one webhook refused for its shape before any work (415, 413)."""
    INPUT_REJECTIONS.inc(route=route_template(scope), reason=reason)
