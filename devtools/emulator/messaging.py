"""Programmable Messaging (API 2010-04-01): sending SMS, and a customer texting our number.

An inbound SMS is a signed form webhook to the number's SMS URL; a ``<Message>`` in the TwiML
answer is sent back to the customer, as Twilio does. Everything delivered to a customer lands
in the outbox. A created message is answered ``queued`` (no ``date_sent``) and is ``sent`` at
once afterwards. Lists are newest first and filter by ``To``, ``From`` and ``DateSent``
(``DateSent<``/``DateSent>`` for on-or-before/on-or-after; a day or a date-time), which
never matches a message still queued. While a pair is with a human agent its texts are also
copied into the conversation SendToFlex opened (``sms_threads``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from emulator.auth import require_twilio_auth
from emulator.dependencies import Settings, State, Webhooks
from emulator.errors import TwilioError, not_found
from emulator.settings import EmulatorSettings
from emulator.sms_threads import copy_text
from emulator.store import EmulatorState, OutboxEntry, SmsMessage, WebhookDelivery
from emulator.wire import form_fields, legacy_page, new_sid, rfc2822, utc_now

API_VERSION = "2010-04-01"
BODY_LIMIT = 1600

router = APIRouter(
    prefix=f"/{API_VERSION}/Accounts/{{account_sid}}",
    dependencies=[Depends(require_twilio_auth)],
)
admin_router = APIRouter(prefix="/_emulator", tags=["emulator admin"])


def segments(body: str) -> int:
    return 1 if len(body) <= 160 else math.ceil(len(body) / 153)


def message_json(settings: EmulatorSettings, message: SmsMessage) -> dict[str, Any]:
    uri = f"/{API_VERSION}/Accounts/{settings.twilio_account_sid}/Messages/{message.sid}"
    return {
        "account_sid": settings.twilio_account_sid,
        "api_version": API_VERSION,
        "body": message.body,
        "date_created": rfc2822(message.date_created),
        "date_sent": rfc2822(message.date_sent),
        "date_updated": rfc2822(message.date_created),
        "direction": message.direction,
        "error_code": None,
        "error_message": None,
        "from": message.from_,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": str(segments(message.body)),
        "price": None,
        "price_unit": "USD",
        "sid": message.sid,
        "status": message.status,
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": message.to,
        "uri": f"{uri}.json",
    }


def send_sms(state: EmulatorState, to: str, from_: str, body: str, direction: str) -> SmsMessage:
    """Queue an SMS to a customer: it is stored and appears in the outbox at once; it counts
    as sent (:func:`mark_sent`) once its creation has been answered."""
    message = SmsMessage(
        sid=new_sid("SM"),
        to=to,
        from_=from_,
        body=body,
        direction=direction,
        status="queued",
        date_created=utc_now(),
    )
    state.sms_messages[message.sid] = message
    state.outbox.append(OutboxEntry("sms", to, from_, body, None, message.date_created))
    copy_text(state, customer=to, ours=from_, author=from_, body=body)
    return message


def mark_sent(message: SmsMessage) -> None:
    message.status = "sent"
    message.date_sent = utc_now()


def _account(settings: EmulatorSettings, request: Request, account_sid: str) -> None:
    if account_sid != settings.twilio_account_sid:
        raise not_found(request.url.path)


SENDER_FORMAT = re.compile(r"^(?:\+[1-9]\d{1,14}|\d{5,6}|(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11})$")
"""An E.164 number, a short code, or an alphanumeric sender ID."""


def refuse_foreign_sender(settings: EmulatorSettings, sender: str) -> None:
    """Messages sends only from the account's own senders: 21212 for what is no sender at all,
    21606 for a sender that is not this account's."""
    ours = {settings.twilio_phone_number, settings.twilio_whatsapp_number}
    if sender in ours:
        return
    address = sender.split(":", 1)[1] if sender.startswith(("whatsapp:", "rcs:")) else sender
    if not SENDER_FORMAT.match(address):
        raise TwilioError(
            400,
            f"The 'From' number {sender} is not a valid phone number, shortcode, "
            "or alphanumeric sender ID.",
            21212,
        )
    raise TwilioError(
        400,
        f"The From phone number {sender} is not a valid, SMS-capable inbound phone number "
        "or short code for your account.",
        21606,
    )


@router.post("/Messages.json", status_code=201)
async def create_message(
    account_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    _account(settings, request, account_sid)
    form = await form_fields(request)
    to = form.get("To", "")
    sender = form.get("From") or (
        settings.twilio_phone_number if form.get("MessagingServiceSid") else ""
    )
    body = form.get("Body", "")
    if not to:
        raise TwilioError(400, "A 'To' phone number is required.", 21604)
    if not sender:
        raise TwilioError(400, "A 'From' phone number is required.", 21603)
    refuse_foreign_sender(settings, sender)
    if not body and not form.get("MediaUrl") and not form.get("ContentSid"):
        raise TwilioError(400, "Message body is required.", 21602)
    if len(body) > BODY_LIMIT:
        raise TwilioError(
            400, "The concatenated message body exceeds the 1600 character limit.", 21617
        )
    message = send_sms(state, to, sender, body, "outbound-api")
    rendered = message_json(settings, message)
    rendered["messaging_service_sid"] = form.get("MessagingServiceSid")
    mark_sent(message)
    return rendered


@router.get("/Messages.json")
async def list_messages(
    account_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    _account(settings, request, account_sid)
    to, sender = request.query_params.get("To"), request.query_params.get("From")
    sent = _date_sent_filter(request)
    chosen = [
        message
        for message in reversed(state.sms_messages.values())
        if (not to or message.to == to)
        and (not sender or message.from_ == sender)
        and sent(message.date_sent)
    ]
    return legacy_page(request, "messages", [message_json(settings, m) for m in chosen])


def _sent_bounds(name: str, raw: str) -> tuple[datetime | None, datetime | None]:
    """``[from, until)`` of one ``DateSent`` filter; the value is a GMT day or a date-time."""
    try:
        if len(raw) == 10:
            start = datetime.fromisoformat(raw).replace(tzinfo=UTC)
            end = start + timedelta(days=1)
        else:
            start = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            end = start + timedelta(seconds=1)
    except ValueError as error:
        raise TwilioError(400, f"{name} must be a date (YYYY-MM-DD) or a date-time") from error
    if name == "DateSent<":
        return None, end
    if name == "DateSent>":
        return start, None
    return start, end


def _date_sent_filter(request: Request) -> Callable[[datetime | None], bool]:
    """``DateSent`` (that day), ``DateSent<`` (on or before), ``DateSent>`` (on or after)."""
    bounds = [
        _sent_bounds(name, value)
        for name, value in request.query_params.multi_items()
        if name in ("DateSent", "DateSent<", "DateSent>")
    ]

    def matches(sent: datetime | None) -> bool:
        if not bounds:
            return True
        return sent is not None and all(
            (start is None or sent >= start) and (end is None or sent < end)
            for start, end in bounds
        )

    return matches


@router.get("/Messages/{message_sid}.json")
async def fetch_message(
    account_sid: str, message_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    _account(settings, request, account_sid)
    message = state.sms_messages.get(message_sid)
    if message is None:
        raise not_found(request.url.path)
    return message_json(settings, message)


def take_twiml_replies(state: EmulatorState, delivery: WebhookDelivery) -> int:
    """Send each ``<Message>`` of a TwiML answer to the texter; returns how many were sent."""
    if delivery.status_code != 200 or not delivery.response_body.strip():
        return 0
    try:
        root = ElementTree.fromstring(delivery.response_body)
    except ElementTree.ParseError:
        return 0
    inbound = dict(parse_qsl(delivery.content.decode()))
    sent = 0
    for element in root.iter("Message"):
        body_element = element.find("Body")
        text = body_element.text if body_element is not None else element.text
        to = element.get("to") or inbound.get("From", "")
        sender = element.get("from") or inbound.get("To", "")
        mark_sent(send_sms(state, to, sender, (text or "").strip(), "outbound-reply"))
        sent += 1
    return sent


class InboundSms(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", min_length=1)
    to: str | None = None
    body: str = ""
    webhook_url: str | None = None
    """Overrides ``EMULATOR_SMS_WEBHOOK_URL`` for this message."""


def inbound_params(settings: EmulatorSettings, message: SmsMessage) -> dict[str, str]:
    """The parameters of Twilio's incoming-message webhook, geo fields included."""
    return {
        "ToCountry": "US",
        "ToState": "",
        "SmsMessageSid": message.sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": message.sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": message.body,
        "FromCountry": "US",
        "To": message.to,
        "ToZip": "",
        "NumSegments": str(segments(message.body)),
        "MessageSid": message.sid,
        "AccountSid": settings.twilio_account_sid,
        "From": message.from_,
        "ApiVersion": API_VERSION,
    }


@admin_router.post("/sms")
async def customer_texts(
    inbound: InboundSms, state: State, settings: Settings, webhooks: Webhooks
) -> dict[str, Any]:
    """A customer sends an SMS to our number: Twilio posts the signed webhook to the app."""
    url = inbound.webhook_url or settings.emulator_sms_webhook_url
    if not url:
        raise TwilioError(400, "EMULATOR_SMS_WEBHOOK_URL is not set and no webhook_url was given")
    message = SmsMessage(
        sid=new_sid("SM"),
        to=inbound.to or settings.twilio_phone_number,
        from_=inbound.from_,
        body=inbound.body,
        direction="inbound",
        status="received",
        date_created=utc_now(),
    )
    message.date_sent = message.date_created
    state.sms_messages[message.sid] = message
    copy_text(
        state, customer=message.from_, ours=message.to, author=message.from_, body=message.body
    )
    delivery = await webhooks.send_form("sms", message.sid, url, inbound_params(settings, message))
    take_twiml_replies(state, delivery)
    return {
        "message_sid": message.sid,
        "status_code": delivery.status_code,
        "idempotency_token": delivery.idempotency_token,
        "error": delivery.error,
    }
