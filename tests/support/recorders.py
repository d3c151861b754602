"""Recorders for what a unit under test reports: its spans, and the heartbeats it sends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

LocalSpans = tuple[Tracer, InMemorySpanExporter]


@contextmanager
def local_spans() -> Iterator[LocalSpans]:
    """A tracer of its own (not the process's) and every span it finishes."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield provider.get_tracer("baton.tests"), exporter
    finally:
        provider.shutdown()


@dataclass
class Heartbeats:
    """A ``Heartbeat`` that counts how often the message was kept alive."""

    count: int = 0

    async def __call__(self) -> None:
        self.count += 1
