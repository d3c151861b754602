"""Reading docker-compose.yml the way Compose does (anchors and merge keys resolved)."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def compose_environment(service: Obj) -> dict[str, str]:
    """A service's ``environment``, given as a mapping or as a list of ``KEY=VALUE``."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in environment)
        return dict(pairs)
    return {str(key): str(value) for key, value in environment.items()}
