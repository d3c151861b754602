"""Invariant 8: phone numbers, channel addresses, cards and e-mails are masked wherever text
leaves a process, in any country's format; identifiers, timestamps and prices are not."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Link, SpanContext, Status, StatusCode
from phonenumbers import parse, region_code_for_number
from uvicorn.logging import AccessFormatter

from libs.platform.metrics import Counter, exposition
from libs.platform.redaction import configure_redaction, mask_personal_data, redact
from libs.platform.settings import BatonSettings
from libs.platform.tracing import redacted

SID = "CA22222222222222222222222222222222"

# (phone regions, text as written, text as it may leave the process)
TABLE = [
    # International formats: always masked, whatever the configured regions.
    ("US", "+1 415 555 0123", "+1 *** *** **23"),
    ("US", "+1 (415) 555-0123", "+1 (***) ***-**23"),
    ("US", "+14155550123", "+1********23"),
    ("US", "+44 20 7946 0958", "+44 ** **** **58"),
    ("US", "+447911123456", "+44********56"),
    ("US", "+49 30 901820", "+49 ** ****20"),
    ("US", "+49 170 1234567", "+49 *** *****67"),
    ("US", "+33 1 42 68 53 00", "+33 * ** ** ** 00"),
    ("US", "+81 3-1234-5678", "+81 *-****-**78"),
    ("US", "+61 2 9374 4000", "+61 * **** **00"),
    ("US", "+91 98765 43210", "+91 ***** ***10"),
    ("US", "+55 11 91234-5678", "+55 ** *****-**78"),
    ("US", "+52 55 1234 5678", "+52 ** **** **78"),
    ("US", "+34 912 34 56 78", "+34 *** ** ** 78"),
    ("US", "+39 06 6982 1234", "+39 ** **** **34"),
    ("US", "+27 21 123 4567", "+27 ** *** **67"),
    ("US", "+86 10 1234 5678", "+86 ** **** **78"),
    ("US", "+7 495 123-45-67", "+7 *** ***-**-67"),
    ("US", "+31 20 123 4567", "+31 ** *** **67"),
    ("US", "+46 8 123 456 78", "+46 * *** *** 78"),
    ("US", "+41 44 668 18 00", "+41 ** *** ** 00"),
    ("US", "+65 6123 4567", "+65 **** **67"),
    ("US", "+353 1 234 5678", "+353 * *** **78"),
    ("US", "+234 802 123 4567", "+234 *** *** **67"),
    # National formats of the configured regions.
    ("US", "(415) 555-0123", "(***) ***-**23"),
    ("US", "415-555-0123", "***-***-**23"),
    ("US", "415.555.0123", "***.***.**23"),
    ("US", "1-800-555-0199", "*-***-***-**99"),
    ("US", "14155550123", "*********23"),
    ("GB", "020 7946 0958", "*** **** **58"),
    ("GB", "07911 123456", "***** ****56"),
    ("DE", "030 901820", "*** ****20"),
    ("DE", "0170 1234567", "**** *****67"),
    ("FR", "06 12 34 56 78", "** ** ** ** 78"),
    ("IN", "098765 43210", "****** ***10"),
    ("BR", "(11) 91234-5678", "(**) *****-**78"),
    ("JP", "03-1234-5678", "**-****-**78"),
    ("AU", "(02) 9374 4000", "(**) **** **00"),
    ("DE,US", "0170 1234567 / (415) 555-0123", "**** *****67 / (***) ***-**23"),
    # Numbers inside text, URLs and JSON.
    (
        "US",
        "Hi, call me at (415) 555-0123 after 5pm",
        "Hi, call me at (***) ***-**23 after 5pm",
    ),
    ("US", "my number is +44 20 7946 0958, thanks!", "my number is +44 ** **** **58, thanks!"),
    (
        "US",
        f"from +15005550006 to 15005550001 on {SID} at 10:00",
        f"from +1********06 to *********01 on {SID} at 10:00",
    ),
    (
        "US",
        "GET /_emulator/outbox?to=%2B15005550741 HTTP/1.1",
        "GET /_emulator/outbox?to=+1********41 HTTP/1.1",
    ),
    ("US", "To=whatsapp%3A%2B14155550123&Body=hi", "To=whatsapp:+1********23&Body=hi"),
    ("US", '{"From": "+14155550123", "Body": "hi"}', '{"From": "+1********23", "Body": "hi"}'),
    ("US", "numbers: +14155550123,+14155550124", "numbers: +1********23,+1********24"),
    ("GB", "ring 07911 123456 or +49 30 901820", "ring ***** ****56 or +49 ** ****20"),
    # Channel addresses: the prefix and the last two characters stay.
    ("US", "whatsapp:+14155550123", "whatsapp:+1********23"),
    ("US", "WhatsApp:+5511912345678", "WhatsApp:+55*********78"),
    ("US", "rcs:+447911123456", "rcs:+44********56"),
    ("US", "messenger:1234567890123456", "messenger:**************56"),
    ("US", "client:alice", "client:***ce"),
    ("US", "author client:jane_doe joined", "author client:****_*oe joined"),
    ("US", "sip:+14155550123@pbx.example.com", "sip:+*********23@pbx.example.com"),
    # Payment cards (Luhn-checked): the last four digits stay.
    ("US", "card 4111 1111 1111 1111 exp 12/27", "card **** **** **** 1111 exp 12/27"),
    ("US", "4111111111111111", "************1111"),
    ("US", "5555-5555-5555-4444", "****-****-****-4444"),
    ("US", "amex 3782 822463 10005", "amex **** ****** *0005"),
    ("US", "6011 0009 9013 9424", "**** **** **** 9424"),
    ("US", "my card is 4012888888881881.", "my card is ************1881."),
    # E-mail addresses.
    ("US", "mail jane.doe@example.com!", "mail j***@e***.com!"),
    ("US", "reach me: j.smith+support@mail.example.co.uk", "reach me: j***@m***.uk"),
]

# Look-alikes that must stay exactly as written.
KEPT = [
    SID,
    "SM0123456789abcdef0123456789abcdef",
    "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
    "550e8400-e29b-41d4-a716-446655440000",
    "at 1718000000",
    "at 1718000000123",
    "at 1718000000.123456",
    "at 1718000000123456789",
    "2024-06-01T10:00:00+02:00",
    "2024-06-01 10:00:00.123Z",
    "order 12345678",
    "order #A-1002345",
    "order 2024-0001-7789",
    "order 4155550",
    "total $1,234.56",
    "1234567.89 EUR",
    "sms-70d544c24f376f69c8a93df97d10a5c2",
    f"turn:{SID}:7",
    "reply:sms-70d544c24f376f69c8a93df97d10a5c2:12",
    "handoff:CH0123456789abcdef0123456789abcdef:3",
    "nats://127.0.0.1:4222",
    "192.168.100.200",
    "card 4111111111111112 fails Luhn",
    "version 1.2.3 build 20240601",
    "the office (room 101) opens at 9:00",
]


@pytest.fixture(autouse=True)
def masking_on() -> Iterator[None]:
    configure_redaction(sensitive=False)
    yield
    configure_redaction(sensitive=False)


def test_the_table_is_wide_enough() -> None:
    international = {region_code_for_number(parse(t)) for _, t, _ in TABLE if t[0] == "+"}
    national = {region for regions, _, _ in TABLE for region in regions.split(",")}
    assert len(TABLE) + len(KEPT) >= 60
    assert len(international) >= 20 and len(national) >= 8, (international, national)


@pytest.mark.parametrize(("regions", "text", "masked"), TABLE)
def test_personal_data_is_masked(regions: str, text: str, masked: str) -> None:
    assert mask_personal_data(text, regions.split(",")) == masked


@pytest.mark.parametrize("text", KEPT)
def test_identifiers_timestamps_and_prices_stay(text: str) -> None:
    assert mask_personal_data(text) == text


def test_national_formats_are_those_of_the_configured_regions() -> None:
    assert mask_personal_data("020 7946 0958", ["US"]) == "020 7946 0958"
    configure_redaction(sensitive=False, phone_regions=["GB"])
    assert redact("020 7946 0958") == "*** **** **58"


def test_sensitive_logging_keeps_everything() -> None:
    configure_redaction(sensitive=True)
    for _, text, _ in TABLE:
        assert redact(text) == text


# --- log records: every logger, every part of a record ----------------------------------------


def write_one_record(
    logger: logging.Logger, formatter: logging.Formatter, emit: Callable[[], None]
) -> str:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        emit()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return out.getvalue()


def test_a_logger_that_does_not_propagate_is_masked_too() -> None:
    logger = logging.getLogger("faststream.access.redaction-test")
    logger.propagate = False
    written = write_one_record(
        logger,
        logging.Formatter("%(message)s"),
        lambda: logger.info("customer %s paid with %s", "+14155550123", "4111 1111 1111 1111"),
    )
    assert written == "customer +1********23 paid with **** **** **** 1111\n"


def test_uvicorn_access_lines_keep_their_arguments() -> None:
    """uvicorn's access formatter unpacks ``record.args``: they are masked one by one."""
    logger = logging.getLogger("uvicorn.access")
    args = ("127.0.0.1:5555", "GET", "/_emulator/outbox?to=%2B15005550741", "1.1", 200)
    written = write_one_record(
        logger,
        AccessFormatter("%(client_addr)s %(request_line)s %(status_code)s", use_colors=False),
        lambda: logger.info('%s - "%s %s HTTP/%s" %d', *args),
    )
    assert written == "127.0.0.1:5555 GET /_emulator/outbox?to=+1********41 HTTP/1.1 200 OK\n"


def test_tracebacks_and_stacks_are_masked() -> None:
    logger = logging.getLogger("baton.redaction-test")

    def fail() -> None:
        try:
            raise ValueError("no route to whatsapp:+14155550123")
        except ValueError:
            logger.exception("send failed for jane.doe@example.com", stack_info=True)

    written = write_one_record(logger, logging.Formatter("%(message)s"), fail)
    assert "ValueError: no route to whatsapp:+1********23" in written
    assert "send failed for j***@e***.com" in written
    assert "14155550123" not in written and "jane.doe" not in written


def test_sensitive_logging_writes_records_as_they_are() -> None:
    configure_redaction(sensitive=True)
    logger = logging.getLogger("baton.redaction-test")
    written = write_one_record(
        logger, logging.Formatter("%(message)s"), lambda: logger.info("from %s", "+14155550123")
    )
    assert written == "from +14155550123\n"


# --- spans and metrics ---------------------------------------------------------------------------


def test_every_part_of_a_span_is_masked() -> None:
    context = SpanContext(trace_id=1, span_id=2, is_remote=False)
    span = ReadableSpan(
        name="call +14155550123",
        context=context,
        attributes={
            "url.query": "to=%2B15005550006",
            "baton.addresses": ("whatsapp:+14155550123", "client:alice"),
            "baton.call_sid": SID,
            "http.status_code": 200,
        },
        events=[Event("note (415) 555-0123", {"email": "jane.doe@example.com"})],
        links=[Link(context, {"from": "+44 20 7946 0958"})],
        status=Status(StatusCode.ERROR, "card 4111 1111 1111 1111 declined"),
    )
    masked = redacted(span)
    written = json.loads(masked.to_json())
    everything = json.dumps(written)
    for raw in ("4155550123", "15005550006", "alice", "555-0123", "jane.doe", "7946 0958"):
        assert raw not in everything, raw
    assert "4111 1111 1111 1111" not in everything
    assert masked.attributes is not None
    assert masked.attributes["baton.call_sid"] == SID
    assert masked.attributes["http.status_code"] == 200
    assert masked.name == "call +1********23"
    configure_redaction(sensitive=True)
    assert redacted(span) is span


LABELLED = Counter(
    "baton_redaction_test_events",
    "A counter whose label a careless caller fills with an address.",
    otel_name="baton.redaction_test.events",
    labels=("peer",),
)


def test_metric_labels_are_masked() -> None:
    LABELLED.inc(peer="whatsapp:+14155550123")
    text = exposition("application/openmetrics-text")[0].decode()
    assert 'baton_redaction_test_events_total{peer="whatsapp:+1********23"} 1.0' in text
    assert "14155550123" not in text


def test_phone_regions_must_be_known_countries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_PHONE_REGIONS", "gb, de")
    assert BatonSettings().phone_regions == ("GB", "DE")
    monkeypatch.setenv("BATON_PHONE_REGIONS", "GB,XX")
    with pytest.raises(ValueError, match="XX"):
        BatonSettings()


def test_a_process_masks_its_logs_before_any_service_is_configured() -> None:
    """Masking starts when Baton's platform is imported, not when a broker is created."""
    script = (
        "import logging, libs.platform.tracing\n"
        "logging.basicConfig(format='%(message)s')\n"
        "logging.warning('settings rejected for %s', 'whatsapp:+14155550123')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stderr == "settings rejected for whatsapp:+1********23\n"
