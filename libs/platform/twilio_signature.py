"""Checking ``X-Twilio-Signature`` on webhooks and WebSocket upgrades with twilio's validator.

Twilio signs the URL it requested, so the URL is rebuilt from ``PUBLIC_BASE_URL`` plus the
request's path and query: what a proxy or ingress did to the host does not matter. Every
refusal is logged with that URL and counted (see :mod:`libs.platform.request_metrics`).

Before any work a webhook's body is bounded: a form webhook must be
``application/x-www-form-urlencoded`` (415 otherwise, so no multipart parser ever runs on
an unsigned body), and no body may exceed ``BATON_WEBHOOK_MAX_BYTES`` (413, checked against
``Content-Length`` before reading and while reading a body sent without one). A validator
that fails on odd input counts as a bad signature (403), never a 500.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from fastapi import HTTPException, Request, WebSocket
from starlette.datastructures import FormData, UploadFile
from twilio.request_validator import RequestValidator

from libs.platform.request_metrics import input_rejected, signature_rejected

log = logging.getLogger("baton.webhooks")

SIGNATURE_HEADER = "X-Twilio-Signature"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
DEFAULT_MAX_BODY_BYTES = 64 * 1024
"""Twilio's largest webhook (a 1,600-character SMS with every parameter) is a few KiB."""
MAX_FORM_FIELDS = 200


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def bounded_body(request: Request, limit: int) -> bytes:
    """The body, or 413 as soon as it is known to exceed ``limit`` bytes (before reading it
    when ``Content-Length`` says so; while reading it otherwise)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        input_rejected(request.scope, "too_large" if declared.isdigit() else "bad_length")
        raise HTTPException(status_code=413 if declared.isdigit() else 400, detail="body size")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            input_rejected(request.scope, "too_large")
            raise HTTPException(status_code=413, detail=f"body larger than {limit} bytes")
    return bytes(body)


class TwilioSignature:
    def __init__(
        self,
        auth_token: str,
        public_base_url: str,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self._validator = RequestValidator(auth_token)
        self._base = public_base_url.rstrip("/")
        self.max_body_bytes = max_body_bytes

    def public_url(self, path: str, query: str = "", *, websocket: bool = False) -> str:
        url = f"{self._base}{path}" + (f"?{query}" if query else "")
        if not websocket:
            return url
        parts = urlsplit(url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, *parts[1:]))

    def is_valid(self, url: str, params: Any, signature: str | None) -> bool:
        if not signature:
            return False
        try:
            return bool(self._validator.validate(url, params, signature))
        except Exception as error:  # odd input the validator cannot handle is not signed
            log.info("signature check failed on odd input: %s", type(error).__name__)
            return False

    def _check(self, request: Request | WebSocket, url: str, params: Any) -> str | None:
        """Why the signature does not hold (logged and counted), or ``None`` when it does."""
        signature = request.headers.get(SIGNATURE_HEADER)
        if signature and self.is_valid(url, params, signature):
            return None
        reason = "invalid_signature" if signature else "missing_signature"
        signature_rejected(request.scope, url, reason)
        return reason

    async def signed_form(self, request: Request) -> FormData:
        """The form of a signed webhook, or 415/413/403 (nothing else happens for a forged or
        oversized request)."""
        if media_type(request) != FORM_CONTENT_TYPE:
            input_rejected(request.scope, "unsupported_media_type")
            raise HTTPException(status_code=415, detail=f"only {FORM_CONTENT_TYPE}")
        body = await bounded_body(request, self.max_body_bytes)
        url = self.public_url(request.url.path, request.url.query)
        try:
            text = body.decode()
            fields: list[tuple[str, str | UploadFile]] = list(
                parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
            )
        except ValueError as error:  # not UTF-8, or too many fields
            signature_rejected(request.scope, url, "unreadable_form")
            raise HTTPException(status_code=403, detail="unreadable form") from error
        form = FormData(fields)
        if self._check(request, url, form):
            raise HTTPException(status_code=403, detail="invalid X-Twilio-Signature")
        return form

    async def signed_json_body(self, request: Request) -> bytes:
        """The raw body of a signed JSON webhook (``bodySHA256`` in the URL), or 413/403."""
        body = await bounded_body(request, self.max_body_bytes)
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
