"""The product's Twilio REST client pointed at a test server, closed when the block ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from libs.platform.twilio_rest import TwilioRestClient
from tests.support.twilio_fakes import API_KEY, API_SECRET


@asynccontextmanager
async def rest_client(
    base_url: str, *, password: str = API_SECRET, timeout_seconds: float = 5.0
) -> AsyncIterator[TwilioRestClient]:
    client = TwilioRestClient(
        username=API_KEY, password=password, base_url=base_url, timeout_seconds=timeout_seconds
    )
    try:
        yield client
    finally:
        await client.aclose()
