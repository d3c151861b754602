"""A small async client for Twilio's REST paths, honouring ``TWILIO_API_BASE_URL``.

One pooled ``httpx.AsyncClient`` per process (keep-alive: no TLS handshake per call). When a
base URL is set, every product's host is replaced by it and Twilio's own paths are kept,
which is how the emulator serves them all.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import httpx

from libs.platform.settings import TwilioApiKeySettings


class TwilioProduct(StrEnum):
    API = "https://api.twilio.com"
    STUDIO = "https://studio.twilio.com"
    CONVERSATIONS = "https://conversations.twilio.com"
    TASKROUTER = "https://taskrouter.twilio.com"
    FLEX = "https://flex-api.twilio.com"
    MEMORY = "https://memory.twilio.com"


class TwilioRestClient:
    def __init__(
        self,
        *,
        username: str,
        password: str,
        base_url: str | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._base_url = base_url.rstrip("/") if base_url else None
        self._http = httpx.AsyncClient(
            auth=httpx.BasicAuth(username, password),
            timeout=timeout_seconds,
            headers={"Accept": "application/json", "User-Agent": "baton/0.1"},
        )

    @classmethod
    def for_api_key(
        cls, settings: TwilioApiKeySettings, timeout_seconds: float = 10.0
    ) -> TwilioRestClient:
        """Basic auth with ``TWILIO_API_KEY``:``TWILIO_API_SECRET``, as TAC calls Twilio."""
        return cls(
            username=settings.twilio_api_key,
            password=settings.twilio_api_secret.get_secret_value(),
            base_url=settings.twilio_api_base_url,
            timeout_seconds=timeout_seconds,
        )

    def url(self, product: TwilioProduct, path: str) -> str:
        return f"{self._base_url or product.value}{path}"

    async def post_form(
        self, product: TwilioProduct, path: str, data: dict[str, str]
    ) -> httpx.Response:
        return await self._http.post(self.url(product, path), data=data)

    async def send_json(
        self, method: str, product: TwilioProduct, path: str, body: dict[str, Any]
    ) -> httpx.Response:
        return await self._http.request(method, self.url(product, path), json=body)

    async def get(
        self, product: TwilioProduct, path: str, params: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self._http.get(self.url(product, path), params=params)

    async def aclose(self) -> None:
        await self._http.aclose()
