"""Render a kustomization to plain Kubernetes objects, offline.

:func:`render` uses a real ``kustomize`` (or ``kubectl kustomize``) when one is on the PATH
and falls back to :func:`render_in_python`, a small renderer for exactly the kustomization
features Baton's manifests use, components included. It refuses anything else
(:class:`UnsupportedKustomization`) rather than guess, and ``test_kustomize_render.py``
checks it against the real binary whenever one is available.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "components",
    "namespace",
    "labels",
    "images",
    "configMapGenerator",
    "patches",
}
CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
}
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


class UnsupportedKustomization(Exception):
    """The kustomization uses a feature the Python renderer does not implement."""


# --- entry points --------------------------------------------------------------------------


def kustomize_command() -> list[str] | None:
    """The command line of a real renderer on this machine, if there is one."""
    if binary := shutil.which("kustomize"):
        return [binary, "build"]
    if binary := shutil.which("kubectl"):
        return [binary, "kustomize"]
    return None


def render_with_binary(directory: Path) -> list[Obj]:
    command = kustomize_command()
    if command is None:
        raise FileNotFoundError("neither kustomize nor kubectl is on the PATH")
    result = subprocess.run(
        [*command, str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} {directory} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render(directory: Path) -> tuple[list[Obj], str]:
    """The objects of a kustomization and the name of the renderer that produced them."""
    if kustomize_command() is not None:
        return render_with_binary(directory), "binary"
    return render_in_python(directory), "python"


def render_in_python(directory: Path) -> list[Obj]:
    resources = _build(directory)
    return _finalize(resources)


# --- the Python renderer -------------------------------------------------------------------


@dataclass
class _Resource:
    obj: Obj
    generated: bool = False
    original_name: str = field(default="")

    def __post_init__(self) -> None:
        self.original_name = self.original_name or self.obj["metadata"]["name"]


def _load_kustomization(directory: Path) -> Obj:
    for name in KUSTOMIZATION_FILES:
        path = directory / name
        if path.is_file():
            content = yaml.safe_load(path.read_text()) or {}
            unsupported = set(content) - SUPPORTED_FIELDS
            if unsupported:
                raise UnsupportedKustomization(f"{path}: {sorted(unsupported)}")
            return dict(content)
    raise FileNotFoundError(f"no kustomization in {directory}")


def _load_resources(directory: Path, kustomization: Obj) -> list[_Resource]:
    resources: list[_Resource] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            resources.extend(_build(path))
        else:
            docs = yaml.safe_load_all(path.read_text())
            resources.extend(_Resource(dict(doc)) for doc in docs if doc)
    return resources


def _apply_component(resources: list[_Resource], directory: Path) -> None:
    """A ``kind: Component``: its resources join, its generators and patches see them all."""
    component = _load_kustomization(directory)
    if component.get("kind") != "Component":
        raise UnsupportedKustomization(f"{directory} is not a Component")
    if set(component) - {"apiVersion", "kind", "resources", "patches", "configMapGenerator"}:
        raise UnsupportedKustomization(f"{directory}: component fields {sorted(component)}")
    resources.extend(_load_resources(directory, component))
    for generator in component.get("configMapGenerator", []):
        _generate_config_map(resources, generator, directory)
    for patch in component.get("patches", []):
        _apply_patch(resources, patch, directory)


def _build(directory: Path) -> list[_Resource]:
    kustomization = _load_kustomization(directory)
    if kustomization.get("kind") == "Component":
        raise UnsupportedKustomization(f"{directory}: a Component is used through components")
    resources = _load_resources(directory, kustomization)
    for component in kustomization.get("components", []):
        _apply_component(resources, directory / component)
    for generator in kustomization.get("configMapGenerator", []):
        _generate_config_map(resources, generator, directory)
    for patch in kustomization.get("patches", []):
        _apply_patch(resources, patch, directory)
    if namespace := kustomization.get("namespace"):
        for resource in resources:
            if resource.obj["kind"] not in CLUSTER_SCOPED_KINDS:
                resource.obj["metadata"]["namespace"] = namespace
    for label in kustomization.get("labels", []):
        _apply_labels(resources, label)
    for image in kustomization.get("images", []):
        _apply_image(resources, image)
    return resources


def _parse_literal(literal: str) -> tuple[str, str]:
    key, separator, value = literal.partition("=")
    if not separator or not key:
        raise UnsupportedKustomization(f"literal {literal!r} is not KEY=VALUE")
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return key, value


def _generate_config_map(resources: list[_Resource], generator: Obj, directory: Path) -> None:
    unsupported = set(generator) - {"name", "behavior", "literals", "options"}
    unsupported |= {f"options.{o}" for o in set(generator.get("options", {})) - {"labels"}}
    if unsupported:
        raise UnsupportedKustomization(f"{directory}: configMapGenerator {sorted(unsupported)}")
    name = generator["name"]
    data = dict(_parse_literal(literal) for literal in generator.get("literals", []))
    labels = dict(generator.get("options", {}).get("labels", {}))
    behavior = generator.get("behavior", "create")
    existing = [
        r
        for r in resources
        if r.generated and r.obj["kind"] == "ConfigMap" and r.original_name == name
    ]
    if behavior == "create":
        if existing:
            raise UnsupportedKustomization(f"{directory}: ConfigMap {name} generated twice")
        metadata: Obj = {"name": name, **({"labels": labels} if labels else {})}
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
        resources.append(_Resource(obj, generated=True))
        return
    if len(existing) != 1:
        raise UnsupportedKustomization(f"{directory}: no generated ConfigMap {name} to {behavior}")
    if labels:
        existing[0].obj["metadata"].setdefault("labels", {}).update(labels)
    if behavior == "merge":
        existing[0].obj.setdefault("data", {}).update(data)
    elif behavior == "replace":
        existing[0].obj["data"] = data
    else:
        raise UnsupportedKustomization(f"{directory}: behavior {behavior!r}")


def _apply_patch(resources: list[_Resource], patch: Obj, directory: Path) -> None:
    target = patch.get("target") or {}
    if set(target) - {"kind", "name"} or set(patch) - {"target", "patch", "path"}:
        raise UnsupportedKustomization(f"{directory}: patch selector {patch}")
    text = patch["patch"] if "patch" in patch else (directory / patch["path"]).read_text()
    operations = yaml.safe_load(text)
    if not isinstance(operations, list):
        raise UnsupportedKustomization(f"{directory}: only JSON 6902 patches are supported")
    matched = [
        r
        for r in resources
        if r.obj["kind"] == target.get("kind", r.obj["kind"])
        and r.obj["metadata"]["name"] == target.get("name", r.obj["metadata"]["name"])
    ]
    if not matched:
        raise UnsupportedKustomization(f"{directory}: patch target {target} matches nothing")
    for resource in matched:
        for operation in operations:
            _json_patch(resource.obj, operation)


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise UnsupportedKustomization(f"JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _json_patch(obj: Obj, operation: Obj) -> None:
    """RFC 6902 add / replace / remove."""
    op, parts = operation["op"], _pointer(operation["path"])
    parent: Any = obj
    for part in parts[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    last = parts[-1]
    value = copy.deepcopy(operation.get("value"))
    if isinstance(parent, list):
        if op == "add":
            parent.insert(len(parent) if last == "-" else int(last), value)
        elif op == "replace":
            parent[int(last)] = value
        elif op == "remove":
            del parent[int(last)]
        else:
            raise UnsupportedKustomization(f"JSON patch op {op!r}")
        return
    if op == "replace" and last not in parent:
        raise KeyError(f"replace of missing {operation['path']}")
    if op in ("add", "replace"):
        parent[last] = value
    elif op == "remove":
        del parent[last]
    else:
        raise UnsupportedKustomization(f"JSON patch op {op!r}")


def _apply_labels(resources: list[_Resource], label: Obj) -> None:
    if label.get("includeSelectors"):
        raise UnsupportedKustomization("labels with includeSelectors: true")
    pairs = label["pairs"]
    for resource in resources:
        obj = resource.obj
        obj["metadata"].setdefault("labels", {}).update(pairs)
        if label.get("includeTemplates") and obj["kind"] in POD_TEMPLATE_KINDS:
            template = obj["spec"]["template"].setdefault("metadata", {})
            template.setdefault("labels", {}).update(pairs)


def pod_spec(obj: Obj) -> Obj | None:
    """The pod spec of a workload object, if it has one."""
    if obj["kind"] in POD_TEMPLATE_KINDS:
        spec: Obj = obj["spec"]["template"]["spec"]
        return spec
    if obj["kind"] == "Pod":
        spec = obj["spec"]
        return spec
    return None


def split_image(image: str) -> tuple[str, str]:
    """``registry:5000/baton:1.2`` -> (``registry:5000/baton``, ``1.2``)."""
    name, separator, tag = image.rpartition(":")
    if not separator or "/" in tag:
        return image, ""
    return name, tag


def _apply_image(resources: list[_Resource], image: Obj) -> None:
    if "digest" in image:
        raise UnsupportedKustomization("images with digest")
    for resource in resources:
        spec = pod_spec(resource.obj)
        if spec is None:
            continue
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            name, tag = split_image(container["image"])
            if name != image["name"]:
                continue
            new_name = image.get("newName", name)
            new_tag = image.get("newTag", tag)
            container["image"] = f"{new_name}:{new_tag}" if new_tag else new_name


def _go_json(value: Any) -> str:
    """``encoding/json.Marshal``: sorted keys, no spaces, HTML characters escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def config_map_hash(data: dict[str, str]) -> str:
    """The suffix kustomize gives a generated ConfigMap (api/hasher).

    Kustomize looks the name up with the single path element ``"metadata/name"``, which
    never matches, so the name always hashes as the empty string.
    """
    encoded = _go_json({"kind": "ConfigMap", "name": "", "data": data})
    digest = hashlib.sha256(encoded.encode()).hexdigest()[:10]
    swaps = {"0": "g", "1": "h", "3": "k", "a": "m", "e": "t"}
    return "".join(swaps.get(char, char) for char in digest)


def _finalize(resources: list[_Resource]) -> list[Obj]:
    renamed: dict[tuple[str | None, str], str] = {}
    for resource in resources:
        if resource.generated:
            metadata = resource.obj["metadata"]
            new_name = f"{resource.original_name}-{config_map_hash(resource.obj['data'])}"
            renamed[(metadata.get("namespace"), resource.original_name)] = new_name
            metadata["name"] = new_name
    for resource in resources:
        spec = pod_spec(resource.obj)
        if spec is not None:
            _rename_config_map_references(spec, resource.obj["metadata"].get("namespace"), renamed)
    return [resource.obj for resource in resources]


def _rename_config_map_references(
    spec: Obj, namespace: str | None, renamed: dict[tuple[str | None, str], str]
) -> None:
    def rename(reference: Obj | None) -> None:
        if reference and (namespace, reference.get("name")) in renamed:
            reference["name"] = renamed[(namespace, reference["name"])]

    for container in spec.get("containers", []) + spec.get("initContainers", []):
        for source in container.get("envFrom", []):
            rename(source.get("configMapRef"))
        for variable in container.get("env", []):
            rename((variable.get("valueFrom") or {}).get("configMapKeyRef"))
    for volume in spec.get("volumes", []):
        rename(volume.get("configMap"))
        for source in (volume.get("projected") or {}).get("sources", []):
            rename(source.get("configMap"))
