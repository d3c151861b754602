"""A trace viewer for the local stack: the spans of ``.baton/traces/`` as timelines in a page.

``baton up`` serves it from the emulator at ``/traces`` and points the agent desktop's
"View trace" link at ``/traces/<trace id>``, so a trace opens with no Jaeger running. It reads
the same files as ``baton trace`` (:mod:`baton.trace_store`) and draws each span as a bar:
where it started, how long it took, indented under its parent, one colour per service.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from baton.trace_store import (
    HOW_TO_RECORD,
    Trace,
    find_traces,
    group_traces,
    hop_name,
    read_spans,
    where_looked,
)

COLOURS = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4b5563")
SHOWN_ATTRIBUTES = ("baton.", "gen_ai.", "http.", "url.full", "messaging.destination.name")
STYLE = """
body { font: 14px system-ui, sans-serif; margin: 24px; color: #111827; }
h1 { font-size: 18px; } h2 { font-size: 15px; margin-top: 28px; }
table { border-collapse: collapse; width: 100%; }
td { padding: 3px 6px; border-bottom: 1px solid #f3f4f6; vertical-align: middle; }
td.hop { white-space: nowrap; width: 42%; } td.num { text-align: right; width: 7%;
  font-variant-numeric: tabular-nums; color: #374151; }
td.bar { position: relative; } .bar span { position: absolute; top: 5px; height: 12px;
  border-radius: 2px; min-width: 2px; }
.service { font-size: 12px; color: #6b7280; } .error { color: #dc2626; font-weight: 600; }
a { color: #2563eb; text-decoration: none; }
"""


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )


def _attributes(attributes: dict[str, object]) -> str:
    shown = [f"{k}={v}" for k, v in attributes.items() if k.startswith(SHOWN_ATTRIBUTES)]
    return escape("\n".join(shown), quote=True)


def render_trace(trace: Trace) -> str:
    """One trace as a table of hops with a bar each, on a common time axis."""
    origin = trace.start_ns
    total = max(trace.end_ns - origin, 1)
    colours: dict[str, str] = {}
    rows = []
    for depth, span in trace.ordered():
        colour = colours.setdefault(span.service, COLOURS[len(colours) % len(COLOURS)])
        left = (span.start_ns - origin) / total * 100
        width = max((span.end_ns - span.start_ns) / total * 100, 0.2)
        error = " <span class='error'>error</span>" if span.status == "ERROR" else ""
        rows.append(
            f"<tr title='{_attributes(span.attributes)}'>"
            f"<td class='hop' style='padding-left:{6 + 16 * depth}px'>"
            f"{escape(hop_name(span.name))}{error} "
            f"<span class='service'>{escape(span.service)}</span></td>"
            f"<td class='num'>{(span.start_ns - origin) / 1e6:.1f}</td>"
            f"<td class='num'>{span.duration_ms:.1f}</td>"
            f"<td class='bar'><span style='left:{left:.2f}%;width:{width:.2f}%;"
            f"background:{colour}'></span></td></tr>"
        )
    heading = (
        f"trace {trace.trace_id} · {escape(trace.subject())} · {len(trace.spans)} spans · "
        f"{total / 1e6:.1f} ms"
    )
    return (
        f"<h2>{heading}</h2><table><tr><td class='hop'><b>hop</b></td>"
        f"<td class='num'><b>start ms</b></td><td class='num'><b>ms</b></td><td></td></tr>"
        + "".join(rows)
        + "</table>"
    )


def trace_viewer_router(directory: Callable[[], Path]) -> APIRouter:
    router = APIRouter()

    @router.get("/traces", response_class=HTMLResponse)
    async def latest() -> HTMLResponse:
        traces = [t for t in group_traces(read_spans(directory())) if t.names_something]
        if not traces:
            looked = escape(where_looked(directory()))
            return _page("Traces", f"<h1>No traces yet</h1><p>{looked}. {HOW_TO_RECORD}</p>")
        items = "".join(
            f"<li><a href='/traces/{t.trace_id}'>"
            f"{datetime.fromtimestamp(t.start_ns / 1e9):%H:%M:%S}</a> "
            f"{escape(t.subject())} · {len(t.spans)} spans"
            f"{' · handoff' if t.has_handoff else ''}</li>"
            for t in reversed(traces[-50:])
        )
        return _page("Traces", f"<h1>Latest traces</h1><ul>{items}</ul>")

    @router.get("/traces/{identifier}", response_class=HTMLResponse)
    async def timeline(identifier: str) -> HTMLResponse:
        found = find_traces(group_traces(read_spans(directory())), identifier)
        if not found:
            looked = escape(where_looked(directory()))
            body = f"<h1>No spans name {escape(identifier)}</h1><p>{looked}. {HOW_TO_RECORD}</p>"
            response = _page("Trace not found", body)
            response.status_code = 404
            return response
        body = "".join(render_trace(trace) for trace in found)
        return _page(f"Trace {identifier}", f"<p><a href='/traces'>all traces</a></p>{body}")

    return router
