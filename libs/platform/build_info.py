"""Which Baton this is and where it runs: on every span's resource and on ``/metrics``."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from opentelemetry.util.types import AttributeValue

DEFAULT_ENVIRONMENT = "development"
"""``deployment.environment.name`` when ``OTEL_RESOURCE_ATTRIBUTES`` names none."""


@cache
def version() -> str:
    """The installed ``baton`` distribution's version (``service.version``)."""
    try:
        return package_version("baton")
    except PackageNotFoundError:
        return "0+unknown"


def deployment_environment(attributes: Mapping[str, AttributeValue]) -> str:
    """The environment ``OTEL_RESOURCE_ATTRIBUTES`` gave (either key), or the default."""
    for key in ("deployment.environment.name", "deployment.environment"):
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return DEFAULT_ENVIRONMENT
