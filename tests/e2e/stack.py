"""The compose stack under test: ``docker-compose.yml`` with ``compose.e2e.yml`` laid over it,
built and brought up by testcontainers, and driven from the host through the emulator.

Every address is read from the running containers (the engine picks the host ports); nothing
here names a host path but the repository the tests are in.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import httpx
from testcontainers.compose import ComposeContainer, DockerCompose
from testcontainers.core.docker_client import DockerClient

from tests.deploy.compose_file import compose_environment, load_compose
from tests.deploy.k8s_objects import PORTS

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILES = ("docker-compose.yml", "tests/e2e/compose.e2e.yml")
"""Relative to the repository, where ``docker compose`` runs."""

EMULATOR = "emulator"
JAEGER = "jaeger"
JAEGER_QUERY_PORT = 16686
ROLLED_SERVICE = "agent-worker"
"""The service restarted replica by replica in the middle of a conversation."""
DISPATCHER = "handoff-dispatcher"
PUBLISHED = {EMULATOR: PORTS[EMULATOR], JAEGER: JAEGER_QUERY_PORT}
"""The container ports the tests reach from the host, and so the only ones published."""
SMS_TRACE_SERVICES = frozenset(
    {"messaging-gateway", "agent-worker", "handoff-dispatcher", "twilio-emulator"}
)
VOICE_TRACE_SERVICES = frozenset({"relay-gateway", "agent-worker", "handoff-dispatcher"})
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})

REPLY_SECONDS = 90.0
"""Bounds one answer, a redelivery after a restarted replica's lease included."""
HEALTHY_SECONDS = 120.0
TRACE_SECONDS = 90.0
"""Bounds the batch exports of every service, the collector and Jaeger's ingestion."""
STOP_SECONDS = 30
POLL_SECONDS = 0.25

Json = Any
T = TypeVar("T")


def compose_model() -> dict[str, Any]:
    """The merged compose model the tests run, as Compose reads it."""
    return load_compose(*(REPO / name for name in COMPOSE_FILES))


def handoff_attributes() -> dict[str, Any]:
    """The routing attributes the composed dispatcher adds to every handoff."""
    dispatcher = compose_model()["services"][DISPATCHER]
    attributes: dict[str, Any] = json.loads(
        compose_environment(dispatcher)["BATON_HANDOFF_ATTRIBUTES"]
    )
    return attributes


@dataclass
class ComposeProject(DockerCompose):
    """testcontainers' DockerCompose under a project name of its own, so the stack a developer
    runs with ``docker compose up`` (project ``baton``) is never touched."""

    project_name: str = field(default_factory=lambda: f"baton-e2e-{secrets.token_hex(4)}")

    @cached_property
    def compose_command_property(self) -> list[str]:
        return [*super().compose_command_property, "--project-name", self.project_name]


def compose_project() -> ComposeProject:
    return ComposeProject(
        context=REPO, compose_file_name=list(COMPOSE_FILES), build=True, wait=True
    )


def eventually(read: Callable[[], T], accept: Callable[[T], bool], timeout: float) -> T:
    """Poll ``read`` until ``accept`` holds or ``timeout`` passes; the last value either way."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if accept(value) or time.monotonic() > deadline:
            return value
        time.sleep(POLL_SECONDS)


@dataclass
class EmulatorDriver:
    """The emulator's admin API as the tests use it: customers text and call, and the agent
    desktop shows the Flex tasks."""

    http: httpx.Client
    """Its base URL is the emulator's."""

    def admin(self, method: str, path: str, **kwargs: Any) -> Json:
        response = self.http.request(method, f"/_emulator{path}", **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json() if response.content else None

    def outbox(self, to: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.admin("GET", "/outbox", params={"to": to})
        return found

    def text(self, customer: str, body: str) -> None:
        self.admin("POST", "/sms", json={"from": customer, "body": body})

    def replies(self, customer: str, count: int) -> list[str]:
        """The texts the customer has received, once there are ``count`` of them."""
        outbox = eventually(lambda: self.outbox(customer), lambda o: len(o) >= count, REPLY_SECONDS)
        return [str(message["body"]) for message in outbox]

    def call(self, caller: str, prompts: list[str]) -> str:
        """Dial the relay gateway; the caller says each prompt after the bot's answer."""
        placed = self.admin("POST", "/calls", json={"from": caller, "prompts": prompts})
        return str(placed["call_sid"])

    def call_once(self, call_sid: str, state: str) -> dict[str, Any]:
        """The call, once it is in ``state`` (or as last seen after the bound)."""
        found: dict[str, Any] = eventually(
            lambda: self.admin("GET", f"/calls/{call_sid}"),
            lambda call: call["state"] == state,
            REPLY_SECONDS,
        )
        return found

    def task_for(self, customer: str) -> dict[str, Any] | None:
        """The customer's newest Flex task on the agent desktop, once one exists."""

        def mine() -> list[dict[str, Any]]:
            tasks = self.admin("GET", "/desktop/tasks")["tasks"]
            return [task for task in tasks if task["customer"] == customer]

        found = eventually(mine, bool, REPLY_SECONDS)
        return found[0] if found else None

    def executions_to(self, customer: str) -> list[dict[str, Any]]:
        return [e for e in self.admin("GET", "/executions") if e["to"] == customer]


@dataclass
class ComposeStack:
    compose: DockerCompose
    emulator: EmulatorDriver
    jaeger: httpx.Client
    engine: DockerClient

    # --- Jaeger's query API ----------------------------------------------------------------------

    def trace(self, trace_id: str) -> dict[str, Any] | None:
        response = self.jaeger.get(f"/api/traces/{trace_id}")
        if response.status_code != 200:  # 404 until the trace's first span is stored
            return None
        found: list[dict[str, Any]] = response.json()["data"] or []
        return found[0] if found else None

    def traces(self, service: str, operation: str, tags: dict[str, str]) -> list[dict[str, Any]]:
        response = self.jaeger.get(
            "/api/traces",
            params={"service": service, "operation": operation, "tags": json.dumps(tags)},
        )
        if response.status_code != 200:  # the service has reported no span yet
            return []
        found: list[dict[str, Any]] = response.json()["data"] or []
        return found

    # --- containers ------------------------------------------------------------------------------

    def containers(self, service: str) -> list[ComposeContainer]:
        return [c for c in self.compose.get_containers() if c.Service == service]

    def restart(self, container: ComposeContainer) -> None:
        """Stop the container as an orchestrator would (SIGTERM, then the grace period), and
        start it again."""
        self.engine.client.containers.get(container.ID).restart(timeout=STOP_SECONDS)

    def wait_healthy(self, container: ComposeContainer) -> str:
        """The container's health once it is ``healthy`` (or the last seen after the bound)."""

        def health() -> str:
            for found in self.compose.get_containers():
                if found.ID == container.ID:
                    return f"{found.State}/{found.Health}"
            return "gone"

        return eventually(health, lambda state: state == "running/healthy", HEALTHY_SECONDS)


def published_url(compose: DockerCompose, engine: DockerClient, service: str, port: int) -> str:
    """Where the host reaches ``port`` of ``service``: the port the engine picked, on the
    engine's host when the port is bound to every interface."""
    host, published = compose.get_service_host_and_port(service, port)
    if host is None or host in WILDCARD_HOSTS:
        host = engine.host()
    return f"http://{host}:{published}"


@contextmanager
def connected(compose: DockerCompose) -> Iterator[ComposeStack]:
    engine = DockerClient()
    emulator = published_url(compose, engine, EMULATOR, PUBLISHED[EMULATOR])
    jaeger = published_url(compose, engine, JAEGER, PUBLISHED[JAEGER])
    with (
        httpx.Client(base_url=emulator, timeout=30) as emulator_client,
        httpx.Client(base_url=jaeger, timeout=30) as jaeger_client,
    ):
        yield ComposeStack(compose, EmulatorDriver(emulator_client), jaeger_client, engine)
