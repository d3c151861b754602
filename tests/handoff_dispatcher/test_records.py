"""Delivery records in the real handoffs bucket: one per conversation episode."""

from __future__ import annotations

from nats.js import JetStreamContext

from libs.contracts.messages import HandoffFailure
from services.handoff_dispatcher.records import DeliveryRecord, DeliveryRecords, DeliveryState


async def records(js: JetStreamContext) -> DeliveryRecords:
    return DeliveryRecords(await js.key_value("baton-handoffs"))


async def test_a_record_is_kept_per_conversation_and_epoch(js: JetStreamContext) -> None:
    store = await records(js)
    assert await store.get("CH1", 0) is None
    failed = DeliveryRecord(
        state=DeliveryState.FAILED,
        failure=HandoffFailure.RATE_LIMITED,
        detail="429 Too Many Requests",
        attempts=4,
    )
    await store.put("CH1", 0, failed)
    await store.put("CH1", 1, DeliveryRecord(state=DeliveryState.POSTING))
    assert await store.get("CH1", 0) == failed
    second = await store.get("CH1", 1)
    assert second is not None and second.state is DeliveryState.POSTING
    assert await store.get("CH2", 0) is None


async def test_a_later_put_replaces_the_record(js: JetStreamContext) -> None:
    store = await records(js)
    await store.put("CH1", 0, DeliveryRecord(state=DeliveryState.POSTING))
    delivered = DeliveryRecord(state=DeliveryState.DELIVERED, execution_sid="FN1", attempts=2)
    await store.put("CH1", 0, delivered)
    assert await store.get("CH1", 0) == delivered


async def test_keys_are_safe_for_any_conversation_id(js: JetStreamContext) -> None:
    assert DeliveryRecords.key("CH123", 2) == "CH123.2"
    unsafe = DeliveryRecords.key("sms:AC1:+15005550001:+15005550006", 0)
    assert unsafe.startswith("h-") and unsafe.endswith(".0")
    assert ":" not in unsafe and "+" not in unsafe
    store = await records(js)
    record = DeliveryRecord(state=DeliveryState.DELIVERED, execution_sid="FN2")
    await store.put("sms:AC1:+15005550001:+15005550006", 0, record)
    assert await store.get("sms:AC1:+15005550001:+15005550006", 0) == record


def test_a_record_written_before_verification_was_recorded_reads_as_verified() -> None:
    """Only a presumed delivery (a 409 for an execution that is not ours) is unverified."""
    stored = '{"state": "delivered", "execution_sid": "FN' + "00" * 16 + '", "attempts": 1}'
    record = DeliveryRecord.model_validate_json(stored)
    assert (record.state, record.verified, record.failure) == (DeliveryState.DELIVERED, True, None)
