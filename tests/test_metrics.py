"""The handoff SLIs on every service's ``/metrics``, and dashboards and alerts built on them."""

from __future__ import annotations

import asyncio
import json
import re
import tomllib
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from nats.js import JetStreamContext

from libs.contracts.messages import HandoffFailure, HandoffOutcome, HandoffResult
from libs.contracts.subjects import HANDOFF_RESULT
from libs.platform import build_info, genai, request_metrics
from libs.platform.metrics import NATS_METRICS, REGISTRY
from libs.platform.nats_metrics import FASTSTREAM_SERIES
from libs.platform.twilio_rest import TWILIO_REQUEST_TIME
from services.agent_worker.metrics import METRICS as WORKER_METRICS
from services.handoff_dispatcher.metrics import METRICS as DISPATCHER_METRICS
from services.messaging_gateway.inbound_turns import sms_conversation_id
from services.messaging_gateway.metrics import METRICS as MESSAGING_METRICS
from services.relay_gateway.metrics import METRICS as RELAY_METRICS
from tests.support.digital_stack import start_digital_stack
from tests.support.relay_caller import dial
from tests.support.streams import HANDOFF_STREAM, wait_for_messages
from tests.support.twilio_fakes import ACCOUNT_SID, OUR_NUMBER, sid
from tests.test_voice import start_voice_stack

OBSERVABILITY = Path(__file__).parent.parent / "deploy" / "observability"
OPERATIONS = Path(__file__).parent.parent / "docs" / "operations.md"

ALL_METRICS = (
    *DISPATCHER_METRICS,
    *RELAY_METRICS,
    *WORKER_METRICS,
    *MESSAGING_METRICS,
    *NATS_METRICS,
    *request_metrics.METRICS,
    *genai.METRICS,
    *build_info.METRICS,
    TWILIO_REQUEST_TIME,
)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Counts:
    """Samples before and after, so other tests in the same process do not matter."""

    def __init__(self, *samples: tuple[str, dict[str, str]]) -> None:
        self._samples = samples
        self._before = [value(name, **labels) for name, labels in samples]

    def deltas(self) -> dict[str, float]:
        return {
            f"{name}{labels}": value(name, **labels) - before
            for (name, labels), before in zip(self._samples, self._before, strict=True)
        }


def sms(name: str, **labels: str) -> tuple[str, dict[str, str]]:
    return name, {"channel": "sms", **labels}


async def sms_result(js: JetStreamContext, number: str) -> HandoffResult:
    conversation = sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, number)
    [result] = await wait_for_messages(
        js, HANDOFF_STREAM, HANDOFF_RESULT.subject(conversation), HandoffResult
    )
    return result


async def test_an_sms_handoff_is_measured_with_its_trace(
    nats_url: str, js: JetStreamContext
) -> None:
    counts = Counts(
        sms("baton_handoff_decision_seconds_count"),
        sms("baton_handoff_studio_accepted_seconds_count"),
        sms("baton_handoff_turn_to_twilio_seconds_count"),
        sms("baton_handoff_outcomes_total", outcome="delivered", failure="none"),
        sms("baton_agent_time_to_first_token_seconds_count"),
        ("baton_nats_queue_seconds_count", {"consumer": "handoff-dispatcher"}),
        ("baton_nats_settled_total", {"consumer": "handoff-dispatcher", "result": "ack"}),
    )
    number = "+15005550751"
    async with AsyncExitStack() as stack:
        digital = await start_digital_stack(stack, nats_url)
        await digital.text_in("a human please", number)
        result = await sms_result(js, number)
        text = (await digital.http.get(f"{digital.gateway_admin}/metrics")).text
        open_metrics = await digital.http.get(
            f"{digital.gateway_admin}/metrics", headers={"Accept": "application/openmetrics-text"}
        )
    assert result.outcome is HandoffOutcome.DELIVERED
    assert all(delta == 1 for delta in counts.deltas().values()), counts.deltas()
    assert 'baton_handoff_studio_accepted_seconds_bucket{channel="sms",le="2.0"}' in text
    assert (
        value(
            "baton_nats_consumer_pending",
            stream="BATON_HANDOFF",
            consumer="handoff-dispatcher",
        )
        == 0
    )

    conversation = sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, number)
    stored = await js.get_msg(HANDOFF_STREAM, subject=HANDOFF_RESULT.subject(conversation))
    assert stored.headers is not None
    handoff_trace = stored.headers["traceparent"].split("-")[1]
    exemplars = re.findall(
        r'^baton_handoff_studio_accepted_seconds_bucket\{channel="sms",le="[^"]+"\} \S+ '
        r'# \{span_id="[0-9a-f]{16}",trace_id="([0-9a-f]{32})"\}',
        open_metrics.text,
        re.MULTILINE,
    )
    assert handoff_trace in exemplars, "a slow bucket must lead to its trace"


async def test_a_rejected_handoff_is_counted_by_its_typed_failure(
    nats_url: str, js: JetStreamContext
) -> None:
    counts = Counts(
        sms("baton_handoff_outcomes_total", outcome="failed", failure="studio_rejected"),
    )
    accepted = value("baton_handoff_studio_accepted_seconds_count", channel="sms")
    number = "+15005550752"
    async with AsyncExitStack() as stack:
        digital = await start_digital_stack(stack, nats_url)
        await digital.admin(
            "POST", "/faults", json={"path_prefix": "/v2/Flows", "status": 400, "count": 1}
        )
        await digital.text_in("human please", number)
        result = await sms_result(js, number)
    assert result.failure is HandoffFailure.STUDIO_REJECTED
    assert list(counts.deltas().values()) == [1]
    assert value("baton_handoff_studio_accepted_seconds_count", channel="sms") == accepted


async def test_a_voice_handoff_and_its_turn_latency_are_measured(
    nats_url: str, js: JetStreamContext
) -> None:
    counts = Counts(
        ("baton_handoff_voice_end_sent_seconds_count", {}),
        ("baton_handoff_turn_to_twilio_seconds_count", {"channel": "voice"}),
        (
            "baton_handoff_outcomes_total",
            {"channel": "voice", "outcome": "delivered", "failure": "none"},
        ),
        ("baton_voice_turn_latency_seconds_count", {}),
        ("baton_voice_prompt_store_seconds_count", {}),
    )
    live_before = value("baton_voice_live_calls")
    call_sid = sid("CA")
    async with AsyncExitStack() as stack:
        voice = await start_voice_stack(stack, nats_url, js)
        caller = await dial(voice.relay_urls[0], call_sid)
        await caller.say("can I talk to a human")
        await caller.reply()
        assert (await caller.next_frame())["type"] == "end"
        await wait_for_messages(js, HANDOFF_STREAM, HANDOFF_RESULT.subject(call_sid), HandoffResult)
        assert value("baton_voice_live_calls") == live_before + 1
        async with httpx.AsyncClient() as client:
            scraped = (await client.get(f"{voice.admin_urls[0]}/metrics")).text
        await caller.hang_up()
        for _ in range(100):
            if value("baton_voice_live_calls") == live_before:
                break
            await asyncio.sleep(0.05)
    assert all(delta == 1 for delta in counts.deltas().values()), counts.deltas()
    assert 'baton_voice_turn_latency_seconds_bucket{le="0.5"}' in scraped
    assert value("baton_voice_live_calls") == live_before


# --- Dashboards and alerts use only metrics Baton records --------------------------------


def defined_series() -> set[str]:
    names: set[str] = set()
    for name in (*(m.name for m in ALL_METRICS), *FASTSTREAM_SERIES):
        names.add(name)
        names.update(f"{name}{suffix}" for suffix in ("_bucket", "_count", "_sum"))
    return names


def series_in(expression: str) -> set[str]:
    return set(re.findall(r"\b(?:baton|faststream)_[a-z0-9_]+", expression))


def runbook() -> str:
    pyproject = tomllib.loads((OPERATIONS.parents[1] / "pyproject.toml").read_text())
    return str(pyproject["project"]["urls"]["Runbook"])


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    return [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((OBSERVABILITY / "alerts.yaml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_the_dashboard_queries_only_recorded_metrics() -> None:
    expressions = dashboard_expressions()
    assert expressions
    unknown = set().union(*(series_in(e) for e in expressions)) - defined_series()
    assert not unknown, unknown


def test_dashboard_and_alert_expressions_are_valid_promql() -> None:
    promql = pytest.importorskip("promql_parser")
    grafana_ranges = {"$__range": "1h", "$__rate_interval": "1m", "$__interval": "1m"}
    for expression in dashboard_expressions():
        for variable, value in grafana_ranges.items():
            expression = expression.replace(variable, value)
        promql.parse(expression)
    for rule in alert_rules():
        promql.parse(rule["expr"])


def test_alerts_use_recorded_metrics_and_point_to_the_runbook() -> None:
    rules = alert_rules()
    alerts = [r for r in rules if "alert" in r]
    assert {
        "BatonHandoffFailureRatioHigh",
        "BatonConsumerLagHigh",
        "BatonDeadLetters",
        "BatonStreamNearlyFull",
        "BatonStreamFull",
        "BatonRedeliveryStorm",
        "BatonNatsDisconnected",
        "BatonServiceAbsent",
        "BatonWebhooksRefused",
        "BatonSignatureRejectionBurst",
        "BatonTwilioErrorRate",
        "BatonTwilioRefusesCredentials",
        "BatonModelErrors",
    } <= {a["alert"] for a in alerts}
    unknown = set().union(*(series_in(r["expr"]) for r in rules)) - defined_series()
    assert not unknown, unknown
    headings = {
        re.sub(r"[^a-z0-9 _-]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in OPERATIONS.read_text().splitlines()
        if line.startswith("#")
    }
    for alert in alerts:
        assert alert["labels"]["severity"] in {"page", "ticket"}
        page, _, anchor = alert["annotations"]["runbook_url"].partition("#")
        assert page == runbook(), f"{alert['alert']}: runbook_url must be a full link"
        assert anchor in headings, f"{alert['alert']}: no section #{anchor} in the runbook"


def test_otlp_names_never_become_a_scraped_name() -> None:
    """A collector that scrapes ``/metrics`` and receives OTLP must not count anything twice."""

    def as_prometheus(otel_name: str, kind: str) -> str:
        name = otel_name.replace(".", "_")
        return name + {"histogram": "_seconds", "counter": "_total"}.get(kind, "")

    converted = {as_prometheus(m.otel_name, m.kind) for m in ALL_METRICS}
    assert not converted & {m.name for m in ALL_METRICS}


def test_the_runbook_names_every_metric_and_every_alert() -> None:
    runbook_text = OPERATIONS.read_text()
    for name in (*(m.name for m in ALL_METRICS), *FASTSTREAM_SERIES):
        assert f"`{name}`" in runbook_text, f"{name} is not in the metrics reference"
    for alert in (r["alert"] for r in alert_rules() if "alert" in r):
        assert f"| `{alert}` |" in runbook_text, f"{alert} is not in the alerts table"
