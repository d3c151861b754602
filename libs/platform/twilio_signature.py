"""Checking ``X-Twilio-Signature`` on webhooks and WebSocket upgrades with twilio's validator.

Twilio signs the URL it requested, so the URL is rebuilt from ``PUBLIC_BASE_URL`` plus the
request's path and query: what a proxy or ingress did to the host does not matter.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fastapi import HTTPException, Request, WebSocket
from starlette.datastructures import FormData
from twilio.request_validator import RequestValidator

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

    async def signed_form(self, request: Request) -> FormData:
        """The form of a signed webhook, or 403 (nothing else happens for a forged request)."""
        form = await request.form()
        url = self.public_url(request.url.path, request.url.query)
        if not self.is_valid(url, form, request.headers.get(SIGNATURE_HEADER)):
            raise HTTPException(status_code=403, detail="invalid X-Twilio-Signature")
        return form

    async def signed_json_body(self, request: Request) -> bytes:
        """The raw body of a signed JSON webhook (``bodySHA256`` in the URL), or 403."""
        body = await request.body()
        if "bodySHA256" not in request.query_params:
            raise HTTPException(status_code=403, detail="missing bodySHA256")
        url = self.public_url(request.url.path, request.url.query)
        try:
            text = body.decode()
        except UnicodeDecodeError as error:
            raise HTTPException(status_code=403, detail="body is not UTF-8") from error
        if not self.is_valid(url, text, request.headers.get(SIGNATURE_HEADER)):
            raise HTTPException(status_code=403, detail="invalid X-Twilio-Signature")
        return body

    def websocket_is_signed(self, websocket: WebSocket) -> bool:
        url = self.public_url(websocket.url.path, websocket.url.query, websocket=True)
        return self.is_valid(url, {}, websocket.headers.get(SIGNATURE_HEADER))
