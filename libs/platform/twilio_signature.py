"""Checking ``X-Twilio-Signature`` on webhooks and WebSocket upgrades with twilio's validator.

Twilio signs the URL it requested, so the URL is rebuilt from ``PUBLIC_BASE_URL`` plus the
request's path and query: what a proxy or ingress did to the host does not matter. Every
refusal is logged with that URL and counted (see :mod:`libs.platform.request_metrics`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fastapi import HTTPException, Request, WebSocket
from starlette.datastructures import FormData
from twilio.request_validator import RequestValidator

from libs.platform.request_metrics import signature_rejected

SIGNATURE_HEADER = "X-Twilio-Signature"


class TwilioSignature:
    def __init__(self, auth_token: str, public_base_url: str) -> None:
        self._validator = RequestValidator(auth_token)
        self._base = public_base_url.rstrip("/")

    def public_url(self, path: str, query: str = "", *, websocket: bool = False) -> str:
        url = f"{self._base}{path}" + (f"?{query}" if query else "")
        if not websocket:
            return url
        parts = urlsplit(url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, *parts[1:]))

    def is_valid(self, url: str, params: Any, signature: str | None) -> bool:
        return bool(signature) and bool(self._validator.validate(url, params, signature))

    def _check(self, request: Request | WebSocket, url: str, params: Any) -> str | None:
        """Why the signature does not hold (logged and counted), or ``None`` when it does."""
        signature = request.headers.get(SIGNATURE_HEADER)
        if signature and self.is_valid(url, params, signature):
            return None
        reason = "invalid_signature" if signature else "missing_signature"
        signature_rejected(request.scope, url, reason)
        return reason

    async def signed_form(self, request: Request) -> FormData:
        """The form of a signed webhook, or 403 (nothing else happens for a forged request)."""
        form = await request.form()
        url = self.public_url(request.url.path, request.url.query)
        if self._check(request, url, form):
            raise HTTPException(status_code=403, detail="invalid X-Twilio-Signature")
        return form

    async def signed_json_body(self, request: Request) -> bytes:
        """The raw body of a signed JSON webhook (``bodySHA256`` in the URL), or 403."""
        body = await request.body()
        url = self.public_url(request.url.path, request.url.query)
        if "bodySHA256" not in request.query_params:
            signature_rejected(request.scope, url, "missing_body_hash")
            raise HTTPException(status_code=403, detail="missing bodySHA256")
        try:
            text = body.decode()
        except UnicodeDecodeError as error:
            signature_rejected(request.scope, url, "body_not_utf8")
            raise HTTPException(status_code=403, detail="body is not UTF-8") from error
        if self._check(request, url, text):
            raise HTTPException(status_code=403, detail="invalid X-Twilio-Signature")
        return body

    def websocket_is_signed(self, websocket: WebSocket) -> bool:
        url = self.public_url(websocket.url.path, websocket.url.query, websocket=True)
        return self._check(websocket, url, {}) is None
