"""What the end-to-end tests (tests/e2e/) rely on, checked without a Docker engine: the services,
ports, health checks and emulator routes they use exist, and the override file merges into the
stack they expect."""

from __future__ import annotations

import yaml

from emulator.app import create_app
from tests.deploy.compose_file import ComposeLoader, compose_environment, load_compose, merge
from tests.deploy.k8s_objects import REPO, Obj
from tests.e2e import stack
from tests.e2e.stack import (
    COMPOSE_FILES,
    DISPATCHER,
    PUBLISHED,
    ROLLED_SERVICE,
    SMS_TRACE_SERVICES,
    VOICE_TRACE_SERVICES,
    compose_model,
    compose_project,
)

EMULATOR_ROUTES = {
    ("POST", "/_emulator/sms"),
    ("GET", "/_emulator/outbox"),
    ("GET", "/_emulator/executions"),
    ("POST", "/_emulator/calls"),
    ("GET", "/_emulator/calls/{call_sid}"),
    ("POST", "/_emulator/calls/{call_sid}/hangup"),
    ("GET", "/_emulator/desktop/tasks"),
}
"""Every emulator route the end-to-end tests call."""


def services(model: Obj) -> dict[str, Obj]:
    found: dict[str, Obj] = model["services"]
    return found


def container_port(published: str) -> int:
    """The container port of a short-syntax port entry (``"8090"``, ``"8090:8090"``, ...)."""
    return int(str(published).rsplit(":", 1)[-1].split("/")[0])


def test_merging_follows_compose_rules() -> None:
    base = yaml.load(
        "services:\n  a:\n    ports: ['80:80']\n    command: [run, x]\n"
        "    environment: {K: '1', L: '2'}\n    dns: [1.1.1.1]\n",
        Loader=ComposeLoader,
    )
    over = yaml.load(
        "services:\n  a:\n    ports: !override ['80']\n    command: [run, y]\n"
        "    environment: {K: ''}\n    dns: [8.8.8.8]\n  b:\n    ports: !reset []\n",
        Loader=ComposeLoader,
    )
    merged = merge(base, over)
    assert merged["services"]["a"] == {
        "ports": ["80"],
        "command": ["run", "y"],
        "environment": {"K": "", "L": "2"},
        "dns": ["1.1.1.1", "8.8.8.8"],
    }
    assert merged["services"]["b"] == {}


def test_the_override_names_only_services_of_the_stack() -> None:
    base = load_compose(REPO / "docker-compose.yml")
    override = yaml.load((REPO / COMPOSE_FILES[1]).read_text(), Loader=ComposeLoader)
    assert set(override["services"]) <= set(services(base))


def test_the_only_host_ports_are_the_ones_the_tests_read_and_the_engine_picks() -> None:
    base = services(load_compose(REPO / "docker-compose.yml"))
    published: dict[str, set[int]] = {}
    for name, service in services(compose_model()).items():
        for entry in service.get("ports") or []:
            assert ":" not in str(entry), f"{name}: {entry} fixes a host port"
            published.setdefault(name, set()).add(container_port(entry))
    assert published == {name: {port} for name, port in PUBLISHED.items()}
    for name, port in PUBLISHED.items():
        assert port in {container_port(entry) for entry in base[name]["ports"]}, name


def test_up_wait_can_succeed_every_service_waited_on_has_a_health_check() -> None:
    model = services(compose_model())
    unobserved = {"otel-collector", "jaeger"}
    """Started is all ``--wait`` asks of these; the tests poll Jaeger on their own."""
    for name, service in model.items():
        if service.get("restart") == "no":
            adopters = [
                other
                for other in model.values()
                if (other.get("depends_on") or {}).get(name, {}).get("condition")
                == "service_completed_successfully"
            ]
            assert adopters, f"--wait fails on the one-shot {name} unless a service awaits it"
        elif name not in unobserved:
            assert "healthcheck" in service, f"--wait cannot know when {name} is ready"


def test_the_rolled_service_has_replicas_and_a_health_check() -> None:
    rolled = services(compose_model())[ROLLED_SERVICE]
    assert rolled["deploy"]["replicas"] >= 2
    assert "healthcheck" in rolled and not rolled.get("ports")


def test_the_agent_is_the_policy_agent_with_its_demo_faq() -> None:
    environment = compose_environment(services(compose_model())[ROLLED_SERVICE])
    assert environment["OPENAI_API_KEY"] == ""
    assert "BATON_FAQ" not in environment


def test_traced_services_are_named_as_the_stack_names_them() -> None:
    names = {
        compose_environment(service).get("OTEL_SERVICE_NAME")
        for service in services(compose_model()).values()
    }
    assert names >= SMS_TRACE_SERVICES | VOICE_TRACE_SERVICES
    assert DISPATCHER in services(compose_model())


def test_the_emulator_serves_every_route_the_tests_call() -> None:
    served = {
        (method.upper(), path)
        for path, operations in create_app().openapi()["paths"].items()
        for method in operations
    }
    assert served >= EMULATOR_ROUTES


def test_the_project_builds_and_waits_under_a_name_of_its_own() -> None:
    first, second = compose_project(), compose_project()
    command = first.docker_compose_command()
    assert command[1:] == [
        "compose",
        "-f",
        "docker-compose.yml",
        "-f",
        "tests/e2e/compose.e2e.yml",
        "--project-name",
        first.project_name,
    ]
    assert first.project_name.startswith("baton-e2e-")
    assert first.project_name != second.project_name
    assert (first.build, first.wait) == (True, True)
    for name in COMPOSE_FILES:
        assert (stack.REPO / name).is_file()
