"""Reading docker-compose.yml the way Compose does (anchors and merge keys resolved), and laying
override files over it by Compose's merge rules, ``!override`` and ``!reset`` included."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

REPLACED_SEQUENCES = frozenset({"command", "entrypoint", "test"})
"""Sequences a later file replaces instead of extending (Compose's "shell commands")."""


def compose_environment(service: Obj) -> dict[str, str]:
    """A service's ``environment``, given as a mapping or as a list of ``KEY=VALUE``."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in environment)
        return dict(pairs)
    return {str(key): str(value) for key, value in environment.items()}


@dataclass(frozen=True)
class Tagged:
    """A value an override file marked ``!override`` (replace) or ``!reset`` (remove)."""

    tag: str
    value: Any


class ComposeLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus Compose's two merge tags."""


def _tagged(loader: yaml.SafeLoader, node: yaml.Node) -> Tagged:
    value: Any = None
    if isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    return Tagged(str(node.tag), value)


for _tag in ("!override", "!reset"):
    ComposeLoader.add_constructor(_tag, _tagged)


def merge(base: Any, over: Any, key: str = "") -> Any:
    """``over`` laid over ``base``: mappings merge, sequences extend (commands are replaced)."""
    if isinstance(over, Tagged):
        return over.value
    if isinstance(over, dict):
        merged = dict(base) if isinstance(base, dict) else {}
        for name, value in over.items():
            if isinstance(value, Tagged) and value.tag == "!reset":
                merged.pop(name, None)
            else:
                merged[name] = merge(merged.get(name), value, str(name))
        return merged
    if isinstance(base, list) and isinstance(over, list) and key not in REPLACED_SEQUENCES:
        return base + [item for item in over if item not in base]
    return over


def load_compose(*files: Path) -> Obj:
    """The model Compose builds from ``files``, the first one the base."""
    merged: Obj = {}
    for path in files:
        merged = merge(merged, yaml.load(path.read_text(), Loader=ComposeLoader))
    return merged
