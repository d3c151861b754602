"""Signed webhooks, sent the way Twilio sends them, and re-sent identically on a retry.

Form webhooks are signed over the URL plus the sorted form parameters; JSON webhooks carry
``bodySHA256=<hex>`` in the query and are signed over that full URL with no parameters
(twilio's ``RequestValidator``). Each delivery carries a fresh ``I-Twilio-Idempotency-Token``; a
replay re-sends the same bytes, token and signature, which is what a Twilio retry looks like.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from twilio.request_validator import RequestValidator

from emulator.settings import EmulatorSettings
from emulator.store import EmulatorState, WebhookDelivery
from emulator.wire import utc_now


class WebhookSender:
    def __init__(self, settings: EmulatorSettings, state: EmulatorState) -> None:
        self._settings = settings
        self._state = state
        self._validator = RequestValidator(settings.twilio_auth_token)
        self._http: httpx.AsyncClient | None = None
        self._pending: set[asyncio.Task[Any]] = set()

    def signed_url(self, target: str) -> str:
        """The URL the signature covers: the target itself, or its path on the public base."""
        base = self._settings.emulator_webhook_base_url
        if not base:
            return target
        parts = urlsplit(target)
        query = f"?{parts.query}" if parts.query else ""
        return f"{base.rstrip('/')}{parts.path}{query}"

    async def send_form(
        self, kind: str, message_sid: str, url: str, params: dict[str, str]
    ) -> WebhookDelivery:
        signature = self._validator.compute_signature(self.signed_url(url), params)
        delivery = self._delivery(
            kind,
            message_sid,
            url,
            self.signed_url(url),
            urlencode(params).encode(),
            "application/x-www-form-urlencoded",
            signature,
        )
        return await self.deliver(delivery)

    async def send_json(
        self, kind: str, message_sid: str, url: str, body: dict[str, Any]
    ) -> WebhookDelivery:
        raw = json.dumps(body)
        digest = hashlib.sha256(raw.encode()).hexdigest()
        separator = "&" if "?" in url else "?"
        target = f"{url}{separator}bodySHA256={digest}"
        signed = self.signed_url(target)
        signature = self._validator.compute_signature(signed, {})
        delivery = self._delivery(
            kind, message_sid, target, signed, raw.encode(), "application/json", signature
        )
        return await self.deliver(delivery)

    def _delivery(
        self,
        kind: str,
        message_sid: str,
        url: str,
        signed_url: str,
        content: bytes,
        content_type: str,
        signature: str,
    ) -> WebhookDelivery:
        token = str(uuid.uuid4())
        delivery = WebhookDelivery(
            kind=kind,
            message_sid=message_sid,
            url=url,
            signed_url=signed_url,
            content=content,
            headers={
                "Content-Type": content_type,
                "X-Twilio-Signature": signature,
                "I-Twilio-Idempotency-Token": token,
                "User-Agent": "TwilioProxy/1.1",
                "Accept": "*/*",
            },
            idempotency_token=token,
        )
        self._state.webhooks[message_sid] = delivery
        return delivery

    async def deliver(self, delivery: WebhookDelivery) -> WebhookDelivery:
        """POST the stored request; a transport failure is recorded, never raised."""
        delivery.attempts += 1
        delivery.at = utc_now()
        try:
            response = await self._client().post(
                delivery.url, content=delivery.content, headers=delivery.headers
            )
        except httpx.HTTPError as error:
            delivery.status_code = None
            delivery.response_body = ""
            delivery.error = f"{type(error).__name__}: {error}"
            return delivery
        delivery.status_code = response.status_code
        delivery.response_body = response.text
        delivery.error = None
        return delivery

    async def replay(self, message_sid: str) -> WebhookDelivery | None:
        delivery = self._state.webhooks.get(message_sid)
        return await self.deliver(delivery) if delivery else None

    def send_later(self, delivery: Coroutine[Any, Any, Any]) -> None:
        """Send after the REST answer, as Twilio fires post-event webhooks asynchronously."""
        task = asyncio.create_task(delivery)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self._settings.emulator_webhook_timeout_seconds,
                follow_redirects=False,
                trust_env=False,
            )
        return self._http

    async def aclose(self) -> None:
        for task in list(self._pending):
            task.cancel()
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None
