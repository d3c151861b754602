"""Creating a Studio execution against the emulator over HTTP: each answer Studio can give.

Faults (429, 5xx, slow answers, answers held after Studio acted) are queued on the emulator;
the retry delay the dispatcher chose is read from the ``studio.retry`` events on the current
span, so no test measures time. Which requests reached Studio, and in what order, is read
from the emulator's request log: a POST whose outcome is unknown must be followed by a
lookup, one known not to have happened must not. Two answers the emulator never gives, a 429
without ``Retry-After`` and one whose value is not a number, come from a scripted stand-in
served over HTTP the same way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI, Response

from baton_devtools.nats_server import free_port
from libs.contracts.messages import HandoffFailure, utc_now
from libs.platform.twilio_rest import TwilioRestClient
from services.handoff_dispatcher.outcome import DeliveryOutcome, OutcomeUnknown
from services.handoff_dispatcher.studio import ExecutionRequest, RetryBudget, StudioExecutions
from tests.emulator.harness import Emulator
from tests.support.recorders import LocalSpans, local_spans
from tests.support.servers import serve
from tests.support.twilio_fakes import API_KEY, API_SECRET, CUSTOMER, FLOW_SID, OUR_NUMBER
from tests.support.twilio_rest import rest_client

EXECUTIONS = f"/v2/Flows/{FLOW_SID}/Executions"
OTHER_CUSTOMER = "+15005550007"
CONVERSATION = "conv-ours"
HANDOFF = "conv-ours:0"


def parameters(conversation_id: str, handoff_id: str | None) -> str:
    """HandoffData as the dispatcher sends it; ``handoff_id=None``: an unmarked execution."""
    attributes = {"handoffId": handoff_id} if handoff_id else {}
    handoff = {
        "conversationId": conversation_id,
        "storeId": "",
        "profileId": "",
        "attributes": attributes,
    }
    return json.dumps({"HandoffData": handoff}, separators=(",", ":"))


def execution_request(
    handoff_id: str = HANDOFF, sending_since: datetime | None = None
) -> ExecutionRequest:
    return ExecutionRequest(
        to=CUSTOMER,
        from_=OUR_NUMBER,
        parameters=parameters(CONVERSATION, handoff_id),
        handoff_id=handoff_id,
        conversation_id=CONVERSATION,
        sending_since=sending_since or utc_now(),
    )


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
    *,
    unsure: bool = False,
    request: ExecutionRequest | None = None,
) -> tuple[DeliveryOutcome, list[dict[str, Any]]]:
    """Create under a ``dispatch`` span; the outcome and the retry events on that span."""
    tracer, exporter = spans
    with tracer.start_as_current_span("dispatch"):
        outcome = await asyncio.wait_for(
            executions.create(request or execution_request(), unsure=unsure), timeout=10.0
        )
    [span] = exporter.get_finished_spans()
    exporter.clear()
    return outcome, [dict(event.attributes or {}) for event in span.events]


async def fault(emulator: Emulator, **spec: Any) -> None:
    await emulator.post("/_emulator/faults", {"path_prefix": "/v2/Flows", **spec})


async def studio_log(emulator: Emulator) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await emulator.get("/_emulator/requests", path_prefix=EXECUTIONS)
    return found


async def calls(emulator: Emulator) -> list[str]:
    """Each Studio request in order: ``POST create``, ``GET list`` or ``GET context``."""
    named = []
    for request in await studio_log(emulator):
        if request["path"] == EXECUTIONS:
            named.append("POST create" if request["method"] == "POST" else "GET list")
        else:
            assert request["path"].endswith("/Context"), request["path"]
            named.append(f"{request['method']} context")
    return named


async def post_statuses(emulator: Emulator) -> list[int]:
    return [r["status"] for r in await studio_log(emulator) if r["method"] == "POST"]


async def existing_execution(
    emulator: Emulator,
    conversation_id: str = CONVERSATION,
    handoff_id: str | None = HANDOFF,
    to: str = CUSTOMER,
) -> str:
    async with emulator.rest(API_KEY, API_SECRET) as client:
        form = {"To": to, "From": OUR_NUMBER, "Parameters": parameters(conversation_id, handoff_id)}
        response = await client.post(EXECUTIONS, data=form)
    assert response.status_code == 201, response.text
    return str(response.json()["sid"])


async def end_execution(emulator: Emulator, execution_sid: str) -> None:
    async with emulator.rest(API_KEY, API_SECRET) as client:
        response = await client.post(f"{EXECUTIONS}/{execution_sid}", data={"Status": "ended"})
    assert response.status_code == 200, response.text


async def requests_so_far(emulator: Emulator) -> int:
    """How many Studio requests the set-up made: what the test checks comes after them."""
    return len(await studio_log(emulator))


# --- creating: what each answer means ------------------------------------------------------


async def test_a_created_execution_is_delivered_with_the_exact_request(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    outcome, retries = await create(studio(emulator_rest), spans)
    [execution] = await emulator.get("/_emulator/executions")
    assert outcome == DeliveryOutcome(execution["sid"], None, "created", 1)
    assert outcome.verified
    assert retries == []
    [request] = await studio_log(emulator)
    assert request["form"] == {
        "To": "+15005550006",
        "From": "+15005550001",
        "Parameters": '{"HandoffData":{"conversationId":"conv-ours","storeId":"","profileId":"",'
        '"attributes":{"handoffId":"conv-ours:0"}}}',
    }
    assert request["auth"] == {"kind": "api_key", "username": API_KEY}
    assert await calls(emulator) == ["POST create"], "a sure first POST looks nothing up"


async def test_409_for_our_own_active_execution_counts_as_delivered(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    ours = await existing_execution(emulator)
    outcome, retries = await create(studio(emulator_rest), spans)
    assert outcome == DeliveryOutcome(ours, None, "already active for us", 1)
    assert outcome.verified
    assert retries == []
    assert await post_statuses(emulator) == [201, 409]
    assert await calls(emulator) == ["POST create", "POST create", "GET list", "GET context"]


async def test_409_for_an_execution_we_cannot_see_is_delivered_unverified(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    """Replaces the old ``conflict`` failure: the customer is never told a handoff failed
    while Studio holds an execution for their contact."""
    await existing_execution(emulator, "another-conversation", handoff_id=None)
    outcome, retries = await create(studio(emulator_rest), spans)
    assert (outcome.execution_sid, outcome.failure, outcome.attempts, outcome.verified) == (
        None,
        None,
        1,
        False,
    )
    assert outcome.delivered
    assert outcome.detail.startswith("unverified: 409 ")
    assert "20409" in outcome.detail
    assert retries == []
    assert await post_statuses(emulator) == [201, 409], "a 409 is not posted again"


async def test_409_when_studio_cannot_be_asked_is_an_unknown_outcome(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    await existing_execution(emulator, "another-conversation", handoff_id=None)
    await fault(emulator, status=500, method="GET")
    with pytest.raises(OutcomeUnknown, match="Studio executions could not be listed"):
        await create(studio(emulator_rest), spans)
    assert await post_statuses(emulator) == [201, 409]


async def test_a_retry_after_above_the_cap_waits_only_the_cap(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    await fault(emulator, status=429, retry_after=3600)
    outcome, retries = await create(studio(emulator_rest, backoff=5.0, cap=0.05), spans)
    assert outcome.delivered and outcome.attempts == 2
    assert retries == [{"attempt": 1, "failure": "rate_limited", "delay_s": 0.05}]
    assert await post_statuses(emulator) == [429, 201]
    assert await calls(emulator) == ["POST create", "POST create"], "a 429 is never looked up"


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
    assert await calls(emulator) == ["POST create"] * 3


async def test_a_5xx_is_looked_up_then_retried_with_the_doubling_backoff(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    await fault(emulator, status=503, count=2)
    outcome, retries = await create(studio(emulator_rest, backoff=0.01, cap=30.0), spans)
    assert outcome.delivered and outcome.attempts == 3
    assert retries == [
        {"attempt": 1, "failure": "studio_unavailable", "delay_s": 0.01},
        {"attempt": 2, "failure": "studio_unavailable", "delay_s": 0.02},
    ]
    assert await calls(emulator) == [
        "POST create",
        "GET list",
        "POST create",
        "GET list",
        "POST create",
    ], "a 5xx may come after Studio acted: looked up before each repeat"


async def test_a_5xx_after_studio_acted_is_found_not_posted_again(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    await fault(emulator, status=500, create_before_delay=True)
    outcome, _ = await create(studio(emulator_rest), spans)
    [execution] = await emulator.get("/_emulator/executions")
    assert outcome == DeliveryOutcome(execution["sid"], None, "found after an unknown outcome", 2)
    assert await calls(emulator) == ["POST create", "GET list", "GET context"]


async def test_5xx_past_the_budget_is_studio_unavailable_after_a_last_lookup(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    await fault(emulator, status=500, count=2)
    outcome, _ = await create(studio(emulator_rest, max_attempts=2), spans)
    assert (outcome.failure, outcome.attempts) == (HandoffFailure.STUDIO_UNAVAILABLE, 2)
    assert outcome.detail.startswith("500 ")
    assert await calls(emulator) == ["POST create", "GET list", "POST create", "GET list"]


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
    assert await post_statuses(emulator) == [400]
    assert await calls(emulator) == ["POST create"]


async def test_wrong_credentials_are_rejected_not_retried(
    emulator: Emulator, spans: LocalSpans
) -> None:
    async with rest_client(emulator.url, password="wrong-secret") as client:
        outcome, _ = await create(studio(client, max_attempts=4), spans)
    assert (outcome.failure, outcome.attempts) == (HandoffFailure.STUDIO_REJECTED, 1)
    assert outcome.detail.startswith("401 ")


async def test_a_read_timeout_is_looked_up_before_it_is_retried(
    emulator: Emulator, spans: LocalSpans
) -> None:
    await fault(emulator, status=503, delay_seconds=0.5)
    async with rest_client(emulator.url, timeout_seconds=0.1) as client:
        outcome, retries = await create(studio(client, max_attempts=2), spans)
    assert outcome.delivered and outcome.attempts == 2
    assert retries == [{"attempt": 1, "failure": "studio_unavailable", "delay_s": 0.0}]
    assert await calls(emulator) == ["POST create", "GET list", "POST create"]


async def test_a_post_studio_answered_after_the_timeout_is_found_not_repeated(
    emulator: Emulator, spans: LocalSpans
) -> None:
    await fault(emulator, status=0, delay_seconds=0.5, create_before_delay=True)
    async with rest_client(emulator.url, timeout_seconds=0.1) as client:
        outcome, _ = await create(studio(client, max_attempts=3), spans)
    [execution] = await emulator.get("/_emulator/executions")
    assert outcome == DeliveryOutcome(execution["sid"], None, "found after an unknown outcome", 2)
    assert await calls(emulator) == ["POST create", "GET list", "GET context"]


async def test_an_unreachable_studio_is_retried_blindly_then_unavailable(
    spans: LocalSpans,
) -> None:
    """A connection that could not be opened never reached Studio: no lookup (which could not
    be made either, and would end in ``OutcomeUnknown``)."""
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


async def test_a_refusal_keeps_the_first_300_characters_of_studios_answer(
    spans: LocalSpans,
) -> None:
    body = '{"code": 21211, "message": "' + "m" * 400 + '"}'
    refusal = [Response(body, status_code=400)]
    async with serve(scripted_studio(refusal)) as url, rest_client(url) as client:
        outcome, _ = await create(studio(client, backoff=0.03, cap=30.0), spans)
    assert outcome.failure is HandoffFailure.STUDIO_REJECTED
    assert outcome.detail == f"400 {body[:300]}"


async def test_a_presumed_delivery_keeps_the_first_200_characters_of_the_conflict(
    spans: LocalSpans,
) -> None:
    body = '{"code": 20409, "message": "' + "c" * 400 + '"}'
    app = scripted_studio([Response(body, status_code=409)])

    @app.get(EXECUTIONS)
    async def none_of_ours() -> dict[str, object]:
        return {"executions": [], "meta": {"next_page_url": None}}

    async with serve(app) as url, rest_client(url) as client:
        outcome, _ = await create(studio(client, backoff=0.03, cap=30.0), spans)
    assert (outcome.delivered, outcome.verified) == (True, False)
    assert outcome.detail == f"unverified: 409 {body[:200]}"


async def test_a_create_answered_200_is_delivered(spans: LocalSpans) -> None:
    answers = [Response('{"sid": "FN' + "00" * 16 + '"}', status_code=200)]
    async with serve(scripted_studio(answers)) as url, rest_client(url) as client:
        outcome, retries = await create(studio(client, backoff=0.03, cap=30.0), spans)
    assert outcome == DeliveryOutcome("FN" + "00" * 16, None, "created", 1)
    assert retries == []


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


# --- creating when an earlier POST may have landed (``unsure``) ----------------------------


async def test_an_unsure_create_finds_our_execution_and_posts_nothing(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    ours = await existing_execution(emulator)
    setup = await requests_so_far(emulator)
    outcome, _ = await create(studio(emulator_rest), spans, unsure=True)
    assert outcome == DeliveryOutcome(ours, None, "found after an unknown outcome", 1)
    assert (await calls(emulator))[setup:] == ["GET list", "GET context"]


async def test_an_unsure_create_posts_when_studio_has_nothing_of_ours(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    outcome, _ = await create(studio(emulator_rest), spans, unsure=True)
    [execution] = await emulator.get("/_emulator/executions")
    assert outcome == DeliveryOutcome(execution["sid"], None, "created", 1)
    assert await calls(emulator) == ["GET list", "POST create"]


async def test_an_unsure_create_posts_nothing_while_studio_cannot_be_asked(
    emulator: Emulator, emulator_rest: TwilioRestClient, spans: LocalSpans
) -> None:
    await fault(emulator, status=503, method="GET")
    with pytest.raises(OutcomeUnknown):
        await create(studio(emulator_rest), spans, unsure=True)
    assert await calls(emulator) == ["GET list"]
    assert await emulator.get("/_emulator/executions") == []


# --- finding our execution ------------------------------------------------------------------


async def test_find_ours_finds_our_execution_among_others(
    emulator: Emulator, emulator_rest: TwilioRestClient
) -> None:
    await existing_execution(emulator, to=OTHER_CUSTOMER)
    await existing_execution(emulator, "another-conversation", "another:0", to="+15005550008")
    ours = await existing_execution(emulator)
    assert await studio(emulator_rest).find_ours(execution_request()) == ours


async def test_find_ours_looks_past_a_newer_execution_of_another_contact(
    emulator: Emulator, emulator_rest: TwilioRestClient
) -> None:
    """Studio lists the newest first: another contact's later execution comes before ours."""
    ours = await existing_execution(emulator)
    await existing_execution(emulator, to=OTHER_CUSTOMER)
    assert await studio(emulator_rest).find_ours(execution_request()) == ours


async def test_find_ours_finds_our_execution_once_it_ended(
    emulator: Emulator, emulator_rest: TwilioRestClient
) -> None:
    """Studio acted on a POST and the execution ended before the retry: no 409 would stop a
    second execution, so the lookup must see ended ones too."""
    ours = await existing_execution(emulator)
    await end_execution(emulator, ours)
    assert await studio(emulator_rest).find_ours(execution_request()) == ours


async def test_find_ours_skips_another_contacts_execution(
    emulator: Emulator, emulator_rest: TwilioRestClient
) -> None:
    await existing_execution(emulator, to=OTHER_CUSTOMER)
    assert await studio(emulator_rest).find_ours(execution_request()) is None
    assert await calls(emulator) == ["POST create", "GET list"], "no context read for it"


async def test_find_ours_skips_another_conversations_execution(
    emulator: Emulator, emulator_rest: TwilioRestClient
) -> None:
    await existing_execution(emulator, "another-conversation", handoff_id=None)
    assert await studio(emulator_rest).find_ours(execution_request()) is None


async def test_find_ours_skips_an_earlier_handoff_of_the_same_conversation(
    emulator: Emulator, emulator_rest: TwilioRestClient
) -> None:
    await existing_execution(emulator, CONVERSATION, "conv-ours:0")
    assert await studio(emulator_rest).find_ours(execution_request("conv-ours:1")) is None


async def test_find_ours_recognises_an_unmarked_execution_by_its_conversation(
    emulator: Emulator, emulator_rest: TwilioRestClient
) -> None:
    ours = await existing_execution(emulator, CONVERSATION, handoff_id=None)
    assert await studio(emulator_rest).find_ours(execution_request()) == ours


async def test_find_ours_follows_the_pages(
    emulator: Emulator, emulator_rest: TwilioRestClient
) -> None:
    """Fifty executions created since ours push it to the second page (newest first)."""
    ours = await existing_execution(emulator)
    for index in range(50):
        await existing_execution(emulator, f"other-{index}", None, to=f"+1500556{index:04d}")
    setup = await requests_so_far(emulator)
    assert await studio(emulator_rest).find_ours(execution_request()) == ours
    lists = [r for r in (await studio_log(emulator))[setup:] if r["path"] == EXECUTIONS]
    assert [(r["query"]["PageSize"], r["query"].get("Page")) for r in lists] == [
        ("50", None),
        ("50", "1"),
    ]
    assert lists[0]["query"]["DateCreatedFrom"] == lists[1]["query"]["DateCreatedFrom"]


@pytest.mark.parametrize(
    ("created_at", "found"),
    [
        (datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC), True),
        (datetime(2030, 1, 1, 11, 58, 0, tzinfo=UTC), True),
        (datetime(2030, 1, 1, 11, 57, 59, tzinfo=UTC), False),
    ],
)
async def test_find_ours_reads_from_two_minutes_before_sending_began(
    emulator: Emulator, emulator_rest: TwilioRestClient, created_at: datetime, found: bool
) -> None:
    """Twilio's clock may be behind ours: the lookup starts two minutes before sending did,
    and no earlier (an execution older than that is not this handoff's)."""
    ours = await existing_execution(emulator)
    emulator.app.state.emulator.executions[ours].date_created = created_at
    setup = await requests_so_far(emulator)
    since = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    result = await studio(emulator_rest).find_ours(execution_request(sending_since=since))
    assert result == (ours if found else None)
    listing = (await studio_log(emulator))[setup]
    assert listing["query"] == {"DateCreatedFrom": "2030-01-01T11:58:00Z", "PageSize": "50"}


async def test_find_ours_is_an_unknown_outcome_when_studio_cannot_list(
    emulator: Emulator, emulator_rest: TwilioRestClient
) -> None:
    await existing_execution(emulator)
    await fault(emulator, status=500, method="GET")
    with pytest.raises(OutcomeUnknown, match="Studio executions could not be listed"):
        await studio(emulator_rest).find_ours(execution_request())


async def test_find_ours_is_an_unknown_outcome_when_a_context_cannot_be_read(
    emulator: Emulator, emulator_rest: TwilioRestClient
) -> None:
    ours = await existing_execution(emulator)
    await fault(emulator, path_prefix=f"{EXECUTIONS}/{ours}/Context", status=503, method="GET")
    with pytest.raises(OutcomeUnknown):
        await studio(emulator_rest).find_ours(execution_request())
