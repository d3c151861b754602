"""Creating a Studio execution against the emulator over HTTP: each answer Studio can give.

Faults (429, 5xx, slow answers) are queued on the emulator; the retry delay the dispatcher
chose is read from the ``studio.retry`` events on the current span, so no test measures time.
Two answers the emulator never gives, a 429 without ``Retry-After`` and one whose value is
not a number, come from a scripted stand-in served over HTTP the same way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Response

from baton_devtools.nats_server import free_port
from libs.contracts.messages import HandoffFailure
from libs.platform.twilio_rest import TwilioRestClient
from services.handoff_dispatcher.outcome import DeliveryOutcome
from services.handoff_dispatcher.studio import RetryBudget, StudioExecutions
from tests.emulator.harness import Emulator
from tests.support.recorders import Heartbeats, LocalSpans, local_spans
from tests.support.servers import serve
from tests.support.twilio_fakes import API_KEY, API_SECRET, CUSTOMER, FLOW_SID, OUR_NUMBER
from tests.support.twilio_rest import rest_client

EXECUTIONS = f"/v2/Flows/{FLOW_SID}/Executions"
OTHER_CUSTOMER = "+15005550007"
OTHER_NUMBER = "+15005550002"
CONVERSATION = "conv-ours"


def parameters(conversation_id: str) -> str:
    handoff = {"conversationId": conversation_id, "storeId": "", "profileId": "", "attributes": {}}
    return json.dumps({"HandoffData": handoff}, separators=(",", ":"))


@pytest.fixture
def spans() -> Iterator[LocalSpans]:
    with local_spans() as recorded:
        yield recorded


def studio(
    rest: TwilioRestClient,
    *,
    max_attempts: int = 3,
    backoff: float = 0.0,
    cap: float = 0.0,
) -> StudioExecutions:
    return StudioExecutions(rest, FLOW_SID, RetryBudget(max_attempts, backoff, cap))


async def create(
    executions: StudioExecutions,
    spans: LocalSpans,
    heartbeat: Callable[[], Awaitable[None]] | None = None,
    conversation_id: str = CONVERSATION,
) -> tuple[DeliveryOutcome, list[dict[str, Any]]]:
    """Create under a ``dispatch`` span; the outcome and the retry events on that span."""
    tracer, exporter = spans
    with tracer.start_as_current_span("dispatch"):
        outcome = await asyncio.wait_for(
            executions.create(
                to=CUSTOMER,
                from_=OUR_NUMBER,
                parameters=parameters(conversation_id),
                conversation_id=conversation_id,
                heartbeat=heartbeat or Heartbeats(),
            ),
            timeout=10.0,
        )
    [span] = exporter.get_finished_spans()
    exporter.clear()
    return outcome, [dict(event.attributes or {}) for event in span.events]


async def fault(emulator: Emulator, **spec: Any) -> None:
    await emulator.post("/_emulator/faults", {"path_prefix": "/v2/Flows", **spec})


async def posts(emulator: Emulator) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await emulator.get(
        "/_emulator/requests", path_prefix=EXECUTIONS, method="POST"
    )
    return found


async def existing_execution(emulator: Emulator, conversation_id: str, to: str = CUSTOMER) -> str:
    async with emulator.rest(API_KEY, API_SECRET) as client:
        response = await client.post(
            EXECUTIONS,
            data={"To": to, "From": OUR_NUMBER, "Parameters": parameters(conversation_id)},
        )
    assert response.status_code == 201, response.text
    return str(response.json()["sid"])


async def test_a_created_execution_is_delivered_with_the_exact_request(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    outcome, retries = await create(studio(emulator_rest), spans)
    [execution] = await emulator.get("/_emulator/executions")
    assert outcome == DeliveryOutcome(execution["sid"], None, "created", 1)
    assert retries == []
    [request] = await posts(emulator)
    assert request["form"] == {
        "To": "+15005550006",
        "From": "+15005550001",
        "Parameters": '{"HandoffData":{"conversationId":"conv-ours","storeId":"","profileId":"",'
        '"attributes":{}}}',
    }
    assert request["auth"] == {"kind": "api_key", "username": API_KEY}


async def test_409_for_our_own_active_execution_counts_as_delivered(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    ours = await existing_execution(emulator, CONVERSATION)
    outcome, retries = await create(studio(emulator_rest), spans)
    assert outcome == DeliveryOutcome(ours, None, "already active for us", 1)
    assert retries == []
    assert [r["status"] for r in await posts(emulator)] == [201, 409]


async def test_409_for_someone_elses_execution_is_a_conflict_not_retried(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    await existing_execution(emulator, "another-conversation")
    outcome, retries = await create(studio(emulator_rest), spans)
    assert (outcome.execution_sid, outcome.failure, outcome.attempts) == (
        None,
        HandoffFailure.CONFLICT,
        1,
    )
    assert "20409" in outcome.detail
    assert retries == []
    assert [r["status"] for r in await posts(emulator)] == [201, 409]


async def test_a_retry_after_above_the_cap_waits_only_the_cap(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    await fault(emulator, status=429, retry_after=3600)
    heartbeats = Heartbeats()
    outcome, retries = await create(studio(emulator_rest, backoff=5.0, cap=0.05), spans, heartbeats)
    assert outcome.delivered and outcome.attempts == 2
    assert retries == [{"attempt": 1, "failure": "rate_limited", "delay_s": 0.05}]
    assert heartbeats.count == 1, "the message is kept alive while waiting to retry"
    assert [r["status"] for r in await posts(emulator)] == [429, 201]


async def test_a_retry_after_below_the_cap_is_honoured(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    await fault(emulator, status=429, retry_after=0.02)
    outcome, retries = await create(studio(emulator_rest, backoff=5.0, cap=30.0), spans)
    assert outcome.delivered and outcome.attempts == 2
    assert retries == [{"attempt": 1, "failure": "rate_limited", "delay_s": 0.02}]


async def test_rate_limited_past_the_budget_is_a_typed_failure(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    await fault(emulator, status=429, retry_after=0.01, count=3)
    outcome, retries = await create(studio(emulator_rest, max_attempts=3), spans)
    assert (outcome.execution_sid, outcome.failure, outcome.attempts) == (
        None,
        HandoffFailure.RATE_LIMITED,
        3,
    )
    assert outcome.detail.startswith("429 ")
    assert [event["attempt"] for event in retries] == [1, 2], "no wait after the last attempt"
    assert await emulator.get("/_emulator/executions") == []


async def test_a_5xx_is_retried_with_the_doubling_backoff(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    await fault(emulator, status=503, count=2)
    outcome, retries = await create(studio(emulator_rest, backoff=0.01, cap=30.0), spans)
    assert outcome.delivered and outcome.attempts == 3
    assert retries == [
        {"attempt": 1, "failure": "studio_unavailable", "delay_s": 0.01},
        {"attempt": 2, "failure": "studio_unavailable", "delay_s": 0.02},
    ]


async def test_5xx_past_the_budget_is_studio_unavailable(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    await fault(emulator, status=500, count=2)
    outcome, _ = await create(studio(emulator_rest, max_attempts=2), spans)
    assert (outcome.failure, outcome.attempts) == (HandoffFailure.STUDIO_UNAVAILABLE, 2)
    assert outcome.detail.startswith("500 ")


async def test_a_4xx_is_rejected_at_once(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    await fault(emulator, status=400)
    outcome, retries = await create(studio(emulator_rest, max_attempts=4), spans)
    assert (outcome.execution_sid, outcome.failure, outcome.attempts) == (
        None,
        HandoffFailure.STUDIO_REJECTED,
        1,
    )
    assert outcome.detail.startswith("400 ")
    assert retries == []
    assert [r["status"] for r in await posts(emulator)] == [400]


async def test_wrong_credentials_are_rejected_not_retried(
    emulator: Emulator, spans: LocalSpans
) -> None:
    async with rest_client(emulator.url, password="wrong-secret") as client:
        outcome, _ = await create(studio(client, max_attempts=4), spans)
    assert (outcome.failure, outcome.attempts) == (HandoffFailure.STUDIO_REJECTED, 1)
    assert outcome.detail.startswith("401 ")


async def test_a_timeout_is_retried(emulator: Emulator, spans: LocalSpans) -> None:
    await fault(emulator, status=503, delay_seconds=0.5)
    async with rest_client(emulator.url, timeout_seconds=0.1) as client:
        outcome, retries = await create(studio(client, max_attempts=2), spans)
    assert outcome.delivered and outcome.attempts == 2
    assert retries == [{"attempt": 1, "failure": "studio_unavailable", "delay_s": 0.0}]


async def test_an_unreachable_studio_is_unavailable_after_the_budget(
    spans: LocalSpans,
) -> None:
    async with rest_client(f"http://127.0.0.1:{free_port()}") as client:
        outcome, retries = await create(studio(client, max_attempts=2), spans)
    assert (outcome.failure, outcome.attempts) == (HandoffFailure.STUDIO_UNAVAILABLE, 2)
    assert "ConnectError" in outcome.detail
    assert len(retries) == 1


def scripted_studio(answers: list[Response]) -> FastAPI:
    """Answers each Executions POST with the next scripted response."""
    app = FastAPI()

    @app.post(EXECUTIONS)
    async def create_execution() -> Response:
        return answers.pop(0)

    return app


@pytest.mark.parametrize("retry_after", [None, "soon"])
async def test_a_429_without_a_usable_retry_after_backs_off(
    retry_after: str | None, spans: LocalSpans
) -> None:
    """The emulator always sends a numeric ``Retry-After`` with 429, so a stand-in answers."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    answers = [
        Response('{"code": 20429}', status_code=429, headers=headers),
        Response('{"sid": "FN' + "00" * 16 + '"}', status_code=201),
    ]
    async with serve(scripted_studio(answers)) as url, rest_client(url) as client:
        outcome, retries = await create(studio(client, backoff=0.03, cap=30.0), spans)
    assert outcome == DeliveryOutcome("FN" + "00" * 16, None, "created", 2)
    assert retries == [{"attempt": 1, "failure": "rate_limited", "delay_s": 0.03}]


async def test_find_active_finds_our_execution_among_others(
    emulator: Emulator, emulator_rest: TwilioRestClient
) -> None:
    await existing_execution(emulator, CONVERSATION, to=OTHER_CUSTOMER)
    await existing_execution(emulator, "another-conversation", to="+15005550008")
    ours = await existing_execution(emulator, CONVERSATION)
    assert await studio(emulator_rest).find_active(CUSTOMER, CONVERSATION) == ours


async def end_execution(emulator: Emulator, execution_sid: str) -> None:
    async with emulator.rest(API_KEY, API_SECRET) as client:
        response = await client.post(f"{EXECUTIONS}/{execution_sid}", data={"Status": "ended"})
    assert response.status_code == 200, response.text


async def test_find_active_skips_an_ended_execution(
    emulator: Emulator, emulator_rest: TwilioRestClient
) -> None:
    await end_execution(emulator, await existing_execution(emulator, CONVERSATION))
    assert await studio(emulator_rest).find_active(CUSTOMER, CONVERSATION) is None


async def test_find_active_skips_another_contacts_execution(
    emulator: Emulator, emulator_rest: TwilioRestClient
) -> None:
    await existing_execution(emulator, CONVERSATION, to=OTHER_CUSTOMER)
    assert await studio(emulator_rest).find_active(CUSTOMER, CONVERSATION) is None


async def test_find_active_skips_another_conversations_execution(
    emulator: Emulator, emulator_rest: TwilioRestClient
) -> None:
    await existing_execution(emulator, "another-conversation")
    assert await studio(emulator_rest).find_active(CUSTOMER, CONVERSATION) is None


async def test_find_active_is_none_when_studio_cannot_list(
    emulator: Emulator, emulator_rest: TwilioRestClient
) -> None:
    await existing_execution(emulator, CONVERSATION)
    await fault(emulator, status=500, method="GET")
    assert await studio(emulator_rest).find_active(CUSTOMER, CONVERSATION) is None
