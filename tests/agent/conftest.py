"""A scripted OpenAI-compatible server on a free port, and the official client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from openai import AsyncOpenAI

from tests.agent.openai_server import ScriptedModel, create_app
from tests.support.servers import serve

API_KEY = "sk-baton-test"


@pytest.fixture
def model() -> Iterator[ScriptedModel]:
    """The script; a test passes only if every request Baton made is one OpenAI accepts."""
    scripted = ScriptedModel()
    yield scripted
    assert scripted.refused == [], "Baton sent a request OpenAI answers 400"


@pytest.fixture
async def openai_url(model: ScriptedModel) -> AsyncIterator[str]:
    async with serve(create_app(model)) as url:
        yield f"{url}/v1"


@pytest.fixture
async def client(openai_url: str) -> AsyncIterator[AsyncOpenAI]:
    client = AsyncOpenAI(api_key=API_KEY, base_url=openai_url, timeout=5.0, max_retries=1)
    try:
        yield client
    finally:
        await client.close()
