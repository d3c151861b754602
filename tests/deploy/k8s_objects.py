"""Queries over rendered Kubernetes objects, shared by the deployment tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.kustomize_render import pod_spec

Obj = dict[str, Any]

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
SECRET_EXAMPLE = K8S / "base" / "secret.example.yaml"

SERVICES = ("relay-gateway", "messaging-gateway", "agent-worker", "handoff-dispatcher")
GATEWAYS = ("relay-gateway", "messaging-gateway")
PORTS = {
    "relay-gateway": 8080,
    "messaging-gateway": 8081,
    "agent-worker": 8082,
    "handoff-dispatcher": 8083,
    "emulator": 8090,
}


def load_yaml_documents(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def find(objects: list[Obj], kind: str, name: str) -> Obj:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def find_all(objects: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def workloads(objects: list[Obj]) -> Iterator[tuple[Obj, Obj]]:
    """Every (workload, container) pair, init containers included."""
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            yield obj, container


def main_container(obj: Obj) -> Obj:
    spec = pod_spec(obj)
    assert spec is not None, f"{obj['kind']}/{obj['metadata']['name']} has no pod spec"
    containers: list[Obj] = spec["containers"]
    assert len(containers) == 1
    return containers[0]


def config_map_data(objects: list[Obj], name: str) -> dict[str, str]:
    data: dict[str, str] = find(objects, "ConfigMap", name).get("data", {})
    return data


def env_value(objects: list[Obj], container: Obj, name: str) -> str | None:
    """The value a variable gets in a container: explicit ``env`` wins over ``envFrom``."""
    for variable in container.get("env", []):
        if variable["name"] != name:
            continue
        if "value" in variable:
            value: str = variable["value"]
            return value
        reference = (variable.get("valueFrom") or {}).get("configMapKeyRef")
        if reference:
            return config_map_data(objects, reference["name"]).get(reference["key"])
        return None
    for source in reversed(container.get("envFrom", [])):
        reference = source.get("configMapRef")
        if reference and name in (data := config_map_data(objects, reference["name"])):
            return data[name]
    return None


def minimum_replicas(objects: list[Obj], deployment: str) -> int:
    """The floor of a Deployment: its autoscaler's minimum if one targets it, else replicas."""
    for hpa in find_all(objects, "HorizontalPodAutoscaler"):
        if hpa["spec"]["scaleTargetRef"]["name"] == deployment:
            floor: int = hpa["spec"]["minReplicas"]
            return floor
    for scaled in find_all(objects, "ScaledObject"):
        if scaled["spec"]["scaleTargetRef"]["name"] == deployment:
            floor = scaled["spec"]["minReplicaCount"]
            return floor
    replicas: int = find(objects, "Deployment", deployment)["spec"].get("replicas", 1)
    return replicas


def baton_role(command: list[str]) -> str | None:
    """Which Baton process a container command runs: a service name, emulator, streams-init."""
    if not command or command[0] != "baton":
        return None
    if command[1:2] == ["run"] and len(command) > 2:
        return command[2]
    if command[1:2] == ["emulator"]:
        return "emulator"
    if command[1:3] == ["streams", "init"]:
        return "streams-init"
    return None


def option(command: list[str], name: str) -> str | None:
    if name in command:
        return command[command.index(name) + 1]
    return None


def parse_quantity(quantity: str | int | float) -> float:
    """A Kubernetes resource quantity as a number (cores or bytes)."""
    text = str(quantity)
    suffixes = {
        "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
        "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "m": 10**-3,
    }  # fmt: skip
    for suffix, factor in suffixes.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)
