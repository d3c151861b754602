"""One trace from the customer's turn to the handoff, across every service, and ``baton trace``."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from baton.cli import main as baton
from baton.trace_store import timelines
from libs.contracts.messages import HandoffOutcome, HandoffResult
from libs.contracts.subjects import HANDOFF_RESULT
from libs.platform.build_info import version
from libs.platform.span_files import SpanFileExporter
from libs.platform.tracing import flush_spans, redacted, spans_exported_to
from services.messaging_gateway.inbound_turns import sms_conversation_id
from tests.support.digital_stack import start_digital_stack
from tests.support.relay_caller import dial
from tests.support.streams import HANDOFF_STREAM, wait_for_messages
from tests.support.traces import (
    TraceView,
    instrument_the_emulator,
    recorded_spans,
    service,
    wait_for_trace,
)
from tests.support.twilio_fakes import ACCOUNT_SID, OUR_NUMBER, sid
from tests.test_voice import start_voice_stack

STUDIO_REQUEST = "POST /v2/Flows/{flow_sid}/Executions"


def is_tool_call(span: ReadableSpan) -> bool:
    return span.name == "tool handoff"


def names_on_the_way_up(view: TraceView, span: ReadableSpan) -> list[str]:
    """``span`` and its ancestors, root last, as ``service: name``."""
    return [f"{service(s)}: {s.name}" for s in [span, *view.ancestors(span)]]


def in_order(wanted: list[str], chain: list[str]) -> bool:
    """Every item of ``wanted`` appears in ``chain``, in that order."""
    position = 0
    for item in chain:
        if position < len(wanted) and item == wanted[position]:
            position += 1
    return position == len(wanted)


async def sms_handoff(
    stack: AsyncExitStack, nats_url: str, js: JetStreamContext, number: str
) -> str:
    digital = await start_digital_stack(stack, nats_url)
    await digital.text_in("a human please", number)
    conversation = sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, number)
    [result] = await wait_for_messages(
        js, HANDOFF_STREAM, HANDOFF_RESULT.subject(conversation), HandoffResult
    )
    assert result.outcome is HandoffOutcome.DELIVERED
    return conversation


def sms_trace_complete(view: TraceView) -> bool:
    return bool(view.named(STUDIO_REQUEST) and view.named("handoff.dispatch"))


async def test_an_sms_handoff_is_one_trace_through_every_service(
    nats_url: str, js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    instrument_the_emulator(monkeypatch)
    number = "+15005550741"
    with recorded_spans() as exporter:
        async with AsyncExitStack() as stack:
            conversation = await sms_handoff(stack, nats_url, js, number)
            view = await wait_for_trace(exporter, is_tool_call, sms_trace_complete)

    assert len(view.roots()) == 1, [s.name for s in view.roots()]
    assert {"messaging-gateway", "agent-worker", "handoff-dispatcher", "twilio-emulator"} <= (
        view.services()
    )
    chain = names_on_the_way_up(view, view.one(STUDIO_REQUEST))
    assert in_order(
        [
            f"twilio-emulator: {STUDIO_REQUEST}",
            "handoff-dispatcher: studio.execution.create",
            "handoff-dispatcher: handoff.dispatch",
            "agent-worker: tool handoff",
            "agent-worker: agent.turn",
            "messaging-gateway: POST /messaging/sms",
        ],
        chain,
    ), chain
    dispatch = view.one("handoff.dispatch")
    assert dispatch.attributes is not None
    assert dispatch.attributes["baton.conversation_id"] == conversation
    assert dispatch.attributes["baton.handoff.outcome"] == "delivered"
    turn = view.one("agent.turn")
    assert turn.attributes is not None
    tokens_out = turn.attributes["baton.agent.tokens_out"]
    assert isinstance(tokens_out, int) and tokens_out >= 1
    assert "baton.agent.ttft_ms" in turn.attributes
    assert "baton.turn.text" not in turn.attributes, "message text needs BATON_LOG_SENSITIVE"
    everything = json.dumps([dict(s.attributes or {}) for s in exporter.get_finished_spans()])
    assert number not in everything and number[1:] not in everything
    names = {s.name for s in exporter.get_finished_spans()}
    assert {
        "publish baton.turns.{conversation}",
        "process baton.turns.{conversation}",
        "publish baton.handoff.requested.{conversation}",
        "process baton.handoff.requested.{conversation}",
    } <= names, "FastStream's spans are named like Baton's: operation, then subject template"
    assert not [name for name in names if conversation in name], "span names must stay bounded"
    assert not [n for n in names if n.endswith((" process", " publish", " create"))], names


async def test_twilio_calls_are_named_spans_and_resources_say_version_and_environment(
    nats_url: str, js: JetStreamContext
) -> None:
    with recorded_spans() as exporter:
        async with AsyncExitStack() as stack:
            await sms_handoff(stack, nats_url, js, "+15005550743")

            def done(view: TraceView) -> bool:
                return bool(view.named("studio.execution.create"))

            view = await wait_for_trace(exporter, is_tool_call, done)
    studio = view.one("studio.execution.create")
    assert studio.kind is SpanKind.CLIENT and service(studio) == "handoff-dispatcher"
    attributes = dict(studio.attributes or {})
    assert attributes["http.request.method"] == "POST"
    assert attributes["http.response.status_code"] == 201
    assert str(attributes["url.full"]).endswith("/Executions")
    assert attributes["server.address"] == "127.0.0.1"
    assert "http.method" not in attributes and "http.status_code" not in attributes, "old names"
    assert attributes["baton.operation"] == "studio.execution.create"
    names = {s.name for s in exporter.get_finished_spans()}
    assert "messages.create" in names, "the goodbye SMS went out through Messages"
    assert "POST" not in names, "no outbound Twilio call is a bare POST"
    gateway = view.one("POST /messaging/sms")
    assert (gateway.attributes or {})["http.route"] == "/messaging/sms"
    for span in exporter.get_finished_spans():
        resource = span.resource.attributes
        assert resource["service.version"] == version()
        assert resource["deployment.environment.name"] == "development"


async def test_a_voice_handoff_is_one_trace_from_the_prompt_to_the_end_frame(
    nats_url: str, js: JetStreamContext
) -> None:
    call_sid = sid("CA")
    with recorded_spans() as exporter:
        async with AsyncExitStack() as stack:
            voice = await start_voice_stack(stack, nats_url, js)
            caller = await dial(voice.relay_urls[0], call_sid)
            await caller.say("what time is it")
            await caller.reply()
            await caller.say("can I talk to a human")
            await caller.reply()
            assert (await caller.next_frame())["type"] == "end"

            def complete(view: TraceView) -> bool:
                return bool(
                    view.named("handoff.dispatch")
                    and view.named(
                        "process baton.voice.call.{call_sid}", **{"baton.voice.command": "end"}
                    )
                )

            view = await wait_for_trace(exporter, is_tool_call, complete)
            await caller.hang_up()

    [root] = view.roots()
    assert (service(root), root.name) == ("relay-gateway", "voice.turn")
    assert root.attributes is not None and root.attributes["baton.call_sid"] == call_sid
    assert root.attributes["baton.voice.prompt"] == 2, "the trace of the prompt that asked"
    assert root.links, "a voice turn links to its call's WebSocket span"
    assert {"relay-gateway", "agent-worker", "handoff-dispatcher"} <= view.services()
    end = view.one("process baton.voice.call.{call_sid}", **{"baton.voice.command": "end"})
    assert in_order(
        [
            "relay-gateway: process baton.voice.call.{call_sid}",
            "handoff-dispatcher: send baton.voice.call.{call_sid}",
            "handoff-dispatcher: handoff.dispatch",
            "agent-worker: tool handoff",
            "agent-worker: agent.turn",
            "relay-gateway: voice.turn",
        ],
        names_on_the_way_up(view, end),
    )
    first_token = view.one(
        "process baton.voice.call.{call_sid}", **{"baton.voice.first_token": True}
    )
    assert in_order(
        [
            "relay-gateway: process baton.voice.call.{call_sid}",
            "agent-worker: send baton.voice.call.{call_sid}",
            "agent-worker: agent.turn",
        ],
        names_on_the_way_up(view, first_token),
    )
    latency = root.attributes["baton.voice.turn_latency_ms"]
    assert isinstance(latency, float) and latency >= 0


async def test_baton_trace_prints_the_handoff_timeline(
    nats_url: str,
    js: JetStreamContext,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    instrument_the_emulator(monkeypatch)
    files = SpanFileExporter(tmp_path / "in-process.jsonl")
    with recorded_spans() as exporter, spans_exported_to(files):
        async with AsyncExitStack() as stack:
            conversation = await sms_handoff(stack, nats_url, js, "+15005550742")
            await wait_for_trace(exporter, is_tool_call, sms_trace_complete)
    flush_spans()
    monkeypatch.setenv("BATON_TRACE_DIR", str(tmp_path))
    capsys.readouterr()

    baton(["trace", conversation])
    printed = capsys.readouterr().out
    heading, columns, first, *rows = printed.splitlines()
    assert heading.startswith("trace ") and f"conversation_id {conversation}" in heading
    assert columns.split() == ["start", "ms", "duration", "ms", "hop"]
    assert first.split()[0] == "0.0"
    hop_column = columns.index("hop")
    hops = [row[hop_column:] for row in [first, *rows]]

    def indent(hop: str) -> int:
        return len(hop) - len(hop.lstrip())

    def row(service_and_name: str) -> str:
        return next(h for h in hops if h.strip() == service_and_name)

    gateway = row("messaging-gateway  POST /messaging/sms")
    turn = row("agent-worker  agent.turn")
    tool = row("agent-worker  tool handoff")
    dispatch = row("handoff-dispatcher  handoff.dispatch")
    studio_call = row("handoff-dispatcher  studio.execution.create")
    studio = row(f"twilio-emulator  {STUDIO_REQUEST}")
    assert indent(gateway) < indent(turn) < indent(tool) < indent(dispatch) < indent(studio)
    assert indent(dispatch) < indent(studio_call) < indent(studio), "the Studio hop, by name"
    assert hops.index(gateway) < hops.index(turn) < hops.index(dispatch) < hops.index(studio)


def test_spans_never_carry_a_raw_phone_number() -> None:
    exporter_spans: list[ReadableSpan] = []
    span = ReadableSpan(
        name="GET /_emulator/outbox",
        attributes={
            "url.query": "to=%2B15005550006",
            "baton.note": "call +15005550006 back",
            "http.status_code": 200,
        },
    )
    exporter_spans.append(redacted(span))
    attributes = dict(exporter_spans[0].attributes or {})
    assert "15005550006" not in json.dumps(attributes)
    assert attributes["http.status_code"] == 200
    assert redacted(ReadableSpan(name="agent.turn", attributes={"n": 1})).name == "agent.turn"


def test_the_trace_store_reads_files_being_written(tmp_path: Path) -> None:
    def line(span_id: str, parent: str | None, name: str, start: int, **attributes: str) -> str:
        record = {
            "trace_id": "ab" * 16,
            "span_id": span_id,
            "parent_span_id": parent,
            "name": name,
            "service": "handoff-dispatcher",
            "start_ns": start,
            "end_ns": start + 2_000_000,
            "attributes": attributes,
        }
        return json.dumps(record) + "\n"

    root = line("01" * 8, None, "handoff.dispatch", 1_000_000, **{"baton.call_sid": "CA1"})
    child = line("02" * 8, "01" * 8, "send baton.voice.call.{call_sid}", 1_500_000)
    (tmp_path / "a-1.jsonl").write_text(root + child + '{"trace_id": "cd')
    (tmp_path / "b-2.jsonl").write_text(root)

    by_call = timelines("CA1", tmp_path)
    by_trace = timelines("ab" * 16, tmp_path)
    assert by_call == by_trace
    heading, _, first, second = by_call.splitlines()
    assert "2 spans" in heading and "call_sid CA1" in heading
    assert first.split() == ["0.0", "2.0", "handoff-dispatcher", "handoff.dispatch"]
    assert second.split()[:2] == ["0.5", "2.0"]
    assert second.index("handoff-dispatcher") > first.index("handoff-dispatcher"), "indented"
    missing = timelines("CA2", tmp_path)
    assert missing.startswith(f"No spans name CA2: {tmp_path} holds 2 span file(s)")
    assert "BATON_TRACE_DIR" in missing and "baton up" in missing, "how to record spans"
