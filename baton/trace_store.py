"""``baton trace``: a handoff's timeline from the spans the local stack wrote.

Under ``baton up`` every process appends its finished spans to its own JSON-lines file in
``BATON_TRACE_DIR`` (see :func:`libs.span_files.span_record` for the format). This module reads
them back, finds the traces that name a conversation, a call or a handoff, and prints each one
as a timeline: the hop (service and span name, indented under its parent), when it started
relative to the first span, and how long it took.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from libs.contracts.subjects import subject_token
from libs.platform.span_attributes import SEARCHABLE_ATTRIBUTES
from libs.platform.tracing import TRACE_DIR_VARIABLE

DEFAULT_TRACE_DIR = Path(".baton") / "traces"
HANDOFF_SPANS = frozenset({"tool handoff", "handoff.dispatch"})
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_CONVERSATION_SUBJECT = re.compile(
    r"\b(baton\.(?:turns|replies|handoff\.requested|handoff\.result))\.[A-Za-z0-9_-]+"
)


def hop_name(name: str) -> str:
    """A span name with the conversation's subject token folded away: the heading names it."""
    return _CONVERSATION_SUBJECT.sub(r"\1.{conversation}", name)


def trace_dir() -> Path:
    return Path(os.environ.get(TRACE_DIR_VARIABLE) or DEFAULT_TRACE_DIR)


@dataclass(frozen=True)
class SpanRow:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    service: str
    start_ns: int
    end_ns: int
    status: str
    attributes: dict[str, Any]

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SpanRow:
        return cls(
            trace_id=str(record["trace_id"]),
            span_id=str(record["span_id"]),
            parent_span_id=record.get("parent_span_id"),
            name=str(record["name"]),
            service=str(record.get("service", "")),
            start_ns=int(record["start_ns"]),
            end_ns=int(record["end_ns"]),
            status=str(record.get("status", "UNSET")),
            attributes=dict(record.get("attributes") or {}),
        )

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    def names(self, identifier: str) -> bool:
        """Whether this span is about ``identifier`` (a conversation, call or handoff id)."""
        if any(self.attributes.get(key) == identifier for key in SEARCHABLE_ATTRIBUTES):
            return True
        subject = self.attributes.get("messaging.destination.name")
        return isinstance(subject, str) and subject.endswith("." + subject_token(identifier))


@dataclass
class Trace:
    trace_id: str
    spans: list[SpanRow] = field(default_factory=list)

    @property
    def start_ns(self) -> int:
        return min(s.start_ns for s in self.spans)

    @property
    def end_ns(self) -> int:
        return max(s.end_ns for s in self.spans)

    @property
    def has_handoff(self) -> bool:
        return any(s.name in HANDOFF_SPANS for s in self.spans)

    @property
    def names_something(self) -> bool:
        return any(s.attributes.get(k) for s in self.spans for k in SEARCHABLE_ATTRIBUTES)

    def subject(self) -> str:
        """The conversation (or call) the trace is about, for its heading."""
        for span in self.spans:
            for key in SEARCHABLE_ATTRIBUTES:
                value = span.attributes.get(key)
                if value:
                    return f"{key.removeprefix('baton.')} {value}"
        return "no conversation"

    def ordered(self) -> Iterator[tuple[int, SpanRow]]:
        """Spans depth first, children by start time; a span whose parent is missing is a root."""
        ids = {s.span_id for s in self.spans}
        children: dict[str | None, list[SpanRow]] = defaultdict(list)
        for span in self.spans:
            parent = span.parent_span_id if span.parent_span_id in ids else None
            children[parent].append(span)

        def walk(parent: str | None, depth: int) -> Iterator[tuple[int, SpanRow]]:
            for span in sorted(children[parent], key=lambda s: (s.start_ns, s.end_ns)):
                yield depth, span
                yield from walk(span.span_id, depth + 1)

        yield from walk(None, 0)


def read_spans(directory: Path) -> list[SpanRow]:
    """Every span in the directory's files; a line being written right now is skipped."""
    rows: list[SpanRow] = []
    if not directory.is_dir():
        return rows
    for path in sorted(directory.glob("*.jsonl")):
        with path.open(encoding="utf-8") as file:
            for line in file:
                try:
                    rows.append(SpanRow.from_record(json.loads(line)))
                except (ValueError, KeyError, TypeError):
                    continue
    return rows


def group_traces(spans: Iterable[SpanRow]) -> list[Trace]:
    """Spans by trace, oldest trace first; a span seen twice (a copied file) counts once."""
    traces: dict[str, Trace] = {}
    seen: set[tuple[str, str]] = set()
    for span in spans:
        if (span.trace_id, span.span_id) in seen:
            continue
        seen.add((span.trace_id, span.span_id))
        traces.setdefault(span.trace_id, Trace(span.trace_id)).spans.append(span)
    return sorted(traces.values(), key=lambda t: t.start_ns)


def find_traces(traces: Iterable[Trace], identifier: str) -> list[Trace]:
    """The traces with a span naming ``identifier``, or the trace with that id."""
    wanted = identifier.strip()
    if _TRACE_ID.match(wanted.lower()):
        return [t for t in traces if t.trace_id == wanted.lower()]
    return [t for t in traces if any(s.names(wanted) for s in t.spans)]


def render_timeline(trace: Trace) -> str:
    """The trace as a table: start offset and duration in ms, hop indented under its parent."""
    origin = trace.start_ns
    total_ms = (trace.end_ns - origin) / 1e6
    lines = [
        f"trace {trace.trace_id}  {trace.subject()}  {len(trace.spans)} spans  {total_ms:.1f} ms",
        f"{'start ms':>9} {'duration ms':>12}  hop",
    ]
    for depth, span in trace.ordered():
        flag = "  ✗" if span.status == "ERROR" else ""
        lines.append(
            f"{(span.start_ns - origin) / 1e6:>9.1f} {span.duration_ms:>12.1f}  "
            f"{'  ' * depth}{span.service}  {hop_name(span.name)}{flag}"
        )
    return "\n".join(lines)


def render_summary(traces: list[Trace], limit: int = 10) -> str:
    """The latest traces about a conversation or call, one line each, to pick an id from."""
    lines = [f"{'started':<12} {'duration ms':>12} {'spans':>6}  about"]
    named = [t for t in traces if t.names_something]
    for trace in named[-limit:]:
        started = datetime.fromtimestamp(trace.start_ns / 1e9).strftime("%H:%M:%S.%f")[:12]
        mark = "  (handoff)" if trace.has_handoff else ""
        lines.append(
            f"{started:<12} {(trace.end_ns - trace.start_ns) / 1e6:>12.1f} "
            f"{len(trace.spans):>6}  {trace.subject()}{mark}"
        )
    return "\n".join(lines)


HOW_TO_RECORD = (
    "Spans are written there by `baton up` (or `make up`), and by any service started with "
    f"{TRACE_DIR_VARIABLE}=<directory>; they reach the files within 0.5 s."
)


def where_looked(directory: Path) -> str:
    """Which directory was read and what it held, for a search that found nothing."""
    absolute = directory.resolve()
    if not directory.is_dir():
        return f"{absolute} does not exist"
    files = sorted(directory.glob("*.jsonl"))
    if not files:
        return f"{absolute} holds no span files (*.jsonl)"
    return f"{absolute} holds {len(files)} span file(s)"


def summary(directory: Path, limit: int = 10) -> str:
    """What ``baton trace`` prints without an id: the latest traces, or where it looked."""
    traces = group_traces(read_spans(directory))
    if not any(t.names_something for t in traces):
        return (
            f"No traces about a conversation or call: {where_looked(directory)}.\n{HOW_TO_RECORD}"
        )
    return render_summary(traces, limit)


def timelines(identifier: str, directory: Path, *, every_turn: bool = False) -> str:
    """What ``baton trace ID`` prints: the handoff trace(s), or every trace with ``every_turn``."""
    found = find_traces(group_traces(read_spans(directory)), identifier)
    if not found:
        return f"No spans name {identifier}: {where_looked(directory)}.\n{HOW_TO_RECORD}"
    handoffs = [t for t in found if t.has_handoff]
    shown = found if every_turn or not handoffs else handoffs
    return "\n\n".join(render_timeline(t) for t in shown)
