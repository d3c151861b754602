"""Fake Twilio credentials (never real ones) and signed requests as Twilio sends them."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from emulator import fake_account

ACCOUNT_SID = fake_account.ACCOUNT_SID
AUTH_TOKEN = fake_account.AUTH_TOKEN
API_KEY = fake_account.API_KEY
API_SECRET = fake_account.API_SECRET
FLOW_SID = fake_account.STUDIO_FLOW_SID
OUR_NUMBER = fake_account.PHONE_NUMBER
CUSTOMER = fake_account.CUSTOMER_NUMBER


def sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def twilio_env(nats_url: str, **extra: Any) -> dict[str, Any]:
    """Keyword arguments for any service settings class."""
    values: dict[str, Any] = {
        "nats_url": nats_url,
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_api_key": API_KEY,
        "twilio_api_secret": API_SECRET,
        "twilio_phone_number": OUR_NUMBER,
        "twilio_studio_handoff_flow_sid": FLOW_SID,
    }
    values.update(extra)
    return values


async def post_signed_form(
    client: httpx.AsyncClient,
    url: str,
    params: dict[str, str],
    *,
    public_url: str | None = None,
    token: str = AUTH_TOKEN,
    idempotency_token: str | None = None,
    signature: str | None = None,
) -> httpx.Response:
    """POST a form webhook signed over ``public_url`` (what Twilio requested) as Twilio does."""
    signed = signature or RequestValidator(token).compute_signature(public_url or url, params)
    headers = {"X-Twilio-Signature": signed}
    if idempotency_token:
        headers["I-Twilio-Idempotency-Token"] = idempotency_token
    return await client.post(url, data=params, headers=headers)


async def post_signed_json(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    *,
    public_url: str | None = None,
    token: str = AUTH_TOKEN,
) -> httpx.Response:
    """POST a JSON webhook: ``bodySHA256`` in the URL, the URL signed with empty params."""
    raw = json.dumps(body)
    digest = hashlib.sha256(raw.encode()).hexdigest()
    signed_url = f"{public_url or url}?bodySHA256={digest}"
    signature = RequestValidator(token).compute_signature(signed_url, {})
    return await client.post(
        f"{url}?bodySHA256={digest}",
        content=raw,
        headers={"X-Twilio-Signature": signature, "Content-Type": "application/json"},
    )
