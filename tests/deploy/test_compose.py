"""docker-compose.yml is a valid Compose file that wires the stack the way Baton expects."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
import yaml

from libs.platform.admin import ADMIN_PORT_OFFSET
from tests.deploy.compose_file import compose_environment
from tests.deploy.k8s_objects import PORTS, REPO, Obj, baton_role, option

OTEL_CONFIG = REPO / "deploy" / "otel-collector.yaml"


def _services(compose: Obj) -> dict[str, Obj]:
    services: dict[str, Obj] = compose["services"]
    return services


def _baton_services(compose: Obj) -> dict[str, tuple[str, Obj]]:
    """compose service name -> (Baton role, service)."""
    found = {}
    for name, service in _services(compose).items():
        role = baton_role(service.get("command") or [])
        if role is not None:
            found[name] = (role, service)
    return found


def test_compose_file_follows_the_compose_specification(compose: Obj) -> None:
    compose_spec = pytest.importorskip("compose_spec")
    # Anchors and merge keys are resolved by the YAML loader, exactly as Compose does.
    parsed = compose_spec.PyCompose.from_json(json.dumps(compose))
    parsed.validate()
    parsed.to_spec()  # and against the pydantic model generated from the JSON schema
    assert set(parsed.service_names()) == set(_services(compose))


def test_references_resolve(compose: Obj) -> None:
    services = _services(compose)
    for name, service in services.items():
        for dependency in service.get("depends_on") or {}:
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).is_file(), f"{name} mounts missing {source}"
            else:
                assert source in (compose.get("volumes") or {}), f"{name}: undefined {source}"


def test_images_are_pinned(compose: Obj) -> None:
    for name, service in _services(compose).items():
        image = service["image"]
        if "build" in service:
            assert service["build"]["context"] == "."
            assert (REPO / service["build"]["dockerfile"]).is_file(), name
            continue
        tag = image.rpartition(":")[2]
        assert ":" in image and tag != "latest", f"{name}: pin {image}"


def test_nats_runs_jetstream_with_a_health_check(compose: Obj) -> None:
    nats = _services(compose)["nats"]
    assert nats["image"] == "nats:2.14-alpine"
    assert "-js" in nats["command"] and option(nats["command"], "-m") == "8222"
    check = " ".join(nats["healthcheck"]["test"])
    assert "http://localhost:8222/healthz?js-enabled-only=true" in check


def test_streams_are_declared_once_before_any_service_starts(compose: Obj) -> None:
    services = _services(compose)
    init = services["streams-init"]
    assert init["command"] == ["baton", "streams", "init"]
    assert init["depends_on"]["nats"]["condition"] == "service_healthy"
    assert init["restart"] == "no"
    for name, (role, service) in _baton_services(compose).items():
        if role in ("streams-init", "emulator"):
            continue
        condition = service["depends_on"]["streams-init"]["condition"]
        assert condition == "service_completed_successfully", name


def test_every_service_runs_and_two_agent_workers(compose: Obj) -> None:
    roles: dict[str, int] = {}
    for role, service in _baton_services(compose).values():
        roles[role] = roles.get(role, 0) + (service.get("deploy") or {}).get("replicas", 1)
    assert roles == {
        "streams-init": 1,
        "emulator": 1,
        "relay-gateway": 1,
        "messaging-gateway": 1,
        "agent-worker": 2,
        "handoff-dispatcher": 1,
    }
    for role, service in _baton_services(compose).values():
        if (service.get("deploy") or {}).get("replicas", 1) > 1:
            assert not service.get("ports"), f"replicas of {role} would collide on host ports"


def test_service_ports_health_checks_and_urls(compose: Obj) -> None:
    services = _services(compose)
    for name, (role, service) in _baton_services(compose).items():
        environment = compose_environment(service)
        if role == "streams-init":
            continue
        port = PORTS[role]
        for published in service.get("ports") or []:
            assert str(published).rsplit(":", 1)[1] == str(port), name
        assert "healthcheck" in service, f"{name} has no health check"
        if "healthcheck" in service:
            path = "/_emulator/health" if role == "emulator" else "/healthz"
            assert f"http://127.0.0.1:{port}{path}" in " ".join(service["healthcheck"]["test"])
        if "PUBLIC_BASE_URL" in environment:
            public = urlsplit(environment["PUBLIC_BASE_URL"])
            assert (public.hostname, public.port) == (name, port), "emulator signs for this URL"
        if "NATS_URL" in environment:
            nats = urlsplit(environment["NATS_URL"])
            assert nats.hostname in services and nats.port == 4222
        if role != "emulator" and "TWILIO_ACCOUNT_SID" in environment:
            assert environment["TWILIO_API_BASE_URL"] == f"http://emulator:{PORTS['emulator']}"


def test_emulator_health_check_path_exists() -> None:
    from emulator import admin

    paths = {getattr(route, "path", "") for route in admin.router.routes}
    assert "/_emulator/health" in paths


def test_emulator_webhooks_reach_the_gateways(compose: Obj) -> None:
    services = _services(compose)
    environment = compose_environment(services["emulator"])
    targets = {
        "EMULATOR_SMS_WEBHOOK_URL": ("messaging-gateway", "/messaging/sms"),
        "EMULATOR_CONVERSATIONS_WEBHOOK_URL": ("messaging-gateway", "/messaging/conversations"),
        "EMULATOR_ORCHESTRATOR_WEBHOOK_URL": ("messaging-gateway", "/messaging/orchestrator"),
        "EMULATOR_RELAY_VOICE_URL": ("relay-gateway", "/voice/incoming"),
    }
    for variable, (service, path) in targets.items():
        url = urlsplit(environment[variable])
        assert (url.hostname, url.port, url.path) == (service, PORTS[service], path), variable
        assert service in services
    public = urlsplit(environment["EMULATOR_PUBLIC_URL"])
    assert (public.hostname, public.port) == ("emulator", PORTS["emulator"])


def test_fake_twilio_account_is_well_formed_and_shared(compose: Obj) -> None:
    from libs.platform import settings

    patterns = {
        "TWILIO_ACCOUNT_SID": settings.ACCOUNT_SID_PATTERN,
        "TWILIO_API_KEY": settings.API_KEY_PATTERN,
        "TWILIO_STUDIO_HANDOFF_FLOW_SID": settings.FLOW_SID_PATTERN,
        "TWILIO_PHONE_NUMBER": settings.E164_PATTERN,
    }
    seen: dict[str, set[str]] = {}
    for _, service in _baton_services(compose).values():
        for key, value in compose_environment(service).items():
            seen.setdefault(key, set()).add(value)
    for key, pattern in patterns.items():
        (value,) = seen[key]
        assert re.match(pattern, value), key
    assert seen["TWILIO_AUTH_TOKEN"] == {"emulator-auth-token-0001"}
    from emulator import fake_account

    for key, value in fake_account.environment().items():
        assert seen[key] == {value}, f"{key}: compose and emulator/fake_account.py differ"


def test_observability_services(compose: Obj) -> None:
    services = _services(compose)
    collector = services["otel-collector"]
    assert collector["image"].startswith("otel/opentelemetry-collector-contrib:")
    assert (
        "./deploy/otel-collector.yaml:/etc/otelcol-contrib/config.yaml:ro" in collector["volumes"]
    )
    jaeger = services["jaeger"]
    assert re.fullmatch(r"jaegertracing/jaeger:2\.\d+\.\d+", jaeger["image"])
    assert "16686:16686" in jaeger["ports"]


def test_otel_collector_pipelines_are_complete_and_point_at_compose_services(
    compose: Obj,
) -> None:
    config = yaml.safe_load(OTEL_CONFIG.read_text())
    services = _services(compose)
    for name, pipeline in config["service"]["pipelines"].items():
        for section in ("receivers", "processors", "exporters"):
            for component in pipeline.get(section, []):
                assert component in config[section], f"{name}: {section} {component} undefined"
    for extension in config["service"].get("extensions", []):
        assert extension in config["extensions"]
    assert "otlp/jaeger" in config["service"]["pipelines"]["traces"]["exporters"]
    assert "prometheus" in config["service"]["pipelines"]["metrics"]["exporters"]
    jaeger_host, jaeger_port = config["exporters"]["otlp/jaeger"]["endpoint"].split(":")
    assert jaeger_host in services and jaeger_port == "4317"
    http_receiver = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    assert http_receiver.endswith(":4318")
    scrape = config["receivers"]["prometheus"]["config"]["scrape_configs"]
    targets = [
        t for job in scrape for group in job.get("static_configs", []) for t in group["targets"]
    ]
    targets += [
        f"{name}:{sd['port']}"
        for job in scrape
        for sd in job.get("dns_sd_configs", [])
        for name in sd["names"]
    ]
    scraped = set()
    for target in targets:
        host, port = target.split(":")
        role = baton_role(services[host]["command"])
        assert role is not None and PORTS[role] + ADMIN_PORT_OFFSET == int(port), target
        environment = compose_environment(services[host])
        assert environment["BATON_ADMIN_HOST"] == "0.0.0.0", f"{host}: scrapable admin port"
        scraped.add(role)
    assert scraped >= {"relay-gateway", "messaging-gateway", "agent-worker", "handoff-dispatcher"}


# --- monitoring: Prometheus and Grafana with the dashboard, alerts and exemplars -----------

PROMETHEUS_CONFIG = REPO / "deploy" / "prometheus.yml"
GRAFANA = REPO / "deploy" / "grafana"


def _mounts(service: Obj) -> dict[str, str]:
    """Container path -> repository file, for a service's read-only file mounts."""
    found = {}
    for volume in service.get("volumes") or []:
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            found[target] = source.removeprefix("./")
    return found


def test_metrics_reach_the_collector_once_and_keep_their_exemplars(compose: Obj) -> None:
    config = yaml.safe_load(OTEL_CONFIG.read_text())
    assert config["service"]["pipelines"]["metrics"]["receivers"] == ["prometheus"]
    for name, (_, service) in _baton_services(compose).items():
        environment = compose_environment(service)
        if "OTEL_EXPORTER_OTLP_ENDPOINT" in environment:
            assert environment["OTEL_METRICS_EXPORTER"] == "none", f"{name} would send twice"
            assert "deployment.environment.name=" in environment["OTEL_RESOURCE_ATTRIBUTES"]
    exporter = config["exporters"]["prometheus"]
    assert exporter["enable_open_metrics"] is True, "only OpenMetrics carries exemplars"
    for job in config["receivers"]["prometheus"]["config"]["scrape_configs"]:
        assert job["scrape_protocols"][0] == "OpenMetricsText1.0.0", job["job_name"]


def test_prometheus_scrapes_the_collector_and_loads_the_alert_rules(compose: Obj) -> None:
    services = _services(compose)
    prometheus = services["prometheus"]
    assert "--enable-feature=exemplar-storage" in prometheus["command"]
    mounts = _mounts(prometheus)
    config_path = option(prometheus["command"], "--config.file") or next(
        c.split("=", 1)[1] for c in prometheus["command"] if c.startswith("--config.file=")
    )
    assert mounts[config_path] == "deploy/prometheus.yml"
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    (rules,) = config["rule_files"]
    assert mounts[rules] == "deploy/observability/alerts.yaml"
    (job,) = config["scrape_configs"]
    assert job["scrape_protocols"][0] == "OpenMetricsText1.0.0"
    (target,) = [t for group in job["static_configs"] for t in group["targets"]]
    collector = yaml.safe_load(OTEL_CONFIG.read_text())
    host, port = target.split(":")
    assert host in services and services[host]["image"].startswith("otel/")
    assert collector["exporters"]["prometheus"]["endpoint"].endswith(f":{port}")


def test_grafana_gets_the_dashboard_and_links_exemplars_to_jaeger(compose: Obj) -> None:
    services = _services(compose)
    grafana = services["grafana"]
    mounts = _mounts(grafana)
    datasources = yaml.safe_load(
        (REPO / mounts["/etc/grafana/provisioning/datasources/baton.yaml"]).read_text()
    )["datasources"]
    by_type = {d["type"]: d for d in datasources}
    prometheus, jaeger = by_type["prometheus"], by_type["jaeger"]
    assert prometheus["isDefault"] is True
    assert urlsplit(prometheus["url"]).hostname == "prometheus"
    assert urlsplit(jaeger["url"]).hostname == "jaeger"
    assert urlsplit(jaeger["url"]).port == 16686 and "16686:16686" in services["jaeger"]["ports"]
    (destination,) = prometheus["jsonData"]["exemplarTraceIdDestinations"]
    assert destination == {"name": "trace_id", "datasourceUid": jaeger["uid"]}
    providers = yaml.safe_load(
        (REPO / mounts["/etc/grafana/provisioning/dashboards/baton.yaml"]).read_text()
    )["providers"]
    (folder,) = [p["options"]["path"] for p in providers]
    dashboards = {target: source for target, source in mounts.items() if target.startswith(folder)}
    assert list(dashboards.values()) == ["deploy/observability/grafana-dashboard.json"]
    dashboard = json.loads((REPO / "deploy/observability/grafana-dashboard.json").read_text())
    exemplar_panels = [
        p for p in dashboard["panels"] if any(t.get("exemplar") for t in p.get("targets", []))
    ]
    assert len(exemplar_panels) >= 5, "latency panels show exemplars"
