"""The Python kustomize renderer matches the real one, and refuses what it does not know."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.k8s_objects import K8S, OVERLAYS, Obj
from tests.deploy.kustomize_render import (
    UnsupportedKustomization,
    config_map_hash,
    kustomize_command,
    render_in_python,
    render_with_binary,
    split_image,
)


def _by_identity(objects: list[Obj]) -> dict[tuple[str, str, str | None, str], Obj]:
    return {
        (o["apiVersion"], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o
        for o in objects
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_python_renderer_matches_kustomize(overlay: str) -> None:
    if kustomize_command() is None:
        pytest.skip("no kustomize or kubectl on this machine to compare with")
    ours = _by_identity(render_in_python(K8S / "overlays" / overlay))
    theirs = _by_identity(render_with_binary(K8S / "overlays" / overlay))
    assert sorted(ours) == sorted(theirs)
    for identity, obj in ours.items():
        assert obj == theirs[identity], identity


def test_config_map_hash_matches_kustomize() -> None:
    # Suffixes printed by kustomize v5 for these generators.
    assert config_map_hash({"NATS_URL": "nats://x:4222"}) == "tmfdt4t58g"
    assert config_map_hash({"HTML": '<a href="x">&</a>', "QUOTED": "hello"}) == "7d294gdtt5"


def test_split_image_keeps_registry_ports() -> None:
    assert split_image("registry:5000/baton:1.2") == ("registry:5000/baton", "1.2")
    assert split_image("registry:5000/baton") == ("registry:5000/baton", "")
    assert split_image("baton") == ("baton", "")


def _kustomization(tmp_path: Path, text: str) -> Path:
    (tmp_path / "kustomization.yaml").write_text(text)
    (tmp_path / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  A: '1'\n"
    )
    return tmp_path


@pytest.mark.parametrize(
    "text",
    [
        "namePrefix: x-\nresources: [cm.yaml]\n",
        "resources: [cm.yaml]\nlabels:\n  - pairs: {a: b}\n    includeSelectors: true\n",
        "resources: [cm.yaml]\npatches:\n  - target: {kind: ConfigMap, name: settings}\n"
        "    patch: |-\n      metadata:\n        name: other\n",
        "resources: [cm.yaml]\npatches:\n  - target: {kind: ConfigMap, name: nope}\n"
        "    patch: |-\n      - {op: remove, path: /data}\n",
        "configMapGenerator:\n  - name: x\n    envs: [.env]\n",
    ],
    ids=["namePrefix", "includeSelectors", "strategic-merge", "no-target", "envs"],
)
def test_python_renderer_refuses_what_it_does_not_implement(tmp_path: Path, text: str) -> None:
    with pytest.raises(UnsupportedKustomization):
        render_in_python(_kustomization(tmp_path, text))


def test_python_renderer_applies_json_patches_and_namespace(tmp_path: Path) -> None:
    directory = _kustomization(
        tmp_path,
        "namespace: ns\nresources: [cm.yaml]\npatches:\n"
        "  - target: {kind: ConfigMap, name: settings}\n    patch: |-\n"
        "      - {op: replace, path: /data/A, value: '2'}\n"
        "      - {op: add, path: /data/B, value: '3'}\n",
    )
    (rendered,) = render_in_python(directory)
    assert rendered["metadata"] == {"name": "settings", "namespace": "ns"}
    assert rendered["data"] == {"A": "2", "B": "3"}
