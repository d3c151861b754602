"""A webhook is answered 2xx only once its turn is stored; a 5xx means it was not stored.

While NATS is unreachable the gateway waits (below Twilio's 15 s webhook timeout) for it to
come back, then answers 503 — and nothing is left in the client's reconnect buffer to be
stored later, behind the 503 (Twilio does not retry an inbound SMS after a 5xx; it calls the
Fallback URL).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import nats
import pytest

from baton_devtools.nats_server import LocalNatsServer, start_nats_server
from libs.contracts.messages import CustomerTurn
from libs.contracts.subjects import TURNS_STREAM
from libs.platform.streams import reset_streams
from services.messaging_gateway.main import create_app
from services.messaging_gateway.settings import MessagingGatewaySettings
from tests.support.servers import serve
from tests.support.twilio_fakes import (
    ACCOUNT_SID,
    CUSTOMER,
    OUR_NUMBER,
    post_signed_form,
    sid,
    twilio_env,
)

PUBLIC = "https://baton.example.test"


class RestartableNats:
    def __init__(self) -> None:
        self.store = tempfile.mkdtemp(prefix="baton-outage-")
        self.server: LocalNatsServer = start_nats_server(store_dir=self.store)
        self.port = self.server.port

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def kill(self) -> None:
        self.server.kill()

    def start(self) -> None:
        self.server = start_nats_server(port=self.port, store_dir=self.store)


@pytest.fixture
def own_nats() -> Iterator[RestartableNats]:
    server = RestartableNats()
    try:
        yield server
    finally:
        server.server.stop()


@pytest.fixture
async def gateway(own_nats: RestartableNats) -> AsyncIterator[str]:
    client = await nats.connect(own_nats.url)
    await reset_streams(client.jetstream(), replicas=1)
    await client.close()
    settings = MessagingGatewaySettings(
        **twilio_env(
            own_nats.url, public_base_url=PUBLIC, twilio_api_base_url="http://127.0.0.1:9"
        ),
        baton_webhook_store_seconds=4,
    )
    async with serve(create_app(settings)) as url:
        yield url


async def text(url: str, body: str) -> tuple[str, httpx.Response]:
    message_sid = sid("SM")
    params = {
        "MessageSid": message_sid,
        "AccountSid": ACCOUNT_SID,
        "From": CUSTOMER,
        "To": OUR_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }
    async with httpx.AsyncClient(timeout=30) as client:
        response = await post_signed_form(
            client, f"{url}/messaging/sms", params, public_url=f"{PUBLIC}/messaging/sms"
        )
    return message_sid, response


async def nats_ready(url: str, ready: bool, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if (await client.get(f"{url}/readyz")).json()["nats"] is ready:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"the gateway never saw NATS {'up' if ready else 'down'}")


async def stored_message_ids(nats_url: str) -> set[str]:
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        count = (await js.stream_info(TURNS_STREAM)).state.messages
        turns = [await js.get_msg(TURNS_STREAM, seq=seq) for seq in range(1, count + 1)]
    finally:
        await client.close()
    return {CustomerTurn.model_validate_json(t.data or b"").message_id for t in turns}


async def test_a_503_during_an_outage_is_never_stored_later(
    own_nats: RestartableNats, gateway: str
) -> None:
    own_nats.kill()
    await nats_ready(gateway, False)
    refused, response = await text(gateway, "are you there?")
    assert response.status_code == 503

    own_nats.start()
    await nats_ready(gateway, True)
    accepted, after = await text(gateway, "and now?")
    assert after.status_code == 200
    stored = await stored_message_ids(own_nats.url)
    assert accepted in stored
    assert refused not in stored, "a turn answered 503 was stored once NATS came back"


async def test_a_short_outage_is_waited_out(own_nats: RestartableNats, gateway: str) -> None:
    own_nats.kill()
    await nats_ready(gateway, False)
    sending = asyncio.create_task(text(gateway, "hello during a blip"))
    await asyncio.sleep(0.3)
    own_nats.start()
    message_sid, response = await sending
    assert response.status_code == 200
    assert message_sid in await stored_message_ids(own_nats.url)
