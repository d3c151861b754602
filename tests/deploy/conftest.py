"""Rendered overlays and the compose file, loaded once for all deployment tests."""

from __future__ import annotations

import pytest
import yaml

from tests.deploy.k8s_objects import K8S, OVERLAYS, REPO, Obj
from tests.deploy.kustomize_render import render


@pytest.fixture(scope="session")
def overlays() -> dict[str, list[Obj]]:
    """Every overlay rendered (real kustomize when available, else the Python renderer)."""
    return {name: render(K8S / "overlays" / name)[0] for name in OVERLAYS}


@pytest.fixture(scope="session")
def compose() -> Obj:
    content: Obj = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return content
