"""Faults on demand: rate limits, outages, and an answer lost after Studio acted on the POST."""

from __future__ import annotations

import time

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException

from tests.emulator.harness import Emulator, call
from tests.support.twilio_fakes import CUSTOMER, FLOW_SID, OUR_NUMBER

EXECUTIONS = f"/v2/Flows/{FLOW_SID}/Executions"
HANDOFF_FORM = {"To": CUSTOMER, "From": OUR_NUMBER, "Parameters": "{}"}


async def test_429_carries_retry_after_and_is_not_processed(emulator: Emulator) -> None:
    queued = await emulator.post(
        "/_emulator/faults",
        {"path_prefix": "/v2/Flows", "status": 429, "count": 1, "retry_after": 1.5},
    )
    assert queued["count"] == 1 and queued["method"] == "POST"
    async with emulator.rest() as rest:
        limited = await rest.post(EXECUTIONS, data=HANDOFF_FORM)
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "1.5"
        assert limited.json() == {
            "code": 20429,
            "message": "Too Many Requests",
            "more_info": "https://www.twilio.com/docs/errors/20429",
            "status": 429,
        }
        assert await emulator.get("/_emulator/executions") == []
        assert (await rest.post(EXECUTIONS, data=HANDOFF_FORM)).status_code == 201
    assert await emulator.get("/_emulator/faults") == []


async def test_twilio_client_sees_rate_limit_and_outage(emulator: Emulator) -> None:
    await emulator.post("/_emulator/faults", {"path_prefix": "/v2/Flows", "status": 429})
    await emulator.post("/_emulator/faults", {"path_prefix": "/v2/Flows", "status": 503})
    flow = emulator.twilio().studio.v2.flows(FLOW_SID)
    with pytest.raises(TwilioRestException) as limited:
        await call(flow.executions.create, to=CUSTOMER, from_=OUR_NUMBER)
    assert (limited.value.status, limited.value.code) == (429, 20429)
    with pytest.raises(TwilioRestException) as unavailable:
        await call(flow.executions.create, to=CUSTOMER, from_=OUR_NUMBER)
    assert (unavailable.value.status, unavailable.value.code) == (503, 20503)
    created = await call(flow.executions.create, to=CUSTOMER, from_=OUR_NUMBER)
    assert created.status == "active"
    statuses = [r["status"] for r in await emulator.get("/_emulator/requests")]
    assert statuses == [429, 503, 201]


async def test_count_prefix_and_method_select_requests(emulator: Emulator) -> None:
    await emulator.post(
        "/_emulator/faults", {"path_prefix": "/2010-04-01", "status": 500, "count": 2}
    )
    async with emulator.rest() as rest:
        assert (await rest.post(EXECUTIONS, data=HANDOFF_FORM)).status_code == 201
        assert (await rest.get(EXECUTIONS)).status_code == 200
        messages = f"/2010-04-01/Accounts/{emulator.settings.twilio_account_sid}/Messages.json"
        sms = {"To": CUSTOMER, "From": OUR_NUMBER, "Body": "hi"}
        first, second, third = [(await rest.post(messages, data=sms)) for _ in range(3)]
    assert [first.status_code, second.status_code, third.status_code] == [500, 500, 201]
    assert first.json()["code"] == 20500


async def test_bad_credentials_do_not_spend_a_fault(emulator: Emulator) -> None:
    await emulator.post("/_emulator/faults", {"path_prefix": "/v2/Flows", "status": 503})
    async with emulator.rest(password="wrong") as intruder:
        assert (await intruder.post(EXECUTIONS, data=HANDOFF_FORM)).status_code == 401
    async with emulator.rest() as rest:
        assert (await rest.post(EXECUTIONS, data=HANDOFF_FORM)).status_code == 503


async def test_clear_faults(emulator: Emulator) -> None:
    await emulator.post("/_emulator/faults", {"path_prefix": "/v2", "status": 503, "count": 5})
    assert (await emulator.admin.delete("/_emulator/faults")).status_code == 204
    async with emulator.rest() as rest:
        assert (await rest.post(EXECUTIONS, data=HANDOFF_FORM)).status_code == 201


async def test_invalid_fault_is_refused(emulator: Emulator) -> None:
    response = await emulator.admin.post(
        "/_emulator/faults", json={"path_prefix": "/v2", "status": 302}
    )
    assert response.status_code == 400 and response.json()["code"] == 20001


async def test_delay_only(emulator: Emulator) -> None:
    await emulator.post(
        "/_emulator/faults", {"path_prefix": "/v2/Flows", "status": 0, "delay_seconds": 0.3}
    )
    started = time.monotonic()
    async with emulator.rest() as rest:
        assert (await rest.post(EXECUTIONS, data=HANDOFF_FORM)).status_code == 201
    assert time.monotonic() - started >= 0.3


async def test_answer_lost_after_the_execution_was_created(emulator: Emulator) -> None:
    """A client that gives up after its POST still started the flow: a retry meets 409."""
    await emulator.post(
        "/_emulator/faults",
        {
            "path_prefix": "/v2/Flows",
            "status": 0,
            "delay_seconds": 0.6,
            "create_before_delay": True,
        },
    )
    async with emulator.rest() as rest:
        with pytest.raises(httpx.ReadTimeout):
            await rest.post(EXECUTIONS, data=HANDOFF_FORM, timeout=0.2)
        (execution,) = await emulator.get("/_emulator/executions")
        assert execution["status"] == "active" and execution["to"] == CUSTOMER
        retry = await rest.post(EXECUTIONS, data=HANDOFF_FORM)
    assert retry.status_code == 409 and retry.json()["code"] == 20409
    assert execution["sid"] in retry.json()["message"]


async def test_created_then_failed(emulator: Emulator) -> None:
    """Twilio acted on the POST but answered 500: the ambiguous failure a client must survive."""
    await emulator.post(
        "/_emulator/faults",
        {"path_prefix": "/v2/Flows", "status": 500, "create_before_delay": True},
    )
    async with emulator.rest() as rest:
        failed = await rest.post(EXECUTIONS, data=HANDOFF_FORM)
    assert failed.status_code == 500
    assert len(await emulator.get("/_emulator/executions")) == 1
