"""Which Baton this is and where it runs: on every span's resource and on ``/metrics``."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from opentelemetry.sdk.resources import Resource
from opentelemetry.util.types import AttributeValue

from libs.platform.metrics import Gauge

DEFAULT_ENVIRONMENT = "development"
"""``deployment.environment.name`` when ``OTEL_RESOURCE_ATTRIBUTES`` names none."""

BUILD_INFO = Gauge(
    "baton_build_info",
    "1 for every running Baton service: its name, version and environment (absent: it is down).",
    otel_name="baton.service.build",
    labels=("service", "version", "environment"),
)
METRICS = (BUILD_INFO,)


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


def announce_build(service_name: str) -> None:
    """``baton_build_info{service=…} 1``: what the "service absent" alert looks for."""
    environment = deployment_environment(Resource.create().attributes)
    BUILD_INFO.set(1, service=service_name, version=version(), environment=environment)
