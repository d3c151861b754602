"""The whole route on real HTTP and a real socket: the emulator dials and texts both gateways,
the worker and dispatcher hand off, and the emulator's Studio flow puts the customer in Flex."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx

from baton_devtools.nats_server import free_port
from emulator.app import create_app as create_emulator
from services.agent_worker.main import create_app as create_worker
from services.agent_worker.settings import AgentWorkerSettings
from services.handoff_dispatcher.main import create_app as create_dispatcher
from services.handoff_dispatcher.settings import HandoffDispatcherSettings
from services.messaging_gateway.main import create_app as create_messaging
from services.messaging_gateway.settings import MessagingGatewaySettings
from services.relay_gateway.main import create_app as create_relay
from services.relay_gateway.settings import RelayGatewaySettings
from tests.support.digital_stack import ATTRIBUTES, emulator_settings
from tests.support.servers import serve
from tests.support.twilio_fakes import (
    twilio_env,
)

Json = Any


@dataclass
class RouteStack:
    emulator: str
    http: httpx.AsyncClient

    async def admin(self, method: str, path: str, **kwargs: Any) -> Json:
        response = await self.http.request(method, f"{self.emulator}/_emulator{path}", **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json() if response.content else None

    async def eventually(
        self,
        read: Callable[[], Any],
        accept: Callable[[Any], bool],
        timeout: float = 15.0,
    ) -> Any:
        """Poll ``read`` until ``accept`` holds; the last value otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            value = await read()
            if accept(value) or time.monotonic() > deadline:
                return value
            await asyncio.sleep(0.05)

    async def desktop_tasks(self) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = (await self.admin("GET", "/desktop/tasks"))["tasks"]
        return tasks

    async def task_for(self, customer: str, timeout: float = 15.0) -> dict[str, Any] | None:
        """The newest desktop task of this customer, once one exists."""

        async def mine() -> list[dict[str, Any]]:
            return [t for t in await self.desktop_tasks() if t["customer"] == customer]

        found = await self.eventually(mine, bool, timeout)
        return found[0] if found else None

    async def outbox(self, to: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.admin("GET", "/outbox", params={"to": to})
        return found


async def start_route_stack(
    stack: AsyncExitStack,
    nats_url: str,
    *,
    services: dict[str, Any] | None = None,
    memory_store_id: str = "mem_store_01",
    **emulator: Any,
) -> RouteStack:
    """Emulator, both gateways, one worker and the dispatcher; extra emulator settings apply,
    ``services`` settings go to every service (``memory_store_id`` is the dispatcher's)."""
    emulator_port, messaging_port, relay_port = free_port(), free_port(), free_port()
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    messaging_url = f"http://127.0.0.1:{messaging_port}"
    relay_url = f"http://127.0.0.1:{relay_port}"
    settings = emulator_settings(
        emulator_url,
        messaging_url,
        emulator_relay_voice_url=f"{relay_url}/voice/incoming",
        emulator_relay_status_url=f"{relay_url}/voice/status",
        emulator_handback_url=f"{messaging_url}/messaging/handback",
        emulator_taskrouter_events_url=f"{messaging_url}/messaging/taskrouter-events",
        **emulator,
    )
    await stack.enter_async_context(serve(create_emulator(settings), emulator_port))
    common = twilio_env(nats_url, twilio_api_base_url=emulator_url, **(services or {}))
    messaging = MessagingGatewaySettings(**common, public_base_url=messaging_url)
    await stack.enter_async_context(serve(create_messaging(messaging), messaging_port))
    relay = RelayGatewaySettings(**{**common, "public_base_url": relay_url})
    await stack.enter_async_context(serve(create_relay(relay), relay_port))
    await stack.enter_async_context(serve(create_worker(AgentWorkerSettings(nats_url=nats_url))))
    dispatcher = HandoffDispatcherSettings(
        **common,
        baton_handoff_attributes=ATTRIBUTES,
        twilio_memory_store_id=memory_store_id,
        baton_studio_backoff_seconds=0.1,
    )
    await stack.enter_async_context(serve(create_dispatcher(dispatcher)))
    http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
    return RouteStack(emulator_url, http)
