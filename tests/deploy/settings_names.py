"""The environment variable names Baton's code reads, collected from its settings classes.

Each Baton process ("role") has a pydantic-settings class whose upper-cased field names are
its variables. Modules are imported lazily: a service whose ``settings`` module does not
exist yet is reported as missing (``None``), not as an error.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

CHECKED_PREFIXES = ("TWILIO_", "BATON_", "NATS_", "PUBLIC_", "OPENAI_", "OTEL_")

# role -> (settings module, the one class it loads, or None for every class defined there)
ROLE_SETTINGS: dict[str, tuple[str, str | None]] = {
    "relay-gateway": ("services.relay_gateway.settings", None),
    "messaging-gateway": ("services.messaging_gateway.settings", None),
    "agent-worker": ("services.agent_worker.settings", None),
    "handoff-dispatcher": ("services.handoff_dispatcher.settings", None),
    "streams-init": ("libs.platform.settings", "BatonSettings"),
    "emulator": ("emulator.settings", None),
}


@dataclass(frozen=True)
class EnvUse:
    """One variable handed to one Baton process by compose or a manifest."""

    name: str
    role: str
    where: str
    explicit: bool
    """Named on the container itself (not via a ConfigMap or Secret shared by every role)."""


def import_optional(module_name: str) -> ModuleType | None:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if module_name == missing or module_name.startswith(f"{missing}."):
            return None
        raise


def settings_env_names(cls: type[BaseSettings], *, required_only: bool = False) -> set[str]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field_name, info in cls.model_fields.items():
        if required_only and not info.is_required():
            continue
        alias = info.validation_alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names.update(choice.upper() for choice in alias.choices if isinstance(choice, str))
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def _settings_classes(module: ModuleType, class_name: str | None) -> list[type[BaseSettings]]:
    if class_name is not None:
        cls: type[BaseSettings] = getattr(module, class_name)
        return [cls]
    return [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, BaseSettings)
        and obj.__module__ == module.__name__
    ]


def role_env_names(role: str) -> set[str] | None:
    """The variables one role reads, or None while its settings module does not exist."""
    module_name, class_name = ROLE_SETTINGS[role]
    module = import_optional(module_name)
    if module is None:
        return None
    classes = _settings_classes(module, class_name)
    assert classes, f"{module_name} defines no pydantic-settings class"
    return set().union(*(settings_env_names(cls) for cls in classes))


def role_required_env_names(role: str) -> set[str] | None:
    """The variables a role cannot start without (fields with no default)."""
    module_name, class_name = ROLE_SETTINGS[role]
    module = import_optional(module_name)
    if module is None:
        return None
    classes = _settings_classes(module, class_name)
    return set().union(*(settings_env_names(c, required_only=True) for c in classes))


def known_env_names() -> set[str]:
    """Every variable some part of Baton reads (shared base classes included)."""
    libs_settings = importlib.import_module("libs.platform.settings")
    known = set().union(*(settings_env_names(c) for c in _settings_classes(libs_settings, None)))
    for role in ROLE_SETTINGS:
        known |= role_env_names(role) or set()
    return known


def otel_env_names() -> set[str]:
    """The standard OTEL_* variables, as the OpenTelemetry API and SDK define them."""
    names: set[str] = set()
    for module_name in (
        "opentelemetry.environment_variables",
        "opentelemetry.sdk.environment_variables",
    ):
        module = importlib.import_module(module_name)
        names.update(
            v for v in vars(module).values() if isinstance(v, str) and v.startswith("OTEL_")
        )
    return names
