"""The local trace store's writer: finished spans as JSON lines, one file per process.

``baton up`` points ``BATON_TRACE_DIR`` at ``.baton/traces/``; every process appends to its
own file there, so concurrent writers never interleave a line, and ``baton trace`` (see
:mod:`baton.trace_store`) reads them all back. A line is one :func:`span_record`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import format_span_id, format_trace_id
from opentelemetry.util.types import AttributeValue

log = logging.getLogger("baton.telemetry.files")


def _jsonable(value: AttributeValue) -> Any:
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else value


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """One finished span as a JSON object: the format ``baton trace`` reads."""
    context = span.get_span_context()
    assert context is not None
    return {
        "trace_id": format_trace_id(context.trace_id),
        "span_id": format_span_id(context.span_id),
        "parent_span_id": format_span_id(span.parent.span_id) if span.parent else None,
        "name": span.name,
        "kind": span.kind.name,
        "service": str(span.resource.attributes.get("service.name", "")),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": {k: _jsonable(v) for k, v in (span.attributes or {}).items()},
        "links": [
            {
                "trace_id": format_trace_id(link.context.trace_id),
                "span_id": format_span_id(link.context.span_id),
            }
            for link in span.links
        ],
    }


class SpanFileExporter(SpanExporter):
    """Appends finished spans to a file only this process writes, so writers never interleave."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_record(s), separators=(",", ":")) + "\n" for s in spans)
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as file:
                    file.write(lines)
        except OSError as error:
            log.warning("could not write spans to %s: %r", self.path, error)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
