"""The digital route on real HTTP: emulator ⇄ messaging gateway → worker → dispatcher."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx

from baton_devtools.nats_server import free_port
from emulator.app import create_app as create_emulator
from emulator.settings import EmulatorSettings
from services.agent_worker.agent import Agent
from services.agent_worker.main import create_app as create_worker
from services.agent_worker.settings import AgentWorkerSettings
from services.handoff_dispatcher.main import create_app as create_dispatcher
from services.handoff_dispatcher.settings import HandoffDispatcherSettings
from services.messaging_gateway.main import create_app as create_gateway
from services.messaging_gateway.settings import MessagingGatewaySettings
from tests.support.servers import admin_url, serve
from tests.support.twilio_fakes import (
    ACCOUNT_SID,
    API_KEY,
    API_SECRET,
    AUTH_TOKEN,
    FLOW_SID,
    OUR_NUMBER,
    twilio_env,
)
from tests.support.waits import at_least

ATTRIBUTES = {"department": "support", "priority": "normal"}


@dataclass
class DigitalStack:
    emulator: str
    gateway: str
    http: httpx.AsyncClient
    gateway_admin: str = ""
    """The gateway's admin listener (``/metrics``)."""

    async def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, f"{self.emulator}/_emulator{path}", **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    async def answer_late(self, path_prefix: str, seconds: float) -> None:
        """Twilio acts on the next POST under ``path_prefix`` but answers ``seconds`` later."""
        await self.admin(
            "POST",
            "/faults",
            json={
                "path_prefix": path_prefix,
                "status": 0,
                "delay_seconds": seconds,
                "create_before_delay": True,
            },
        )

    async def text_in(self, body: str, customer: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.admin(
            "POST", "/sms", json={"from": customer, "to": OUR_NUMBER, "body": body}
        )
        return result

    async def outbox(self, to: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.admin("GET", "/outbox", params={"to": to})
        return result

    async def wait_outbox(self, to: str, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        """The texts sent to ``to`` once ``count`` are there, watched a moment longer for more."""
        return await at_least(lambda: self.outbox(to), count, timeout=timeout)

    async def executions(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.admin("GET", "/executions")
        return result


def emulator_settings(emulator_url: str, messaging_url: str, **extra: Any) -> EmulatorSettings:
    """The emulator with the test's fake account, posting webhooks to the messaging gateway."""
    return EmulatorSettings(
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_key=API_KEY,
        twilio_api_secret=API_SECRET,
        twilio_studio_handoff_flow_sid=FLOW_SID,
        twilio_phone_number=OUR_NUMBER,
        emulator_public_url=emulator_url,
        emulator_sms_webhook_url=f"{messaging_url}/messaging/sms",
        emulator_conversations_webhook_url=f"{messaging_url}/messaging/conversations",
        emulator_orchestrator_webhook_url=f"{messaging_url}/messaging/orchestrator",
        **extra,
    )


async def start_digital_stack(
    stack: AsyncExitStack,
    nats_url: str,
    *,
    dispatcher: bool = True,
    dispatcher_overrides: dict[str, Any] | None = None,
    worker: AgentWorkerSettings | None = None,
    agent: Agent | None = None,
    gateway_overrides: dict[str, Any] | None = None,
) -> DigitalStack:
    emulator_port, gateway_port = free_port(), free_port()
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    emulator = emulator_settings(emulator_url, gateway_url)
    await stack.enter_async_context(serve(create_emulator(emulator), emulator_port))
    common = twilio_env(nats_url, twilio_api_base_url=emulator_url)
    gateway = MessagingGatewaySettings(
        **common, public_base_url=gateway_url, **(gateway_overrides or {})
    )
    gateway_app = create_gateway(gateway)
    await stack.enter_async_context(serve(gateway_app, gateway_port))
    worker = worker or AgentWorkerSettings(nats_url=nats_url)
    await stack.enter_async_context(serve(create_worker(worker, agent=agent)))
    if dispatcher:
        settings = HandoffDispatcherSettings(
            **common,
            baton_handoff_attributes=ATTRIBUTES,
            twilio_memory_store_id="mem_store_01",
            baton_studio_backoff_seconds=0.1,
            **(dispatcher_overrides or {}),
        )
        await stack.enter_async_context(serve(create_dispatcher(settings)))
    http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
    return DigitalStack(emulator_url, gateway_url, http, admin_url(gateway_app))
