"""Fixtures shared by the whole suite: a real NATS server with JetStream, started once.

``NATS_URL`` in the environment points the suite at an existing server instead.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from baton_devtools.nats_server import start_nats_server
from libs.platform.streams import reset_streams


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    existing = os.environ.get("BATON_TEST_NATS_URL")
    if existing:
        yield existing
        return
    server = start_nats_server()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def nats_client(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def js(nats_client: Client) -> AsyncIterator[JetStreamContext]:
    """JetStream with every Baton stream and bucket declared fresh for the test."""
    context = nats_client.jetstream()
    await reset_streams(context, replicas=1)
    yield context
