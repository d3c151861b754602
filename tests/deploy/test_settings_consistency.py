"""Compose, the manifests and the code agree: variable names, commands and ports.

Every TWILIO_/BATON_/NATS_/PUBLIC_/OPENAI_/OTEL_ variable handed to a Baton process is one
its settings read (a typo there is silently ignored at run time: settings use
``extra="ignore"``), every command parses with the real ``baton`` CLI, and every port is
the one the CLI gives that service.
"""

from __future__ import annotations

import importlib.util
from urllib.parse import urlsplit

import pytest

from libs.platform.admin import ADMIN_PORT_OFFSET
from tests.deploy.compose_file import compose_environment
from tests.deploy.k8s_objects import (
    PORTS,
    SECRET_EXAMPLE,
    Obj,
    baton_role,
    config_map_data,
    find_all,
    load_yaml_documents,
    main_container,
    option,
    workloads,
)
from tests.deploy.settings_names import (
    CHECKED_PREFIXES,
    ROLE_SETTINGS,
    EnvUse,
    known_env_names,
    otel_env_names,
    role_env_names,
    role_required_env_names,
)

# The commands Baton's containers may run (the CLI's subcommands).
EXPECTED_ROLES = {*PORTS, "streams-init"}


def compose_env_uses(compose: Obj) -> list[EnvUse]:
    uses = []
    for name, service in compose["services"].items():
        role = baton_role(service.get("command") or [])
        if role is None:
            continue
        for variable in compose_environment(service):
            uses.append(EnvUse(variable, role, f"docker-compose.yml: {name}", explicit=True))
    return uses


def manifest_env_uses(overlays: dict[str, list[Obj]]) -> list[EnvUse]:
    secrets = {s["metadata"]["name"]: s["stringData"] for s in load_yaml_documents(SECRET_EXAMPLE)}
    uses = []
    for overlay, objects in overlays.items():
        for workload, container in workloads(objects):
            role = baton_role(container["command"])
            assert role is not None, f"{workload['metadata']['name']} runs no baton command"
            where = f"{overlay}: {workload['kind']}/{workload['metadata']['name']}"
            for variable in container.get("env", []):
                uses.append(EnvUse(variable["name"], role, where, explicit=True))
            for source in container.get("envFrom", []):
                if reference := source.get("configMapRef"):
                    keys = list(config_map_data(objects, reference["name"]))
                    origin = f"{where} via ConfigMap {reference['name']}"
                else:
                    keys = list(secrets[source["secretRef"]["name"]])
                    origin = f"{where} via Secret {source['secretRef']['name']}"
                uses.extend(EnvUse(key, role, origin, explicit=False) for key in keys)
    return uses


def _checked(uses: list[EnvUse]) -> list[EnvUse]:
    return [
        u for u in uses if u.name.startswith(CHECKED_PREFIXES) and not u.name.startswith("OTEL_")
    ]


@pytest.fixture(scope="module")
def env_uses(compose: Obj, overlays: dict[str, list[Obj]]) -> list[EnvUse]:
    return compose_env_uses(compose) + manifest_env_uses(overlays)


def test_every_variable_is_a_baton_setting(env_uses: list[EnvUse]) -> None:
    known = known_env_names()
    unknown = sorted({f"{u.name} ({u.where})" for u in _checked(env_uses) if u.name not in known})
    if not unknown:
        return
    missing = [ROLE_SETTINGS[r][0] for r in ROLE_SETTINGS if role_env_names(r) is None]
    assert missing, f"no part of Baton reads: {unknown}"
    pytest.skip(f"not yet known (waiting for {missing}): {unknown}")


@pytest.mark.parametrize("role", sorted(ROLE_SETTINGS))
def test_manifest_env_entries_are_read_by_their_process(
    overlays: dict[str, list[Obj]], role: str
) -> None:
    """What a Deployment sets on its own container is for that service, not a neighbour."""
    uses = [u for u in _checked(manifest_env_uses(overlays)) if u.role == role and u.explicit]
    known = role_env_names(role)
    if known is None:
        pytest.skip(f"{ROLE_SETTINGS[role][0]} does not exist yet")
    unknown = sorted({f"{u.name} ({u.where})" for u in uses if u.name not in known})
    assert not unknown, f"{role} does not read: {unknown}"


@pytest.mark.parametrize("role", sorted(ROLE_SETTINGS))
def test_required_settings_are_provided(env_uses: list[EnvUse], role: str) -> None:
    """A setting without a default stops the process at start: every deployment sets it."""
    required = role_required_env_names(role)
    if required is None:
        pytest.skip(f"{ROLE_SETTINGS[role][0]} does not exist yet")
    provided: dict[str, set[str]] = {}
    for use in env_uses:
        if use.role == role:
            provided.setdefault(use.where.split(" via ")[0], set()).add(use.name)
    assert provided or role == "emulator", f"{role} is deployed nowhere"
    for where, names in provided.items():
        assert required <= names, f"{where}: missing {sorted(required - names)}"


def test_otel_variables_are_standard(env_uses: list[EnvUse]) -> None:
    standard = otel_env_names()
    unknown = sorted({u.name for u in env_uses if u.name.startswith("OTEL_")} - standard)
    assert not unknown, f"not OpenTelemetry variables: {unknown}"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def test_otlp_endpoints_speak_the_protocol_baton_exports(
    compose: Obj, overlays: dict[str, list[Obj]]
) -> None:
    """Baton installs only the OTLP/HTTP exporter: endpoints must be OTLP/HTTP (4318)."""
    if _installed("opentelemetry.exporter.otlp.proto.grpc"):
        pytest.skip("the gRPC exporter is installed too: either port may be right")
    endpoints = [
        compose_environment(service)["OTEL_EXPORTER_OTLP_ENDPOINT"]
        for service in compose["services"].values()
        if "OTEL_EXPORTER_OTLP_ENDPOINT" in compose_environment(service)
    ]
    for objects in overlays.values():
        for config_map in find_all(objects, "ConfigMap"):
            if "OTEL_EXPORTER_OTLP_ENDPOINT" in config_map.get("data", {}):
                endpoints.append(config_map["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert endpoints
    for endpoint in endpoints:
        assert urlsplit(endpoint).port == 4318, endpoint


# --- commands and ports --------------------------------------------------------------------


def _commands(compose: Obj, overlays: dict[str, list[Obj]]) -> list[tuple[str, list[str]]]:
    commands = [
        (f"docker-compose.yml: {name}", list(service["command"]))
        for name, service in compose["services"].items()
        if (service.get("command") or [""])[0] == "baton"
    ]
    for overlay, objects in overlays.items():
        for workload, container in workloads(objects):
            commands.append((f"{overlay}: {workload['metadata']['name']}", container["command"]))
    return commands


def test_every_command_parses_with_the_baton_cli(
    compose: Obj, overlays: dict[str, list[Obj]]
) -> None:
    from baton import cli

    parser = cli.build_parser()
    roles = set()
    for where, command in _commands(compose, overlays):
        assert command[0] == "baton", where
        try:
            parser.parse_args(command[1:])
        except SystemExit:
            pytest.fail(f"{where}: `{' '.join(command)}` is not a baton command")
        role = baton_role(command)
        assert role in EXPECTED_ROLES, where
        roles.add(role)
    assert roles == EXPECTED_ROLES


def test_ports_match_the_cli(compose: Obj, overlays: dict[str, list[Obj]]) -> None:
    from baton import services
    from emulator import settings as emulator_settings

    for spec in services.SERVICES:
        assert PORTS[spec.name] == spec.port, spec.name
    assert PORTS["emulator"] == emulator_settings.DEFAULT_PORT
    for where, command in _commands(compose, overlays):
        role = baton_role(command)
        if role == "streams-init":
            continue
        assert option(command, "--host") == "0.0.0.0", f"{where}: bind every interface"
        assert option(command, "--port") == str(PORTS[role or ""]), where


def test_container_ports_probes_and_scrape_annotations_agree(
    overlays: dict[str, list[Obj]],
) -> None:
    for objects in overlays.values():
        for deployment in find_all(objects, "Deployment"):
            container = main_container(deployment)
            role = baton_role(container["command"])
            port = PORTS[role or ""]
            assert container["ports"][0]["containerPort"] == port
            annotations = deployment["spec"]["template"]["metadata"]["annotations"]
            assert annotations["prometheus.io/port"] == str(port + ADMIN_PORT_OFFSET)
            assert annotations["prometheus.io/path"] == "/metrics"
