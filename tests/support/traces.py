"""Reading the spans in-process services made: one trace, its parents, its services."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from baton_devtools.commands import instrument_emulator
from emulator.app import create_app as create_emulator
from emulator.settings import EmulatorSettings
from libs.platform.tracing import spans_exported_to
from tests.support import digital_stack


@contextmanager
def recorded_spans() -> Iterator[InMemorySpanExporter]:
    """Every span the services in this process finish while the block runs."""
    exporter = InMemorySpanExporter()
    with spans_exported_to(exporter):
        yield exporter


def instrument_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give the digital stack's emulator its request spans, as ``baton emulator`` does."""

    def create_instrumented(settings: EmulatorSettings | None = None) -> FastAPI:
        app = create_emulator(settings)
        instrument_emulator(app)
        return app

    monkeypatch.setattr(digital_stack, "create_emulator", create_instrumented)


def service(span: ReadableSpan) -> str:
    return str(span.resource.attributes.get("service.name", ""))


@dataclass
class TraceView:
    spans: list[ReadableSpan]

    @property
    def trace_id(self) -> int:
        context = self.spans[0].context
        assert context is not None
        return int(context.trace_id)

    def by_id(self) -> dict[int, ReadableSpan]:
        return {s.context.span_id: s for s in self.spans if s.context is not None}

    def roots(self) -> list[ReadableSpan]:
        known = self.by_id()
        return [s for s in self.spans if s.parent is None or s.parent.span_id not in known]

    def ancestors(self, span: ReadableSpan) -> list[ReadableSpan]:
        """``span``'s parents, nearest first."""
        known = self.by_id()
        chain: list[ReadableSpan] = []
        while span.parent is not None and span.parent.span_id in known:
            span = known[span.parent.span_id]
            chain.append(span)
        return chain

    def named(self, name: str, **attributes: object) -> list[ReadableSpan]:
        return [
            s
            for s in self.spans
            if s.name == name
            and all((s.attributes or {}).get(k) == v for k, v in attributes.items())
        ]

    def one(self, name: str, **attributes: object) -> ReadableSpan:
        found = self.named(name, **attributes)
        assert len(found) == 1, f"{len(found)} spans named {name!r} {attributes}"
        return found[0]

    def services(self) -> set[str]:
        return {service(s) for s in self.spans}


def trace_of(exporter: InMemorySpanExporter, span: ReadableSpan) -> TraceView:
    assert span.context is not None
    trace_id = span.context.trace_id
    return TraceView(
        [s for s in exporter.get_finished_spans() if s.context and s.context.trace_id == trace_id]
    )


async def wait_for_trace(
    exporter: InMemorySpanExporter,
    anchor: Callable[[ReadableSpan], bool],
    complete: Callable[[TraceView], bool],
    timeout: float = 15.0,
) -> TraceView:
    """The trace of the first span ``anchor`` picks, once ``complete`` says all of it ended."""
    deadline = time.monotonic() + timeout
    while True:
        anchors: Sequence[ReadableSpan] = [s for s in exporter.get_finished_spans() if anchor(s)]
        if anchors:
            view = trace_of(exporter, anchors[0])
            if complete(view):
                return view
        if time.monotonic() > deadline:
            names = sorted({s.name for s in exporter.get_finished_spans()})
            raise AssertionError(f"trace incomplete after {timeout}s; spans seen: {names}")
        await asyncio.sleep(0.05)
