"""Both gateways served on a thread of their own, for hostile-input tests driven by hypothesis.

Hypothesis runs plain functions, so the gateways, a stand-in for Twilio's REST API that
records every request it gets, and a NATS subscriber counting every message on Baton's
subjects run on a background event loop; a test sends requests with a synchronous client
and reads the counts. Every log record is kept, to prove no request left a traceback.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from collections.abc import Coroutine, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import nats
from fastapi import FastAPI, Request, Response
from twilio.request_validator import RequestValidator

from baton_devtools.nats_server import free_port
from libs.platform.streams import reset_streams
from services.messaging_gateway.main import create_app as create_messaging
from services.messaging_gateway.settings import MessagingGatewaySettings
from services.relay_gateway.main import create_app as create_relay
from services.relay_gateway.settings import RelayGatewaySettings
from tests.support.servers import serve
from tests.support.twilio_fakes import AUTH_TOKEN, twilio_env

T = TypeVar("T")
BATON_SUBJECTS = "baton.>"
MESSAGING_FORMS = (
    "/messaging/sms",
    "/messaging/conversations",
    "/messaging/taskrouter-events",
)
VOICE_FORMS = ("/voice/incoming", "/voice/action", "/voice/status")
JSON_ENDPOINTS = ("/messaging/orchestrator", "/messaging/handback")
REQUEST_LOGGERS = ("uvicorn", "starlette", "fastapi", "baton", "twilio", "httpx")


class KeptRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def tracebacks(self) -> list[str]:
        """Each record of request handling (uvicorn, Starlette, FastAPI, Baton) that carries a
        traceback or reports an unhandled exception. FastStream's consumer supervisor, which
        logs its own pull timeouts with a traceback, is not request handling."""
        return [
            f"{record.name}: {record.getMessage()}"
            for record in self.records
            if record.name.startswith(REQUEST_LOGGERS)
            and record.exc_info
            or "Traceback" in record.getMessage()
            or "Exception in ASGI application" in record.getMessage()
        ]


def twilio_recorder(requests: list[str]) -> FastAPI:
    """Twilio's REST API as far as the gateways can tell: every request answers an empty
    success and is recorded."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def anything(path: str, request: Request) -> Response:
        requests.append(f"{request.method} /{path}")
        return Response(json.dumps({"participants": []}), media_type="application/json")

    return app


@dataclass
class Tally:
    """What a fuzzing test prints: cases tried, refused (4xx), published to NATS."""

    tried: int = 0
    refused: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def count(self, status: int) -> None:
        self.tried += 1
        self.refused += 400 <= status < 500
        self.statuses[status] = self.statuses.get(status, 0) + 1


@dataclass
class Gateways:
    messaging: str
    relay: str
    published: list[str]
    twilio_requests: list[str]
    records: KeptRecords
    loop: asyncio.AbstractEventLoop
    subscriber: Any
    http: httpx.Client

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def settled_counts(self) -> tuple[int, int]:
        """Messages published and Twilio requests so far (NATS round trip first, so a message
        published before a response was sent has arrived)."""
        self.run(self.subscriber.flush())
        return len(self.published), len(self.twilio_requests)

    def url(self, path: str) -> str:
        return f"{self.relay if path.startswith('/voice') else self.messaging}{path}"

    def post_form(
        self, path: str, fields: dict[str, str], *, signed: bool, query: str = ""
    ) -> httpx.Response:
        url = self.url(path) + (f"?{query}" if query else "")
        headers = {}
        if signed:
            headers["X-Twilio-Signature"] = RequestValidator(AUTH_TOKEN).compute_signature(
                url, fields
            )
        return self.http.post(url, data=fields, headers=headers)

    def post_json(self, path: str, body: bytes, *, signed: bool) -> httpx.Response:
        digest = hashlib.sha256(body).hexdigest()
        url = f"{self.url(path)}?bodySHA256={digest}"
        headers = {"Content-Type": "application/json"}
        if signed:
            headers["X-Twilio-Signature"] = RequestValidator(AUTH_TOKEN).compute_signature(
                url, {}
            )
        return self.http.post(url, content=body, headers=headers)

    def healthy(self) -> bool:
        return all(
            self.http.get(f"{base}/readyz").status_code == 200
            for base in (self.messaging, self.relay)
        )


async def _start(stack: AsyncExitStack, nats_url: str, gateways: dict[str, Any]) -> None:
    client = await nats.connect(nats_url)
    stack.push_async_callback(client.close)
    await reset_streams(client.jetstream(), replicas=1)
    published: list[str] = gateways["published"]

    async def count(message: Any) -> None:
        published.append(message.subject)

    await client.subscribe(BATON_SUBJECTS, cb=count)
    gateways["subscriber"] = client
    twilio_port = free_port()
    twilio_url = await stack.enter_async_context(
        serve(twilio_recorder(gateways["twilio_requests"]), twilio_port)
    )
    messaging_port, relay_port = free_port(), free_port()
    messaging_url = f"http://127.0.0.1:{messaging_port}"
    relay_url = f"http://127.0.0.1:{relay_port}"
    common = twilio_env(nats_url, twilio_api_base_url=twilio_url, baton_webhook_store_seconds=2)
    messaging = MessagingGatewaySettings(
        **common, public_base_url=messaging_url, twilio_conversation_configuration_id="conf_1"
    )
    relay = RelayGatewaySettings(**twilio_env(nats_url, public_base_url=relay_url))
    gateways["messaging"] = await stack.enter_async_context(
        serve(create_messaging(messaging), messaging_port)
    )
    gateways["relay"] = await stack.enter_async_context(serve(create_relay(relay), relay_port))


@contextmanager
def running_gateways(nats_url: str) -> Iterator[Gateways]:
    """Both gateways and their recorders on a background loop, until the block ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    stack = AsyncExitStack()
    parts: dict[str, Any] = {"published": [], "twilio_requests": []}
    records = KeptRecords()
    root = logging.getLogger()
    root.addHandler(records)
    try:
        asyncio.run_coroutine_threadsafe(_start(stack, nats_url, parts), loop).result(60)
        with httpx.Client(timeout=30) as http:
            yield Gateways(
                messaging=parts["messaging"],
                relay=parts["relay"],
                published=parts["published"],
                twilio_requests=parts["twilio_requests"],
                records=records,
                loop=loop,
                subscriber=parts["subscriber"],
                http=http,
            )
    finally:
        root.removeHandler(records)
        asyncio.run_coroutine_threadsafe(stack.aclose(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
