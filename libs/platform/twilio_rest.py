"""A small async client for Twilio's REST paths, honouring ``TWILIO_API_BASE_URL``.

One pooled ``httpx.AsyncClient`` per process (keep-alive: no TLS handshake per call). When a
base URL is set, every product's host is replaced by it and Twilio's own paths are kept,
which is how the emulator serves them all.

Every call names its operation (``studio.execution.create``, ``messages.create``, …): its
client span carries that name with the stable HTTP attributes, and
``baton_twilio_request_seconds{operation,status}`` measures it, ``status`` being Twilio's
HTTP status or ``error`` when no answer came (timeout, connection refused).
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

import httpx

from libs.platform.metrics import REQUEST_BUCKETS, Histogram
from libs.platform.settings import TwilioApiKeySettings
from libs.platform.tracing import OPERATION_EXTENSION

TWILIO_REQUEST_TIME = Histogram(
    "baton_twilio_request_seconds",
    "Twilio REST calls by operation and answer (HTTP status, or `error` when none came).",
    otel_name="baton.twilio.request.duration",
    buckets=REQUEST_BUCKETS,
    labels=("operation", "status"),
)
NO_ANSWER = "error"


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

    async def request(
        self, operation: str, method: str, product: TwilioProduct, path: str, **options: Any
    ) -> httpx.Response:
        """One call, spanned and measured as ``operation``; ``options`` go to ``httpx``."""
        started = time.perf_counter()
        status = NO_ANSWER
        try:
            response = await self._http.request(
                method,
                self.url(product, path),
                extensions={OPERATION_EXTENSION: operation},
                **options,
            )
            status = str(response.status_code)
            return response
        finally:
            TWILIO_REQUEST_TIME.observe(
                time.perf_counter() - started, operation=operation, status=status
            )

    async def post_form(
        self, operation: str, product: TwilioProduct, path: str, data: dict[str, str]
    ) -> httpx.Response:
        return await self.request(operation, "POST", product, path, data=data)

    async def send_json(
        self, operation: str, method: str, product: TwilioProduct, path: str, body: dict[str, Any]
    ) -> httpx.Response:
        return await self.request(operation, method, product, path, json=body)

    async def get(
        self,
        operation: str,
        product: TwilioProduct,
        path: str,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await self.request(operation, "GET", product, path, params=params)

    async def aclose(self) -> None:
        await self._http.aclose()
