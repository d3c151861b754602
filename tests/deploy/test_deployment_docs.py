"""docs/deployment.md points at files that exist, and its figures are the manifests' own."""

from __future__ import annotations

import re

import pytest

from libs.platform.streams import stream_configs
from tests.deploy.k8s_objects import (
    OVERLAYS,
    REPO,
    SERVICES,
    Obj,
    env_value,
    find,
    find_all,
    load_yaml_documents,
    main_container,
)
from tests.deploy.kustomize_render import pod_spec

DOC = REPO / "docs" / "deployment.md"


def test_every_referenced_file_exists() -> None:
    text = DOC.read_text()
    paths = set(re.findall(r"`((?:deploy|docs)/[\w./-]+)`", text))
    paths |= set(re.findall(r"\s((?:deploy|docs)/[\w./-]+\.ya?ml)", text))
    assert paths
    for path in sorted(paths):
        assert (REPO / path.rstrip("/.")).exists(), path


def test_documented_numbers_match_the_manifests() -> None:
    text = " ".join(DOC.read_text().split())
    relay = load_yaml_documents(REPO / "deploy/k8s/base/relay-gateway/deployment.yaml")[0]
    pod = relay["spec"]["template"]["spec"]
    deadline = next(
        e["value"]
        for e in pod["containers"][0]["env"]
        if e["name"] == "BATON_DRAIN_DEADLINE_SECONDS"
    )
    assert f"`BATON_DRAIN_DEADLINE_SECONDS` ({deadline} s in the manifests)" in text
    assert f"`terminationGracePeriodSeconds` ({pod['terminationGracePeriodSeconds']})" in text


def _doc_row(label: str) -> list[str]:
    """The cells of the row of the overlay table whose first cell is ``label``."""
    section = DOC.read_text().split("### What the overlays change", 1)[1]
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] == label:
            return cells[1:]
    raise AssertionError(f"no table row {label!r} in {DOC.name}")


def _replica_range(objects: list[Obj], service: str) -> str:
    """``HPA 3–40``, ``KEDA 1–2`` or a fixed count, as the overlay table writes it."""
    for kind, low, high, prefix in (
        ("HorizontalPodAutoscaler", "minReplicas", "maxReplicas", "HPA"),
        ("ScaledObject", "minReplicaCount", "maxReplicaCount", "KEDA"),
    ):
        for scaler in find_all(objects, kind):
            if scaler["spec"]["scaleTargetRef"]["name"] == service:
                return f"{prefix} {scaler['spec'][low]}–{scaler['spec'][high]}"
    return str(find(objects, "Deployment", service)["spec"].get("replicas", 1))


@pytest.mark.parametrize("service", SERVICES)
def test_the_overlay_table_gives_each_overlays_replicas(
    overlays: dict[str, list[Obj]], service: str
) -> None:
    dev, prod = _doc_row(service)
    assert dev.split(",")[0] == _replica_range(overlays["dev"], service)
    assert prod.split(",")[0] == _replica_range(overlays["prod"], service)


def test_the_overlay_table_gives_each_overlays_namespace_and_nats_replicas(
    overlays: dict[str, list[Obj]],
) -> None:
    for column, overlay in enumerate(OVERLAYS):
        objects = overlays[overlay]
        namespaces = {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"}
        assert _doc_row("namespace")[column] == f"`{namespaces.pop()}`" and not namespaces
        worker = main_container(find(objects, "Deployment", "agent-worker"))
        assert _doc_row("`BATON_NATS_REPLICAS`")[column] == env_value(
            objects, worker, "BATON_NATS_REPLICAS"
        )


def test_autoscaling_and_shutdown_figures_match_the_manifests(
    overlays: dict[str, list[Obj]],
) -> None:
    text = " ".join(DOC.read_text().split())
    objects = overlays["prod"]
    relay_scaling = find(objects, "ScaledObject", "relay-gateway")["spec"]
    relay_down = relay_scaling["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
    assert relay_down["stabilizationWindowSeconds"] == 15 * 60
    assert relay_down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 5 * 60}]
    assert "one pod per five minutes after a 15-minute window" in text
    assert "removes at most one pod every five minutes, after a 15-minute stabilization" in text

    scaled = find(objects, "ScaledObject", "agent-worker")["spec"]
    [trigger] = scaled["triggers"]
    worker = main_container(find(objects, "Deployment", "agent-worker"))
    concurrency = env_value(objects, worker, "BATON_TURN_CONCURRENCY")
    threshold = trigger["metadata"]["lagThreshold"]
    assert (
        f"`lagThreshold` is the number of concurrent turns one pod should carry: {threshold}, "
        f"below `BATON_TURN_CONCURRENCY={concurrency}`"
    ) in text
    assert int(threshold) < int(concurrency or 0)
    assert scaled["fallback"]["failureThreshold"] == 3 and "three times in a row" in text
    assert trigger["metadata"]["natsServerMonitoringEndpoint"].startswith(
        "nats-headless.nats.svc.cluster.local:8222"
    )

    for service in ("agent-worker", "handoff-dispatcher"):
        grace = pod_spec(find(objects, "Deployment", service))
        assert grace is not None
        assert f"Their grace period ({grace['terminationGracePeriodSeconds']} s)" in text
    job = find(objects, "Job", "baton-streams-init")
    assert job["spec"]["ttlSecondsAfterFinished"] == 5 * 60
    assert "removes itself five minutes after it succeeds" in text
    voice = find(objects, "Service", "relay-gateway-voice")["metadata"]["annotations"]
    relay = pod_spec(find(objects, "Deployment", "relay-gateway"))
    assert relay is not None
    delay = relay["terminationGracePeriodSeconds"]
    assert (
        f"deregistration_delay.timeout_seconds={delay}"
        in voice["service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"]
    )
    assert f"sets {delay} s on the AWS NLB" in text


def test_the_settings_config_map_holds_what_the_doc_lists(overlays: dict[str, list[Obj]]) -> None:
    text = " ".join(DOC.read_text().split())
    listed = re.search(r"`baton-config`, loaded by every container: (.*?)\. Add", text)
    assert listed is not None
    documented = set(re.findall(r"`([A-Z_]+)`", listed.group(1)))
    config = next(
        c
        for c in find_all(overlays["dev"], "ConfigMap")
        if c["metadata"]["name"].startswith("baton-config")
    )
    assert documented == set(config["data"])


def test_the_stream_caps_are_the_declared_ones() -> None:
    text = " ".join(DOC.read_text().split())
    caps = {config.name: (config.max_bytes or 0) // 2**30 for config in stream_configs(3)}
    listed = ", ".join(f"`{name}` {gib}" for name, gib in caps.items())
    assert f"at {sum(caps.values())} GiB together ({listed})" in text
    assert f"`BATON_TURNS` is capped at {caps['BATON_TURNS']} GiB" in text
