"""The four services, in one registry: what ``baton run``, the local stack and the benchmark
start, and where each one's app and settings live."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from fastapi import FastAPI

from libs.platform.settings import BatonSettings


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    """The command-line name (``baton run relay-gateway``), also the OpenTelemetry service name."""
    package: str
    """The Python package under ``services/``: ``main.create_app``, ``settings``."""
    port: int
    """The default HTTP port."""
    settings_class: str
    short: str
    """How the README's configuration table names it."""

    @property
    def app_factory(self) -> str:
        return f"{self.package}.main:create_app"

    def create_app(self, settings: BatonSettings) -> FastAPI:
        factory = importlib.import_module(f"{self.package}.main").create_app
        app: FastAPI = factory(settings)
        return app

    def load_settings_class(self) -> type[BatonSettings]:
        cls: type[BatonSettings] = getattr(
            importlib.import_module(f"{self.package}.settings"), self.settings_class
        )
        return cls


SERVICES = (
    ServiceSpec("relay-gateway", "services.relay_gateway", 8080, "RelayGatewaySettings", "relay"),
    ServiceSpec(
        "messaging-gateway",
        "services.messaging_gateway",
        8081,
        "MessagingGatewaySettings",
        "messaging",
    ),
    ServiceSpec("agent-worker", "services.agent_worker", 8082, "AgentWorkerSettings", "worker"),
    ServiceSpec(
        "handoff-dispatcher",
        "services.handoff_dispatcher",
        8083,
        "HandoffDispatcherSettings",
        "dispatcher",
    ),
)
BY_NAME = {spec.name: spec for spec in SERVICES}


def service(name: str) -> ServiceSpec:
    return BY_NAME[name]
