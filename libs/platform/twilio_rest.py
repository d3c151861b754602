"""A small async client for Twilio's REST paths, honouring ``TWILIO_API_BASE_URL``.

One ``httpx`` client per process, on aiohttp's connection pool
(:mod:`libs.platform.aiohttp_transport`: about half httpcore's CPU per call, however many
connections it holds). Connections are kept alive (no TLS handshake per call) and a burst
finds those the previous one left open; one left idle for 5 s (httpx's default expiry) is
closed. When a base URL is set, every product's host is replaced by it and Twilio's own
paths are kept, which is how the emulator serves them all.

Every call names its operation (``studio.execution.create``, ``messages.create``, …): its
client span carries that name with the stable HTTP attributes, and
``baton_twilio_request_seconds{operation,status}`` measures it, ``status`` being Twilio's
HTTP status or ``error`` when no answer came (timeout, connection refused).

A POST that failed in transport either never reached Twilio (the connection could not be
opened) or may have been acted on (the request went out, the answer did not come back):
:func:`reached_twilio` tells the two apart, so only the first kind is retried blindly.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

from libs.platform.aiohttp_transport import AiohttpTransport
from libs.platform.metrics import REQUEST_BUCKETS, Histogram
from libs.platform.settings import TwilioApiKeySettings
from libs.platform.tracing import OPERATION_EXTENSION, traced

TWILIO_REQUEST_TIME = Histogram(
    "baton_twilio_request_seconds",
    "Twilio REST calls by operation and answer (HTTP status, or `error` when none came).",
    otel_name="baton.twilio.request.duration",
    buckets=REQUEST_BUCKETS,
    labels=("operation", "status"),
)
NO_ANSWER = "error"
MIN_CONNECTIONS = 100
"""Connections open at once, at the least: a burst beyond ``concurrency`` opens more
rather than waiting for one."""


class TwilioProduct(StrEnum):
    API = "https://api.twilio.com"
    STUDIO = "https://studio.twilio.com"
    CONVERSATIONS = "https://conversations.twilio.com"
    TASKROUTER = "https://taskrouter.twilio.com"
    FLEX = "https://flex-api.twilio.com"
    MEMORY = "https://memory.twilio.com"


NEVER_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)
"""Transport failures before any byte of the request left: Twilio cannot have acted on it."""


def segment(value: str | None) -> str:
    """One REST path segment, percent-quoted (``/`` included): an id that came from outside
    can never reach another path; an empty, ``.`` or ``..`` segment is refused."""
    text = value or ""
    if text in ("", ".", ".."):
        raise ValueError(f"not a REST path segment: {text!r}")
    return quote(text, safe="")


def reached_twilio(error: httpx.TransportError) -> bool:
    """True when the request may have been acted on (read timeout, dropped connection)."""
    return not isinstance(error, NEVER_SENT)


def outcome_unknown(response: httpx.Response) -> bool:
    """A 5xx may come after Twilio acted (only 429 is documented as never processed)."""
    return response.status_code >= 500


class TwilioRestClient:
    def __init__(
        self,
        *,
        username: str,
        password: str,
        base_url: str | None = None,
        timeout_seconds: float = 10.0,
        concurrency: int = 20,
    ) -> None:
        self._base_url = base_url.rstrip("/") if base_url else None
        limits = httpx.Limits(max_connections=max(concurrency, MIN_CONNECTIONS))
        self._client = httpx.AsyncClient(
            auth=httpx.BasicAuth(username, password),
            timeout=timeout_seconds,
            headers={"Accept": "application/json", "User-Agent": "baton/0.1"},
            transport=traced(AiohttpTransport(limits=limits)),
        )

    @classmethod
    def for_api_key(
        cls, settings: TwilioApiKeySettings, timeout_seconds: float = 10.0, concurrency: int = 20
    ) -> TwilioRestClient:
        """Basic auth with ``TWILIO_API_KEY``:``TWILIO_API_SECRET``, as TAC calls Twilio;
        ``concurrency``: the requests the caller makes at once (connections it may open)."""
        return cls(
            username=settings.twilio_api_key,
            password=settings.twilio_api_secret.get_secret_value(),
            base_url=settings.twilio_api_base_url,
            timeout_seconds=timeout_seconds,
            concurrency=concurrency,
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
            response = await self._client.request(
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

    async def pages(
        self, operation: str, product: TwilioProduct, path: str, params: dict[str, str]
    ) -> AsyncIterator[dict[str, Any]]:
        """Each page of a list, newest first where the API sorts so; a failed page raises
        ``httpx.HTTPStatusError``."""
        request: tuple[str, dict[str, str]] | None = (path, params)
        while request is not None:
            response = await self.get(operation, product, *request)
            response.raise_for_status()
            page: dict[str, Any] = response.json()
            yield page
            request = next_page(page, request)

    async def aclose(self) -> None:
        await self._client.aclose()


def next_page(
    page: dict[str, Any], request: tuple[str, dict[str, str]]
) -> tuple[str, dict[str, str]] | None:
    """The request for the page after ``page``: ``meta.next_page_url`` (Studio, Conversations),
    ``next_page_uri`` (the 2010-04-01 API) or ``meta.nextToken`` (Conversation Orchestrator)."""
    raw_meta = page.get("meta")
    meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    following = meta.get("next_page_url") or page.get("next_page_uri")
    if following:
        parts = urlsplit(str(following))
        return parts.path, dict(parse_qsl(parts.query))
    token = meta.get("nextToken")
    if token:
        path, params = request
        return path, {**params, "pageToken": str(token)}
    return None
