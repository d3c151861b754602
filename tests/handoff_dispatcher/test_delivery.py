"""A handoff delivered or failed, and the conversation settled either way.

The dispatcher's delivery runs against a real NATS server (state, records, results and the
customer notice are what other services read) and the emulator's Studio over HTTP; the call's
gateway is a subscriber on the call's subject. Every ``dispatch`` is awaited, so what it
published or changed is complete when it returns: a "nothing was published" check reads the
stream after the one call that could have published.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from opentelemetry.trace import Tracer

from libs.contracts.conversation import ConversationStatus, claim_handoff
from libs.contracts.messages import (
    AgentReply,
    Channel,
    HandoffFailure,
    HandoffOutcome,
    HandoffRequested,
    HandoffResult,
    ReplyKind,
    Route,
    VoiceEnd,
    utc_now,
)
from libs.platform.consuming import RedeliveryPolicy
from libs.platform.conversation_store import ConversationStore
from libs.platform.metrics import REGISTRY
from libs.platform.span_attributes import EXECUTION_SID
from libs.platform.twilio_rest import TwilioRestClient
from services.handoff_dispatcher.delivery import HandoffDelivery
from services.handoff_dispatcher.identity import CustomerIdentity, IdentityResolver
from services.handoff_dispatcher.outcome import OutcomeUnknown
from services.handoff_dispatcher.records import DeliveryRecord, DeliveryRecords, DeliveryState
from services.handoff_dispatcher.studio import RetryBudget, StudioExecutions
from services.handoff_dispatcher.voice_end import VoiceEndSender
from tests.emulator.harness import Emulator
from tests.support.recorders import LocalSpans, local_spans
from tests.support.streams import messages_on
from tests.support.twilio_fakes import API_KEY, API_SECRET, FLOW_SID
from tests.support.waits import eventually

CUSTOMER = "+15005550006"
OURS = "+15005550001"
CONVERSATION = "conv-sms-1"
CALL_SID = "CA" + "12" * 16
FAILED_MESSAGE = "Sorry, nobody from our team is free right now. I am still here to help."
SMS_ROUTE = Route(channel=Channel.SMS, customer_address=CUSTOMER, agent_address=OURS)
VOICE_ROUTE = Route(
    channel=Channel.VOICE, customer_address=CUSTOMER, agent_address=OURS, call_sid=CALL_SID
)
EXECUTIONS = f"/v2/Flows/{FLOW_SID}/Executions"


@pytest.fixture
def spans() -> Iterator[LocalSpans]:
    with local_spans() as recorded:
        yield recorded


@pytest.fixture
def tracer(spans: LocalSpans) -> Tracer:
    return spans[0]


@dataclass
class Dispatcher:
    delivery: HandoffDelivery
    store: ConversationStore
    records: DeliveryRecords
    js: JetStreamContext
    emulator: Emulator

    async def pending(self, request: HandoffRequested) -> None:
        """The worker's claim: the conversation waits for this handoff."""
        claimed = await self.store.apply(
            request.conversation_id, claim_handoff(request.epoch, request.reason, None)
        )
        assert claimed.applied

    async def results(self, conversation_id: str) -> list[HandoffResult]:
        subject = f"baton.handoff.result.{conversation_id}"
        return await messages_on(self.js, "BATON_HANDOFF", subject, HandoffResult)

    async def replies(self, conversation_id: str) -> list[AgentReply]:
        subject = f"baton.replies.{conversation_id}"
        return await messages_on(self.js, "BATON_REPLIES", subject, AgentReply)

    async def studio_posts(self) -> list[int]:
        found = await self.emulator.get(
            "/_emulator/requests", path_prefix=EXECUTIONS, method="POST"
        )
        return [request["status"] for request in found if request["path"] == EXECUTIONS]

    async def studio_cannot_list(self) -> None:
        """The next lookup of Studio's executions is answered 503."""
        await self.emulator.post(
            "/_emulator/faults", {"path_prefix": EXECUTIONS, "status": 503, "method": "GET"}
        )

    async def execution_of(
        self, request: HandoffRequested, conversation_id: str | None = None
    ) -> str:
        """An execution Studio holds for the customer, marked as this handoff's (or, with
        ``conversation_id``, another conversation's, unmarked)."""
        attributes = {} if conversation_id else {"handoffId": request.handoff_id}
        handoff = {
            "conversationId": conversation_id or request.conversation_id,
            "attributes": attributes,
        }
        async with self.emulator.rest(API_KEY, API_SECRET) as client:
            created = await client.post(
                EXECUTIONS,
                data={
                    "To": request.route.customer_address,
                    "From": OURS,
                    "Parameters": json.dumps({"HandoffData": handoff}),
                },
            )
        assert created.status_code == 201, created.text
        return str(created.json()["sid"])


@pytest.fixture
async def dispatcher(
    broker: NatsBroker,
    js: JetStreamContext,
    nats_client: Client,
    emulator: Emulator,
    emulator_rest: TwilioRestClient,
    tracer: Tracer,
) -> Dispatcher:
    store = ConversationStore(await js.key_value("baton-conversations"))
    records = DeliveryRecords(await js.key_value("baton-handoffs"))
    delivery = HandoffDelivery(
        broker=broker,
        store=store,
        records=records,
        studio=StudioExecutions(emulator_rest, FLOW_SID, RetryBudget(2, 0.0, 0.0)),
        voice=VoiceEndSender(nats_client, 1.0, tracer),
        static_attributes={"department": "support"},
        identity=IdentityResolver(emulator_rest, "", "mem_store_1"),
        phone_number=OURS,
        failed_message=FAILED_MESSAGE,
        tracer=tracer,
    )
    return Dispatcher(delivery, store, records, js, emulator)


def sms_request(**extra: object) -> HandoffRequested:
    values: dict[str, object] = {
        "conversation_id": CONVERSATION,
        "epoch": 0,
        "route": SMS_ROUTE,
        "reason": "customer asked for a human",
    }
    values.update(extra)
    return HandoffRequested.model_validate(values)


def voice_request() -> HandoffRequested:
    return sms_request(conversation_id=CALL_SID, route=VOICE_ROUTE, turn_sequence=9)


def outcomes(channel: str, outcome: str, failure: str) -> float:
    labels = {"channel": channel, "outcome": outcome, "failure": failure}
    return REGISTRY.get_sample_value("baton_handoff_outcomes_total", labels) or 0.0


async def test_a_delivered_digital_handoff_marks_the_conversation_handed_off(
    dispatcher: Dispatcher,
) -> None:
    request = sms_request()
    await dispatcher.pending(request)
    result = await dispatcher.delivery.dispatch(request)

    [execution] = await dispatcher.emulator.get("/_emulator/executions")
    assert (result.outcome, result.failure, result.execution_sid, result.attempts) == (
        HandoffOutcome.DELIVERED,
        None,
        execution["sid"],
        1,
    )
    assert (execution["to"], execution["from"]) == (CUSTOMER, OURS)
    assert execution["parameters"] == {
        "HandoffData": {
            "conversationId": CONVERSATION,
            "storeId": "mem_store_1",
            "profileId": "",
            "attributes": {
                "department": "support",
                "reason": "customer asked for a human",
                "handoffChannel": "sms",
                "handoffId": "conv-sms-1:0",
                "channelType": "sms",
                "conversationId": CONVERSATION,
                "storeId": "mem_store_1",
                "profileId": "",
            },
        }
    }
    state = await dispatcher.store.get(CONVERSATION)
    assert (state.status, state.epoch) == (ConversationStatus.HANDED_OFF, 0)
    record = await dispatcher.records.get(CONVERSATION, 0)
    assert record is not None and record.state is DeliveryState.DELIVERED
    assert record.execution_sid == execution["sid"]
    assert await dispatcher.results(CONVERSATION) == [result]
    assert await dispatcher.replies(CONVERSATION) == [], "no notice when a human has it"


async def test_a_failed_digital_handoff_goes_back_to_the_bot_and_tells_the_customer(
    dispatcher: Dispatcher,
) -> None:
    await dispatcher.emulator.post("/_emulator/faults", {"path_prefix": "/v2/Flows", "status": 400})
    request = sms_request()
    await dispatcher.pending(request)
    result = await dispatcher.delivery.dispatch(request)

    assert (result.outcome, result.failure, result.execution_sid) == (
        HandoffOutcome.FAILED,
        HandoffFailure.STUDIO_REJECTED,
        None,
    )
    state = await dispatcher.store.get(CONVERSATION)
    assert (state.status, state.epoch) == (ConversationStatus.ACTIVE, 1)
    [notice] = await dispatcher.replies(CONVERSATION)
    assert notice.model_dump(exclude={"created_at"}) == {
        "conversation_id": CONVERSATION,
        "reply_id": "conv-sms-1:0:failed",
        "route": SMS_ROUTE.model_dump(),
        "text": FAILED_MESSAGE,
        "epoch": 1,
        "kind": ReplyKind.FAILURE_NOTICE,
    }
    assert await dispatcher.results(CONVERSATION) == [result]


async def test_a_failed_voice_handoff_goes_back_to_the_bot_without_a_text(
    dispatcher: Dispatcher,
) -> None:
    request = voice_request()
    await dispatcher.pending(request)
    result = await dispatcher.delivery.dispatch(request)  # no gateway answers

    assert (result.outcome, result.failure) == (HandoffOutcome.FAILED, HandoffFailure.CALLER_GONE)
    state = await dispatcher.store.get(CALL_SID)
    assert (state.status, state.epoch) == (ConversationStatus.ACTIVE, 1)
    assert await dispatcher.replies(CALL_SID) == []
    assert await dispatcher.studio_posts() == []


async def test_a_delivered_voice_handoff_is_handed_off_without_studio(
    dispatcher: Dispatcher, nats_client: Client
) -> None:
    commands: list[VoiceEnd] = []

    async def gateway(message: Msg) -> None:
        commands.append(VoiceEnd.model_validate_json(message.data))
        await message.respond(b'{"status":"sent"}')

    await nats_client.subscribe(f"baton.voice.call.{CALL_SID}", cb=gateway)
    await nats_client.flush()
    request = voice_request()
    await dispatcher.pending(request)
    result = await dispatcher.delivery.dispatch(request)

    assert (result.outcome, result.execution_sid, result.attempts) == (
        HandoffOutcome.DELIVERED,
        None,
        1,
    )
    [command] = commands
    assert (command.turn, command.handoff_id) == (9, f"{CALL_SID}:0")
    state = await dispatcher.store.get(CALL_SID)
    assert (state.status, state.epoch) == (ConversationStatus.HANDED_OFF, 0)
    assert await dispatcher.studio_posts() == []


async def test_a_redelivered_handoff_posts_nothing_and_counts_once(
    dispatcher: Dispatcher,
) -> None:
    request = sms_request()
    await dispatcher.pending(request)
    before = outcomes("sms", "delivered", "none")
    first = await dispatcher.delivery.dispatch(request)
    again = await dispatcher.delivery.dispatch(request)

    assert again.model_dump(exclude={"completed_at"}) == first.model_dump(exclude={"completed_at"})
    assert await dispatcher.studio_posts() == [201]
    assert outcomes("sms", "delivered", "none") - before == 1
    assert len(await dispatcher.results(CONVERSATION)) == 1, "the result is stored once"
    state = await dispatcher.store.get(CONVERSATION)
    assert (state.status, state.epoch) == (ConversationStatus.HANDED_OFF, 0)


async def test_a_redelivered_failure_tells_the_customer_once(dispatcher: Dispatcher) -> None:
    await dispatcher.emulator.post("/_emulator/faults", {"path_prefix": "/v2/Flows", "status": 400})
    request = sms_request()
    await dispatcher.pending(request)
    await dispatcher.delivery.dispatch(request)
    await dispatcher.delivery.dispatch(request)
    assert len(await dispatcher.replies(CONVERSATION)) == 1
    state = await dispatcher.store.get(CONVERSATION)
    assert (state.status, state.epoch) == (ConversationStatus.ACTIVE, 1), "settled once"
    assert await dispatcher.studio_posts() == [400]


async def test_a_post_of_unknown_fate_is_found_instead_of_posted_again(
    dispatcher: Dispatcher,
) -> None:
    """The dispatcher crashed after its POST: the record says posting, Studio has the execution."""
    request = sms_request()
    await dispatcher.pending(request)
    created = await dispatcher.execution_of(request)
    await dispatcher.records.put(
        CONVERSATION, 0, DeliveryRecord(state=DeliveryState.POSTING, attempts=1)
    )

    result = await dispatcher.delivery.dispatch(request)

    assert (result.outcome, result.execution_sid, result.attempts, result.verified) == (
        HandoffOutcome.DELIVERED,
        created,
        2,
        True,
    )
    assert await dispatcher.studio_posts() == [201], "only the POST before the crash"
    state = await dispatcher.store.get(CONVERSATION)
    assert state.status is ConversationStatus.HANDED_OFF


async def test_a_post_of_unknown_fate_that_never_arrived_is_posted(
    dispatcher: Dispatcher,
) -> None:
    request = sms_request()
    await dispatcher.pending(request)
    await dispatcher.records.put(
        CONVERSATION, 0, DeliveryRecord(state=DeliveryState.POSTING, attempts=1)
    )
    result = await dispatcher.delivery.dispatch(request)
    assert result.outcome is HandoffOutcome.DELIVERED
    assert await dispatcher.studio_posts() == [201]
    [lookup, post] = await dispatcher.emulator.get("/_emulator/requests", path_prefix=EXECUTIONS)
    assert (lookup["method"], post["method"]) == ("GET", "POST"), "looked up before posting"


async def test_a_crash_after_studio_took_the_post_is_recovered_without_a_second_post(
    dispatcher: Dispatcher,
) -> None:
    """Studio creates the execution but its answer is held; the dispatcher dies waiting."""
    await dispatcher.emulator.post(
        "/_emulator/faults",
        {
            "path_prefix": "/v2/Flows",
            "status": 0,
            "delay_seconds": 2.0,
            "create_before_delay": True,
        },
    )
    request = sms_request()
    await dispatcher.pending(request)
    crashed = asyncio.create_task(dispatcher.delivery.dispatch(request))
    [execution] = await eventually(
        lambda: dispatcher.emulator.get("/_emulator/executions"), lambda found: len(found) == 1
    )
    record = await dispatcher.records.get(CONVERSATION, 0)
    assert record is not None and record.state is DeliveryState.POSTING
    crashed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await crashed

    result = await dispatcher.delivery.dispatch(request)

    assert (result.outcome, result.execution_sid) == (HandoffOutcome.DELIVERED, execution["sid"])
    assert len(await dispatcher.studio_posts()) == 1
    state = await dispatcher.store.get(CONVERSATION)
    assert state.status is ConversationStatus.HANDED_OFF


def unverified(channel: str) -> float:
    return REGISTRY.get_sample_value("baton_handoff_unverified_total", {"channel": channel}) or 0.0


async def test_a_409_for_an_execution_not_ours_is_delivered_unverified(
    dispatcher: Dispatcher,
) -> None:
    """Studio holds an execution for the contact that is not this handoff's: a human is
    presumed to have the customer. Counted and kept as unverified, never told as a failure."""
    request = sms_request()
    await dispatcher.pending(request)
    await dispatcher.execution_of(request, conversation_id="another-conversation")
    before = unverified("sms")

    result = await dispatcher.delivery.dispatch(request)

    assert (result.outcome, result.failure, result.execution_sid, result.verified) == (
        HandoffOutcome.DELIVERED,
        None,
        None,
        False,
    )
    assert result.detail.startswith("unverified: 409 ")
    assert unverified("sms") - before == 1
    state = await dispatcher.store.get(CONVERSATION)
    assert (state.status, state.epoch) == (ConversationStatus.HANDED_OFF, 0)
    assert await dispatcher.replies(CONVERSATION) == [], "the customer is not told it failed"
    assert await dispatcher.results(CONVERSATION) == [result]
    record = await dispatcher.records.get(CONVERSATION, 0)
    assert record is not None
    assert (record.state, record.verified) == (DeliveryState.DELIVERED, False)
    assert await dispatcher.studio_posts() == [201, 409]


async def test_an_outcome_that_cannot_be_found_out_is_left_for_a_redelivery(
    dispatcher: Dispatcher,
) -> None:
    """A redelivery finds ``posting`` but Studio cannot be asked: nothing is posted, settled
    or announced; the message is retried (``OutcomeUnknown`` is a transient failure)."""
    request = sms_request()
    await dispatcher.pending(request)
    began = utc_now() - timedelta(seconds=30)
    posting = DeliveryRecord(state=DeliveryState.POSTING, attempts=1, sending_since=began)
    await dispatcher.records.put(CONVERSATION, 0, posting)
    await dispatcher.studio_cannot_list()

    with pytest.raises(OutcomeUnknown) as unknown:
        await dispatcher.delivery.dispatch(request)

    policy = RedeliveryPolicy.heartbeating("handoff-dispatcher", 1.0)
    assert policy.retry_delay(1, 0.0, unknown.value) == 0.5, "NAKed, not dead-lettered"
    record = await dispatcher.records.get(CONVERSATION, 0)
    assert record is not None
    assert (record.state, record.attempts, record.sending_since) == (
        DeliveryState.POSTING,
        1,
        began,
    )
    state = await dispatcher.store.get(CONVERSATION)
    assert (state.status, state.epoch) == (ConversationStatus.HANDOFF_PENDING, 0)
    assert await dispatcher.results(CONVERSATION) == []
    assert await dispatcher.replies(CONVERSATION) == []
    assert await dispatcher.studio_posts() == []


async def test_on_the_final_try_an_outcome_that_cannot_be_found_out_is_a_failure(
    dispatcher: Dispatcher,
) -> None:
    request = sms_request()
    await dispatcher.pending(request)
    await dispatcher.records.put(
        CONVERSATION, 0, DeliveryRecord(state=DeliveryState.POSTING, attempts=3)
    )
    await dispatcher.studio_cannot_list()

    result = await dispatcher.delivery.dispatch(request, final_try=True)

    assert (result.outcome, result.failure, result.attempts) == (
        HandoffOutcome.FAILED,
        HandoffFailure.STUDIO_UNAVAILABLE,
        3,
    )
    assert result.detail.startswith("Studio executions could not be listed: ")
    state = await dispatcher.store.get(CONVERSATION)
    assert (state.status, state.epoch) == (ConversationStatus.ACTIVE, 1)
    [notice] = await dispatcher.replies(CONVERSATION)
    assert notice.text == FAILED_MESSAGE
    assert await dispatcher.studio_posts() == []


async def test_a_redelivery_looks_back_to_when_the_first_try_began(
    dispatcher: Dispatcher,
) -> None:
    """Sending began ten minutes ago and the execution Studio created then has ended (no 409
    would stop a second one): the redelivery still finds it, from the record's moment."""
    request = sms_request()
    await dispatcher.pending(request)
    ours = await dispatcher.execution_of(request)
    async with dispatcher.emulator.rest(API_KEY, API_SECRET) as client:
        ended = await client.post(f"{EXECUTIONS}/{ours}", data={"Status": "ended"})
    assert ended.status_code == 200
    dispatcher.emulator.app.state.emulator.executions[ours].date_created -= timedelta(minutes=9)
    began = utc_now() - timedelta(minutes=10)
    await dispatcher.records.put(
        CONVERSATION, 0, DeliveryRecord(state=DeliveryState.POSTING, sending_since=began)
    )

    result = await dispatcher.delivery.dispatch(request)

    assert (result.outcome, result.execution_sid, result.verified) == (
        HandoffOutcome.DELIVERED,
        ours,
        True,
    )
    assert await dispatcher.studio_posts() == [201], "a second execution was created"
    record = await dispatcher.records.get(CONVERSATION, 0)
    assert record is not None and record.sending_since == began


async def test_a_voice_redelivery_whose_call_is_gone_is_delivered_unverified(
    dispatcher: Dispatcher,
) -> None:
    """The dispatcher died after asking for ``end``; no gateway holds the call any more: the
    caller went to a human (Twilio closed the socket after ``end``) or hung up."""
    request = voice_request()
    await dispatcher.pending(request)
    await dispatcher.records.put(CALL_SID, 0, DeliveryRecord(state=DeliveryState.POSTING))
    before = unverified("voice")

    result = await dispatcher.delivery.dispatch(request)

    assert (result.outcome, result.failure, result.verified) == (
        HandoffOutcome.DELIVERED,
        None,
        False,
    )
    assert unverified("voice") - before == 1
    state = await dispatcher.store.get(CALL_SID)
    assert (state.status, state.epoch) == (ConversationStatus.HANDED_OFF, 0)


def outcomes_counted(outcome: str) -> float:
    labels = {"channel": "sms", "outcome": outcome, "failure": "none"}
    return REGISTRY.get_sample_value("baton_handoff_outcomes_total", labels) or 0.0


async def test_a_redelivered_handoff_is_settled_again_but_counted_once(
    dispatcher: Dispatcher,
) -> None:
    request = sms_request()
    await dispatcher.pending(request)
    before = outcomes_counted("delivered")
    first = await dispatcher.delivery.dispatch(request)
    assert outcomes_counted("delivered") - before == 1, "counted when it is delivered"
    again = await dispatcher.delivery.dispatch(request)
    assert again.outcome is first.outcome is HandoffOutcome.DELIVERED
    assert outcomes_counted("delivered") - before == 1, "and not again when redelivered"
    assert len(await dispatcher.emulator.get("/_emulator/executions")) == 1


def dispatch_spans(spans: LocalSpans) -> list[dict[str, object]]:
    return [
        dict(span.attributes or {})
        for span in spans[1].get_finished_spans()
        if span.name == "handoff.dispatch"
    ]


async def test_the_dispatch_span_says_whether_it_was_a_redelivery_and_names_the_execution(
    dispatcher: Dispatcher, spans: LocalSpans
) -> None:
    request = sms_request()
    await dispatcher.pending(request)
    first = await dispatcher.delivery.dispatch(request)
    await dispatcher.delivery.dispatch(request)
    assert first.execution_sid is not None
    assert [
        (a["baton.handoff.redelivered"], a.get(EXECUTION_SID)) for a in dispatch_spans(spans)
    ] == [
        (False, first.execution_sid),
        (True, first.execution_sid),
    ]


class OrchestratedIdentity(IdentityResolver):
    """The resolver of a deployment on Conversation Orchestrator, its conversation found."""

    def __init__(self, rest: TwilioRestClient, conversation_id: str) -> None:
        super().__init__(rest, "", "mem_store_1")
        self._conversation_id = conversation_id

    async def resolve(self, request: HandoffRequested) -> CustomerIdentity:
        return CustomerIdentity(self._conversation_id, "mem_store_1", orchestrated=True)


@pytest.mark.parametrize("studio_answers", [201, 400], ids=["delivered", "failed"])
async def test_the_orchestrator_conversation_goes_to_the_humans_only_once_delivered(
    dispatcher: Dispatcher, emulator_rest: TwilioRestClient, studio_answers: int
) -> None:
    conversation = await dispatcher.emulator.open_conversation(CUSTOMER, OURS)
    delivery = replace(
        dispatcher.delivery, identity=OrchestratedIdentity(emulator_rest, conversation)
    )
    if studio_answers != 201:
        await dispatcher.emulator.post(
            "/_emulator/faults", {"path_prefix": "/v2/Flows", "status": studio_answers}
        )
    request = sms_request()
    await dispatcher.pending(request)
    result = await delivery.dispatch(request)
    async with dispatcher.emulator.rest() as rest:
        status = (await rest.get(f"/v2/Conversations/{conversation}")).json()["status"]
    delivered = result.outcome is HandoffOutcome.DELIVERED
    assert (delivered, status) == (
        (True, "INACTIVE") if studio_answers == 201 else (False, "ACTIVE")
    )
