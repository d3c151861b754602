"""The migration guide's example agent, written the TAC way, answers and hands off on Baton."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from types import ModuleType

import pytest
from nats.js import JetStreamContext

from tests.support.digital_stack import DigitalStack, start_digital_stack

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tac_agent.py"
TEXTER = "+15005550401"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tac_agent_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def digital(
    nats_url: str, js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[DigitalStack]:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    async with AsyncExitStack() as stack:
        yield await start_digital_stack(stack, nats_url, agent=load_example().agent)


async def test_the_tac_style_agent_uses_its_tool_and_hands_off(digital: DigitalStack) -> None:
    await digital.text_in("where is order 5512?", TEXTER)
    (answer,) = await digital.wait_outbox(TEXTER, 1)
    assert answer["body"] == "Order 5512 is shipped."
    await digital.text_in("I want to talk to a human", TEXTER)
    replies = await digital.wait_outbox(TEXTER, 2)
    assert replies[-1]["body"].startswith("Of course, I'm connecting you")
    posts = await digital.admin("GET", "/requests", params={"path_prefix": "/v2/Flows"})
    (post,) = [p for p in posts if p["form"]["To"] == TEXTER]
    attributes = json.loads(post["form"]["Parameters"])["HandoffData"]["attributes"]
    assert attributes["department"] == "support" and attributes["priority"] == "normal"
    assert attributes["reason"] == "customer asked for a human"
