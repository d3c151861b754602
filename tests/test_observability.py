"""What an SRE reads on day one, checked on a real local stack: the emulator over HTTP, the
messaging gateway, the model agent against an OpenAI-compatible server, the dispatcher and
a real NATS server. One SMS handoff and one webhook signed for the wrong URL, then every
named metric on ``/metrics``, every named span, and the fields of the log lines."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from libs.contracts.messages import HandoffOutcome, HandoffResult
from libs.contracts.subjects import HANDOFF_RESULT
from libs.platform.build_info import version
from libs.platform.consumer_lag import ConsumerLag
from libs.platform.logs import OWN_HANDLERS, configure_logging
from libs.platform.metrics import REGISTRY
from services.agent_worker.settings import AgentWorkerSettings
from services.messaging_gateway.inbound_turns import sms_conversation_id
from tests.agent.conftest import API_KEY
from tests.agent.openai_server import MODEL, Call, ScriptedModel, Text, ToolCalls, create_app
from tests.support.digital_stack import DigitalStack, start_digital_stack
from tests.support.servers import serve
from tests.support.streams import HANDOFF_STREAM, wait_for_messages
from tests.support.traces import TraceView, recorded_spans, service, wait_for_trace
from tests.support.twilio_fakes import ACCOUNT_SID, OUR_NUMBER, post_signed_form, sid

CUSTOMER = "+15005550761"
GOODBYE = ("Connecting you ", "with our team now.")


@dataclass
class Observed:
    conversation: str
    metrics: str
    spans: InMemorySpanExporter
    view: TraceView
    logs: list[dict[str, Any]]
    rejected: httpx.Response


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Baton's log configuration writing JSON to a buffer; the previous one restored after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    libraries = {name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate)
                 for name in OWN_HANDLERS}  # fmt: skip
    buffer = io.StringIO()
    configure_logging("INFO", "json", service="baton-test", stream=buffer)
    yield buffer
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, (handlers, propagate) in libraries.items():
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).propagate = propagate


async def forged_sms(digital: DigitalStack) -> httpx.Response:
    """An SMS webhook signed for another URL: what a wrong ``PUBLIC_BASE_URL`` looks like."""
    params = {"MessageSid": sid("SM"), "AccountSid": ACCOUNT_SID, "From": CUSTOMER,
              "To": OUR_NUMBER, "Body": "hello"}  # fmt: skip
    return await post_signed_form(
        digital.http,
        f"{digital.gateway}/messaging/sms",
        params,
        public_url="https://old-host.example.com/messaging/sms",
    )


@pytest.fixture
async def observed(
    nats_url: str, js: JetStreamContext, json_logs: io.StringIO
) -> AsyncIterator[Observed]:
    model = ScriptedModel()
    model.script(ToolCalls.of(Call("handoff", {"reason": "customer asked for a person"})),
                 Text(GOODBYE))  # fmt: skip
    model.summary = "The customer asked for a person."
    with recorded_spans() as exporter:
        async with AsyncExitStack() as stack:
            openai_url = await stack.enter_async_context(serve(create_app(model)))
            worker = AgentWorkerSettings(
                nats_url=nats_url,
                openai_api_key=API_KEY,
                openai_base_url=f"{openai_url}/v1",
                baton_llm_model=MODEL,
                baton_llm_max_retries=0,
            )
            digital = await start_digital_stack(stack, nats_url, worker=worker)
            rejected = await forged_sms(digital)
            await digital.text_in("My parcel 5512 arrived damaged, I need it replaced", CUSTOMER)
            conversation = sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, CUSTOMER)
            [result] = await wait_for_messages(
                js, HANDOFF_STREAM, HANDOFF_RESULT.subject(conversation), HandoffResult
            )
            assert result.outcome is HandoffOutcome.DELIVERED
            assert await digital.wait_outbox(CUSTOMER, 1), "the goodbye went out as an SMS"

            def complete(view: TraceView) -> bool:
                return bool(view.named("studio.execution.create") and view.named("messages.create"))

            view = await wait_for_trace(exporter, lambda s: s.name == "tool handoff", complete)
            metrics = (await digital.http.get(f"{digital.gateway_admin}/metrics")).text
    logs = [json.loads(line) for line in json_logs.getvalue().splitlines() if line.strip()]
    yield Observed(conversation, metrics, exporter, view, logs, rejected)


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one series in a scrape, found by name and a subset of its labels."""
    for line in metrics.splitlines():
        match = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if not match or match[1] != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match[2] or ""))
        if labels.items() <= found.items():
            return float(match[3])
    raise AssertionError(f"no {name}{labels} on /metrics")


def test_webhook_requests_and_a_signature_rejection_are_measured_by_route(
    observed: Observed,
) -> None:
    metrics = observed.metrics
    assert observed.rejected.status_code == 403
    sms = {"route": "/messaging/sms", "method": "POST"}
    assert sample(metrics, "baton_http_request_seconds_count", **sms, status="200") >= 1
    assert sample(metrics, "baton_http_request_seconds_count", **sms, status="403") >= 1
    assert sample(metrics, "baton_http_request_seconds_bucket", **sms, status="200", le="0.5") >= 1
    rejections = sample(
        metrics, "baton_webhook_signature_rejections_total",
        route="/messaging/sms", reason="invalid_signature",
    )  # fmt: skip
    assert rejections >= 1
    assert 'route="/healthz"' not in metrics and 'route="/metrics"' not in metrics


def test_twilio_calls_are_measured_by_operation_and_status(observed: Observed) -> None:
    metrics = observed.metrics
    for operation in ("studio.execution.create", "messages.create"):
        assert (
            sample(metrics, "baton_twilio_request_seconds_count", operation=operation, status="201")
            >= 1
        ), operation


def test_model_calls_are_measured_with_their_tokens(observed: Observed) -> None:
    metrics = observed.metrics
    requests = sample(
        metrics, "baton_model_request_seconds_count", operation="chat", model=MODEL, outcome="ok"
    )
    assert requests >= 3, "two rounds of the conversation and the summary"
    for kind in ("input", "output"):
        tokens = sample(metrics, "baton_model_tokens_total", model=MODEL, type=kind)
        assert tokens > 0, kind


def test_nats_publish_and_consume_are_counted_per_subject_template(observed: Observed) -> None:
    metrics = observed.metrics
    turns = "baton.turns.{conversation}"
    assert sample(metrics, "faststream_received_messages_total",
                  app_name="agent-worker", handler=turns) >= 1  # fmt: skip
    assert sample(metrics, "faststream_published_messages_total",
                  app_name="messaging-gateway", destination=turns) >= 1  # fmt: skip
    assert sample(metrics, "faststream_received_processed_messages_total",
                  app_name="handoff-dispatcher", status="acked") >= 1  # fmt: skip
    assert observed.conversation not in metrics, "no label carries a conversation id"


def test_nats_health_stream_fullness_and_build_are_on_metrics(observed: Observed) -> None:
    metrics = observed.metrics
    assert sample(metrics, "baton_nats_connected") == 1
    for stream in ("BATON_TURNS", "BATON_REPLIES", "BATON_HANDOFF", "BATON_DLQ"):
        fullness = sample(metrics, "baton_nats_stream_fullness_ratio", stream=stream)
        assert 0 <= fullness < 0.01, stream
        assert sample(metrics, "baton_nats_stream_bytes", stream=stream) >= 0
    assert sample(metrics, "baton_nats_consumer_redelivered",
                  stream="BATON_TURNS", consumer="agent-worker") == 0  # fmt: skip
    for name in ("messaging-gateway", "agent-worker", "handoff-dispatcher"):
        assert sample(metrics, "baton_build_info", service=name, version=version()) == 1


def test_the_model_call_is_a_genai_span_around_its_http_request(observed: Observed) -> None:
    chats = [s for s in observed.spans.get_finished_spans() if s.name == f"chat {MODEL}"]
    assert len(chats) >= 3
    chat = next(s for s in chats if (s.attributes or {}).get("gen_ai.usage.output_tokens"))
    attributes = dict(chat.attributes or {})
    assert chat.kind is SpanKind.CLIENT and service(chat) == "agent-worker"
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == MODEL
    assert attributes["gen_ai.response.model"] == MODEL
    assert isinstance(attributes["gen_ai.usage.input_tokens"], int)
    assert attributes["gen_ai.usage.input_tokens"] > 0
    assert attributes["gen_ai.response.finish_reasons"] in (("tool_calls",), ("stop",))
    turns = {
        s.context.span_id: s for s in observed.spans.get_finished_spans()
        if s.context is not None and s.name == "agent.turn"
    }  # fmt: skip
    assert chat.parent is not None and chat.parent.span_id in turns, "inside the agent's turn"


def test_twilio_calls_and_messaging_hops_are_named_spans(observed: Observed) -> None:
    view = observed.view
    studio = view.one("studio.execution.create")
    assert service(studio) == "handoff-dispatcher"
    assert (studio.attributes or {})["http.response.status_code"] == 201
    names = {s.name for s in observed.spans.get_finished_spans()}
    assert {"messages.create", "process baton.replies.{conversation}",
            "publish baton.replies.{conversation}"} <= names  # fmt: skip


def test_log_lines_are_json_with_the_trace_they_were_written_in(observed: Observed) -> None:
    refusal = [line for line in observed.logs if line["logger"] == "baton.webhooks"]
    assert refusal, [line["logger"] for line in observed.logs]
    line = refusal[0]
    assert line["level"] == "WARNING" and line["service"] == "baton-test"
    assert "PUBLIC_BASE_URL" in line["message"] and "/messaging/sms" in line["message"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", line["time"])
    server_spans = {
        format(s.context.span_id, "016x"): s
        for s in observed.spans.get_finished_spans()
        if s.context is not None and s.name == "POST /messaging/sms"
    }
    assert line["span_id"] in server_spans, "the line names the span of the refused request"
    span = server_spans[line["span_id"]]
    assert span.context is not None
    assert line["trace_id"] == format(span.context.trace_id, "032x")
    assert (span.attributes or {})["http.response.status_code"] == 403
    inside = [entry for entry in observed.logs if "trace_id" in entry]
    assert all(re.fullmatch(r"[0-9a-f]{32}", e["trace_id"]) for e in inside)
    assert all(re.fullmatch(r"[0-9a-f]{16}", e["span_id"]) for e in inside)


async def test_stream_fullness_is_the_share_of_the_tightest_limit(
    nats_url: str, nats_client: Client
) -> None:
    js = nats_client.jetstream()
    name = "BATON_FULLNESS_PROBE"
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(name)
    await js.add_stream(StreamConfig(name=name, subjects=["probe.>"], max_msgs=10,
                                     max_bytes=1024 * 1024))  # fmt: skip
    for number in range(8):
        await js.publish(f"probe.{number}", b"x")
    broker = NatsBroker(nats_url)
    await broker.connect()
    try:
        await ConsumerLag(broker, [], streams=[name]).sample()
    finally:
        await broker.stop()
        await js.delete_stream(name)
    assert REGISTRY.get_sample_value("baton_nats_stream_fullness_ratio", {"stream": name}) == 0.8
    assert REGISTRY.get_sample_value("baton_nats_stream_messages", {"stream": name}) == 8
