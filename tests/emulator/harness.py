"""Serving the emulator over real HTTP, the official twilio client pointed at it, and a webhook
receiver that checks signatures the way a Baton gateway does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from emulator.settings import EmulatorSettings
from emulator.twilio_client import RewritingClient
from tests.support.twilio_fakes import (
    ACCOUNT_SID,
    API_KEY,
    API_SECRET,
    AUTH_TOKEN,
    FLOW_SID,
    OUR_NUMBER,
)


def emulator_settings(url: str, **extra: Any) -> EmulatorSettings:
    values: dict[str, Any] = {
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_api_key": API_KEY,
        "twilio_api_secret": API_SECRET,
        "twilio_studio_handoff_flow_sid": FLOW_SID,
        "twilio_phone_number": OUR_NUMBER,
        "emulator_public_url": url,
    }
    values.update(extra)
    return EmulatorSettings(**values)


@dataclass
class Emulator:
    url: str
    app: FastAPI
    settings: EmulatorSettings
    admin: httpx.AsyncClient
    """Unauthenticated client for ``/_emulator``."""

    def twilio(self, username: str = ACCOUNT_SID, password: str = AUTH_TOKEN) -> Client:
        """The official client; pass the API key pair to authenticate with a key."""
        account = ACCOUNT_SID if username.startswith("SK") else None
        return Client(
            username, password, account_sid=account, http_client=RewritingClient(self.url)
        )

    def rest(self, username: str = ACCOUNT_SID, password: str = AUTH_TOKEN) -> httpx.AsyncClient:
        """A plain client, for headers and bodies the twilio library does not expose."""
        return httpx.AsyncClient(base_url=self.url, auth=(username, password), timeout=5)

    async def open_conversation(self, customer: str, ours: str) -> str:
        """An Orchestrator conversation created the way TAC creates one, customer and bot."""
        body = {
            "configurationId": self.settings.twilio_conversation_configuration_id,
            "participants": [
                {"type": "CUSTOMER", "addresses": [{"channel": "SMS", "address": customer}]},
                {"type": "AI_AGENT", "addresses": [{"channel": "SMS", "address": ours}]},
            ],
        }
        async with self.rest() as rest:
            created = await rest.post("/v2/Conversations", json=body)
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    async def get(self, path: str, **params: str) -> Any:
        response = await self.admin.get(path, params=params)
        response.raise_for_status()
        return response.json()

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        response = await self.admin.post(path, json=body)
        assert response.status_code < 300, response.text
        return response.json()


async def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a blocking twilio client call off the event loop that serves the emulator."""
    return await asyncio.to_thread(function, *args, **kwargs)


@dataclass
class Delivery:
    path: str
    valid: bool
    idempotency_token: str | None
    params: dict[str, str] = field(default_factory=dict)
    body: str = ""


class Receiver:
    """A stand-in gateway: validates ``X-Twilio-Signature`` and keeps every delivery."""

    def __init__(self, public_base: str | None = None) -> None:
        self.public_base = public_base
        self.deliveries: list[Delivery] = []
        self.sms_reply = ""
        self.validator = RequestValidator(AUTH_TOKEN)
        self.app = FastAPI()
        self.app.add_api_route("/{path:path}", self.handle, methods=["POST"])

    def signed_url(self, request: Request) -> str:
        if not self.public_base:
            return str(request.url)
        query = f"?{request.url.query}" if request.url.query else ""
        return f"{self.public_base}{request.url.path}{query}"

    async def handle(self, request: Request) -> Response:
        signature = request.headers.get("x-twilio-signature", "")
        token = request.headers.get("i-twilio-idempotency-token")
        url = self.signed_url(request)
        if request.headers.get("content-type", "").startswith("application/json"):
            raw = (await request.body()).decode()
            valid = bool(self.validator.validate(url, raw, signature))
            self.deliveries.append(Delivery(request.url.path, valid, token, body=raw))
        else:
            form = await request.form()
            valid = bool(self.validator.validate(url, form, signature))
            params = {name: str(value) for name, value in form.multi_items()}
            self.deliveries.append(Delivery(request.url.path, valid, token, params=params))
        if not valid:
            return Response(status_code=403)
        if request.url.path == "/sms" and self.sms_reply:
            return Response(self.sms_reply, media_type="application/xml")
        return Response("<Response/>", media_type="application/xml")


async def orchestrator_conversation(emulator: Emulator, customer: str, channel: str) -> str:
    """A conversation the customer opened by writing in (Orchestrator posts its webhook)."""
    from tests.support.servers import serve

    hooks = Receiver()
    async with serve(hooks.app) as url:
        opened = await emulator.post(
            "/_emulator/orchestrator/communication",
            {"author": customer, "channel": channel, "text": "hi", "webhook_url": f"{url}/hook"},
        )
    return str(opened["conversation_id"])
