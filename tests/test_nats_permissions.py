"""Per-service NATS permissions: each service connects as its own user, allowed only the subjects
and JetStream calls it uses (``libs/platform/nats_permissions.py``), and the whole route still
works on a real nats-server that enforces them; ``deploy/nats/values.yaml`` ships the same."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import nats
import pytest
import yaml
from nats.js import JetStreamContext

from baton_devtools.nats_server import LocalNatsServer, free_port, start_nats_server
from libs.contracts.messages import HandoffOutcome, HandoffResult
from libs.contracts.subjects import HANDOFF_RESULT
from libs.platform.nats_permissions import (
    authorization_users,
    password_variable,
    service_permissions,
)
from libs.platform.streams import reset_streams
from services.agent_worker.main import create_app as create_worker
from services.agent_worker.settings import AgentWorkerSettings
from services.handoff_dispatcher.main import create_app as create_dispatcher
from services.handoff_dispatcher.settings import HandoffDispatcherSettings
from services.messaging_gateway.inbound_turns import sms_conversation_id
from services.relay_gateway.main import create_app as create_relay
from services.relay_gateway.settings import RelayGatewaySettings
from tests.support.digital_stack import start_digital_stack
from tests.support.relay_caller import dial
from tests.support.servers import serve
from tests.support.streams import HANDOFF_STREAM, wait_for_messages
from tests.support.twilio_fakes import ACCOUNT_SID, OUR_NUMBER, sid, twilio_env
from tests.support.waits import until

REPO = Path(__file__).resolve().parents[1]


def password(user: str) -> str:
    return f"{user}-password"


def server_config() -> str:
    users = [{**user, "password": password(user["user"])} for user in authorization_users()]
    return f"authorization: {json.dumps({'users': users})}\n"


@pytest.fixture
async def enforcing(tmp_path: Path) -> AsyncIterator[tuple[LocalNatsServer, Path]]:
    config = tmp_path / "nats.conf"
    config.write_text(server_config())
    log = tmp_path / "nats.log"
    server = start_nats_server(config_file=str(config), log_file=str(log))
    try:
        yield server, log
    finally:
        server.stop()


def credentials(user: str) -> dict[str, Any]:
    return {"nats_user": user, "nats_password": password(user)}


async def test_the_digital_route_runs_with_each_service_limited_to_its_subjects(
    enforcing: tuple[LocalNatsServer, Path],
) -> None:
    server, log = enforcing
    admin = await nats.connect(server.url, user="baton-admin", password=password("baton-admin"))
    try:
        js: JetStreamContext = admin.jetstream()
        await reset_streams(js, replicas=1)
        async with AsyncExitStack() as stack:
            digital = await start_digital_stack(
                stack,
                server.url,
                gateway_overrides=credentials("messaging-gateway"),
                dispatcher_overrides=credentials("handoff-dispatcher"),
                worker=AgentWorkerSettings(nats_url=server.url, **credentials("agent-worker")),
            )
            number = "+15005550999"
            await digital.text_in("what are your opening hours?", number)
            assert await digital.wait_outbox(number, 1), "a reply went out"
            await digital.text_in("I want to talk to a human", number)
            conversation = sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, number)
            [result] = await wait_for_messages(
                js, HANDOFF_STREAM, HANDOFF_RESULT.subject(conversation), HandoffResult
            )
            assert result.outcome is HandoffOutcome.DELIVERED
    finally:
        await admin.close()
    violations = [line for line in log.read_text().splitlines() if "Violation" in line]
    assert violations == []


async def test_a_service_cannot_use_another_services_subjects(
    enforcing: tuple[LocalNatsServer, Path],
) -> None:
    server, log = enforcing
    worker = await nats.connect(server.url, user="agent-worker", password=password("agent-worker"))
    try:
        await worker.publish("baton.handoff.result.x", b"{}")
        await worker.publish("$JS.API.STREAM.DELETE.BATON_TURNS", b"")
        await worker.subscribe("baton.turns.>")
        await worker.flush()
    finally:
        await worker.close()

    def refused() -> list[str]:
        return [line for line in log.read_text().splitlines() if "Violation" in line]

    await until(lambda: len(refused()) >= 3)  # the server writes its log on its own time
    assert len(refused()) == 3, refused()
    assert all('"$G/user:agent-worker"' in line for line in refused())


def test_the_helm_values_ship_these_permissions() -> None:
    values = yaml.safe_load((REPO / "deploy" / "nats" / "values.yaml").read_text())
    users = values["config"]["merge"]["authorization"]["users"]
    assert users == authorization_users()
    environment = values["container"]["env"]
    for user in service_permissions():
        secret = environment[password_variable(user)]["valueFrom"]["secretKeyRef"]
        assert secret == {"name": "baton-nats-users", "key": user}, user


async def test_a_voice_handoff_runs_with_each_service_limited_to_its_subjects(
    enforcing: tuple[LocalNatsServer, Path],
) -> None:
    server, log = enforcing
    admin = await nats.connect(server.url, user="baton-admin", password=password("baton-admin"))
    try:
        await reset_streams(admin.jetstream(), replicas=1)
        async with AsyncExitStack() as stack:
            port = free_port()
            public = f"http://127.0.0.1:{port}"
            relay = RelayGatewaySettings(
                **twilio_env(server.url, public_base_url=public, **credentials("relay-gateway"))
            )
            await stack.enter_async_context(serve(create_relay(relay), port))
            worker = AgentWorkerSettings(nats_url=server.url, **credentials("agent-worker"))
            await stack.enter_async_context(serve(create_worker(worker)))
            dispatcher = HandoffDispatcherSettings(
                **twilio_env(
                    server.url,
                    twilio_api_base_url="http://127.0.0.1:9",
                    **credentials("handoff-dispatcher"),
                )
            )
            await stack.enter_async_context(serve(create_dispatcher(dispatcher)))
            caller = await dial(public, sid("CA"))
            await caller.say("I want to talk to a human")
            frames: list[dict[str, Any]] = []
            while not frames or frames[-1].get("type") != "end":
                frames.append(await caller.next_frame())
            await caller.hang_up()
    finally:
        await admin.close()
    violations = [line for line in log.read_text().splitlines() if "Violation" in line]
    assert violations == []
