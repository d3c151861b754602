"""Custom resources checked against their upstream CRDs, offline and strictly.

KEDA's and the Prometheus Operator's CRDs are not in the Kubernetes JSON schemas. The
``cloudcoil-models-*`` packages are pydantic models generated from those projects' own CRD
manifests (KEDA 2.16, Prometheus Operator 0.80): an object is valid when the model accepts
it and keeps every field it was given (a field the CRD does not know is dropped by the model,
and reported here as unknown, as ``kubectl apply --validate=strict`` would).

Trigger metadata is a free-form string map in KEDA's CRD; what each scaler reads is checked
against :data:`TRIGGER_METADATA`, from KEDA's scaler documentation.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

Obj = dict[str, Any]

CRD_MODELS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "cloudcoil.models.keda.v1alpha1:ScaledObject",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): (
        "cloudcoil.models.keda.v1alpha1:TriggerAuthentication"
    ),
    (
        "monitoring.coreos.com/v1",
        "PodMonitor",
    ): "cloudcoil.models.prometheus_operator.v1:PodMonitor",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): (
        "cloudcoil.models.prometheus_operator.v1:ServiceMonitor"
    ),
    ("monitoring.coreos.com/v1", "PrometheusRule"): (
        "cloudcoil.models.prometheus_operator.v1:PrometheusRule"
    ),
}

# scaler type -> (required keys, optional keys), per KEDA's scaler docs.
TRIGGER_METADATA: dict[str, tuple[set[str], set[str]]] = {
    "nats-jetstream": (
        {"natsServerMonitoringEndpoint", "account", "stream", "consumer"},
        {"lagThreshold", "activationLagThreshold", "useHttps"},
    ),
    "prometheus": (
        {"serverAddress", "query", "threshold"},
        {
            "activationThreshold",
            "namespace",
            "ignoreNullValues",
            "unsafeSsl",
            "customHeaders",
            "queryParameters",
        },
    ),  # fmt: skip
    "cpu": ({"value"}, {"containerName"}),
}


def _model(api_version: str, kind: str) -> type[BaseModel] | None:
    target = CRD_MODELS.get((api_version, kind))
    if target is None:
        return None
    module, _, name = target.partition(":")
    model: type[BaseModel] = getattr(importlib.import_module(module), name)
    return model


def is_custom_resource(obj: Obj) -> bool:
    return (obj["apiVersion"], obj["kind"]) in CRD_MODELS


def _unknown(given: Any, kept: Any, path: str) -> Iterator[str]:
    if isinstance(given, dict) and isinstance(kept, dict):
        for key, value in given.items():
            if key not in kept:
                yield f"{path}{key}"
            else:
                yield from _unknown(value, kept[key], f"{path}{key}.")
    elif isinstance(given, list) and isinstance(kept, list):
        for index, (item, kept_item) in enumerate(zip(given, kept, strict=False)):
            yield from _unknown(item, kept_item, f"{path}{index}.")


def _trigger_errors(obj: Obj) -> Iterator[str]:
    for index, trigger in enumerate(obj["spec"].get("triggers", [])):
        known = TRIGGER_METADATA.get(trigger["type"])
        if known is None:
            yield f"spec.triggers.{index}: no metadata rules for {trigger['type']!r}"
            continue
        required, optional = known
        keys = set(trigger.get("metadata", {}))
        for missing in sorted(required - keys):
            yield f"spec.triggers.{index}.metadata: {missing} is required"
        for extra in sorted(keys - required - optional):
            yield f"spec.triggers.{index}.metadata: {extra} is not read by {trigger['type']}"


def crd_errors(obj: Obj) -> list[str]:
    """Errors of one custom resource against its upstream CRD (and KEDA's scaler docs)."""
    label = f"{obj['kind']}/{obj['metadata']['name']}"
    model = _model(obj["apiVersion"], obj["kind"])
    assert model is not None, f"{label}: no CRD model"
    try:
        parsed = model.model_validate(obj)
    except ValidationError as error:
        return [f"{label}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
    kept = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    errors = [f"{label}: {path}: unknown field" for path in _unknown(obj, kept, "")]
    if obj["kind"] == "ScaledObject":
        errors += [f"{label}: {error}" for error in _trigger_errors(obj)]
    return errors
