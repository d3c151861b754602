"""Hostile input on every HTTP endpoint of both gateways, as an attacker on the internet sends it.

Property-based fuzzing (hypothesis) of the form webhooks (signed and unsigned), the JSON
endpoints and any path, plus each named attack as its own test. Whatever arrives: no 5xx, no
traceback in the logs, nothing published to NATS or sent to Twilio for an invalid or
unsigned request, and the gateways stay healthy and still answer a normal request.
"""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.platform.logs import configure_logging
from libs.platform.twilio_rest import segment
from libs.platform.twilio_signature import DEFAULT_MAX_BODY_BYTES
from tests.support.hostile import (
    JSON_ENDPOINTS,
    MESSAGING_FORMS,
    VOICE_FORMS,
    Gateways,
    Tally,
    running_gateways,
)
from tests.support.twilio_fakes import CUSTOMER, OUR_NUMBER, sid

FORM_ENDPOINTS = MESSAGING_FORMS + VOICE_FORMS
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "not-a-phone",
            "+1;rm -rf /",
            "+15005550006\r\nX-Injected: 1",
            "+15005550006\x00",
            "../../2010-04-01/Accounts",
            "CH" + "0" * 32 + "/../../v1/Services",
            "whatsapp:+1 555",
            "",
            "None",
            "null",
            "{}",
            "[]",
            "\u2028",
            "%2e%2e%2f",
            "x" * 5000,
        ]
    ),
)
FIELD_NAMES = st.sampled_from(
    [
        "From",
        "To",
        "Body",
        "MessageSid",
        "CallSid",
        "ConversationSid",
        "EventType",
        "Author",
        "TaskAttributes",
        "CallStatus",
        "HandoffData",
        "NumMedia",
        "Media",
        "TimestampMs",
    ]
)
FORMS = st.dictionaries(st.one_of(FIELD_NAMES, st.text(max_size=10)), HOSTILE_TEXT, max_size=8)
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), HOSTILE_TEXT),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(
                st.sampled_from(
                    ["eventType", "data", "conversationId", "id", "author", "address",
                     "channel", "content", "text", "recipients", "status", "participantId"]
                ),  # fmt: skip
                st.text(max_size=8),
            ),
            children,
            max_size=5,
        ),
    ),
    max_leaves=12,
)
ORCHESTRATOR_EVENTS = st.fixed_dictionaries(
    {
        "eventType": st.sampled_from(["COMMUNICATION_CREATED", "CONVERSATION_UPDATED", "X"]),
        "data": JSON_VALUES,
    }
)


@pytest.fixture(scope="module")
def gateways(nats_url: str) -> Iterator[Gateways]:
    with running_gateways(nats_url) as running:
        yield running


@pytest.fixture
def clean(gateways: Gateways) -> Iterator[Gateways]:
    """Each test starts with no record kept; the gateways are healthy and tracebacks absent
    at its end."""
    gateways.records.records.clear()
    yield gateways
    assert gateways.records.tracebacks() == []
    assert gateways.healthy()


def report(capsys: pytest.CaptureFixture[str], name: str, tally: Tally, published: int) -> None:
    with capsys.disabled():
        print(
            f"\n{name}: {tally.tried} cases tried, {tally.refused} refused, "
            f"{published} published; statuses {dict(sorted(tally.statuses.items()))}"
        )


def a_normal_sms(gateways: Gateways) -> None:
    """A genuine signed SMS is still accepted and stored as one turn."""
    before, _ = gateways.settled_counts()
    fields = {"MessageSid": sid("SM"), "From": CUSTOMER, "To": OUR_NUMBER, "Body": "hello"}
    response = gateways.post_form("/messaging/sms", fields, signed=True)
    assert response.status_code == 200, response.text
    assert gateways.settled_counts()[0] == before + 1


# --- property-based fuzzing ------------------------------------------------------------------


def test_unsigned_forms_are_refused_and_change_nothing(
    clean: Gateways, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally()
    start = clean.settled_counts()

    @FUZZ
    @given(path=st.sampled_from(FORM_ENDPOINTS), fields=FORMS, forged=st.booleans())
    def unsigned(path: str, fields: dict[str, str], forged: bool) -> None:
        headers = {"X-Twilio-Signature": "forged"} if forged else {}
        response = clean.http.post(clean.url(path), data=fields, headers=headers)
        tally.count(response.status_code)
        assert response.status_code in (403, 413, 415), (path, fields, response.text)

    unsigned()
    published = clean.settled_counts()[0] - start[0]
    report(capsys, "unsigned forms", tally, published)
    assert clean.settled_counts() == start, "nothing published, nothing sent to Twilio"
    a_normal_sms(clean)


def test_signed_forms_of_any_shape_never_fail_the_server(
    clean: Gateways, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally()
    published_by_refused = 0
    start = clean.settled_counts()[0]

    @FUZZ
    @given(path=st.sampled_from(FORM_ENDPOINTS), fields=FORMS)
    def signed(path: str, fields: dict[str, str]) -> None:
        nonlocal published_by_refused
        before, twilio_before = clean.settled_counts()
        response = clean.post_form(path, fields, signed=True)
        tally.count(response.status_code)
        assert response.status_code < 500, (path, fields, response.text)
        if response.status_code >= 400:
            after, twilio_after = clean.settled_counts()
            published_by_refused += after - before
            assert (after, twilio_after) == (before, twilio_before), (path, fields)

    signed()
    report(capsys, "signed forms", tally, clean.settled_counts()[0] - start)
    assert published_by_refused == 0
    a_normal_sms(clean)


def test_json_endpoints_take_any_body_without_failing(
    clean: Gateways, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally()
    start = clean.settled_counts()[0]

    @FUZZ
    @given(
        path=st.sampled_from(JSON_ENDPOINTS),
        body=st.one_of(
            JSON_VALUES.map(lambda value: json.dumps(value).encode()),
            ORCHESTRATOR_EVENTS.map(lambda value: json.dumps(value).encode()),
            st.binary(max_size=64),
        ),
        signed=st.booleans(),
    )
    def any_body(path: str, body: bytes, signed: bool) -> None:
        before, twilio_before = clean.settled_counts()
        response = clean.post_json(path, body, signed=signed)
        tally.count(response.status_code)
        assert response.status_code < 500, (path, body, response.text)
        if not signed:
            assert response.status_code == 403
        if response.status_code >= 400:
            assert clean.settled_counts() == (before, twilio_before), (path, body)

    any_body()
    report(capsys, "JSON bodies", tally, clean.settled_counts()[0] - start)
    a_normal_sms(clean)


def test_any_request_to_any_path_never_fails_the_server(
    clean: Gateways, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally()
    start = clean.settled_counts()

    @FUZZ
    @given(
        path=st.one_of(
            st.sampled_from(
                [*FORM_ENDPOINTS, *JSON_ENDPOINTS, "/internal/drain", "/metrics", "/docs",
                 "/openapi.json", "/voice/relay", "/", "/healthz"]
            ),  # fmt: skip
            st.text(alphabet="abcdefghijklmnopqrstuvwxyz/._-%", max_size=30).map(
                lambda text: "/" + text
            ),
        ),
        method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
        content_type=st.sampled_from(
            [
                "multipart/form-data; boundary=x",
                "multipart/form-data",
                "application/json",
                "text/plain",
                "application/x-www-form-urlencoded; charset=latin-1",
                "",
            ]
        ),
        body=st.binary(max_size=256),
    )
    def anything(path: str, method: str, content_type: str, body: bytes) -> None:
        headers = {"X-Twilio-Signature": "c2lnbmVk", "Content-Type": content_type}
        for base in (clean.messaging, clean.relay):
            response = clean.http.request(method, f"{base}{path}", content=body, headers=headers)
            tally.count(response.status_code)
            assert response.status_code < 500, (method, path, content_type, response.text)

    anything()
    report(capsys, "any request", tally, clean.settled_counts()[0] - start[0])
    assert clean.settled_counts() == start
    a_normal_sms(clean)


# --- the named cases -------------------------------------------------------------------------


@pytest.mark.parametrize("path", FORM_ENDPOINTS)
def test_multipart_with_a_signature_header_is_415(clean: Gateways, path: str) -> None:
    response = clean.http.post(
        clean.url(path),
        files={"Body": ("a.txt", b"hello")},
        data={"From": CUSTOMER},
        headers={"X-Twilio-Signature": "anything"},
    )
    assert response.status_code == 415
    assert clean.records.tracebacks() == []


def raw_request(url: str, head: str, body: bytes = b"") -> bytes:
    """Send a request by hand (a length no client library would send) and read the answer."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer


@pytest.mark.parametrize("path", ["/messaging/sms", "/voice/incoming", "/messaging/orchestrator"])
def test_a_declared_length_above_the_cap_is_413_before_the_body_is_read(
    clean: Gateways, path: str
) -> None:
    url = clean.url(path)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nX-Twilio-Signature: s\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: 200000000\r\n\r\n"
    )
    answer = raw_request(url, head)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:80]


@pytest.mark.parametrize("path", ["/messaging/sms", "/voice/status"])
def test_a_streamed_body_without_length_is_cut_at_the_cap(clean: Gateways, path: str) -> None:
    chunk = b"Body=" + b"x" * 16_000

    def chunks() -> Iterator[bytes]:
        for _ in range(DEFAULT_MAX_BODY_BYTES // len(chunk) + 50):
            yield chunk

    response = clean.http.post(
        clean.url(path),
        content=chunks(),
        headers={
            "X-Twilio-Signature": "s",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 413


def test_a_signature_the_validator_cannot_read_is_403(clean: Gateways) -> None:
    for signature in (b"\xff\xfe", b"=" * 300, b"a\tb", "é".encode()):
        response = clean.http.post(
            clean.url("/messaging/sms"),
            data={"From": CUSTOMER, "To": OUR_NUMBER},
            headers={b"X-Twilio-Signature": signature},
        )
        assert response.status_code == 403


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/messaging/orchestrator", {"eventType": "COMMUNICATION_CREATED", "data": []}),
        ("/messaging/orchestrator", {"eventType": "COMMUNICATION_CREATED", "data": {"author": 1}}),
        ("/messaging/orchestrator", {"eventType": "CONVERSATION_UPDATED", "data": "x"}),
        ("/messaging/orchestrator", [1, 2]),
        ("/messaging/orchestrator", None),
        ("/messaging/handback", {"conversationId": None}),
        ("/messaging/handback", {"conversationId": ["CH1"]}),
        ("/messaging/handback", {"conversationId": "../../v1/Services"}),
        ("/messaging/handback", []),
    ],
)
def test_json_of_the_wrong_shape_is_a_4xx(clean: Gateways, path: str, body: object) -> None:
    before = clean.settled_counts()
    response = clean.post_json(path, json.dumps(body).encode(), signed=True)
    assert 400 <= response.status_code < 500, response.text
    assert clean.settled_counts() == before


def test_a_null_conversation_id_in_a_task_event_is_ignored(clean: Gateways) -> None:
    fields = {"EventType": "task.created", "TaskAttributes": json.dumps({"conversationId": None})}
    response = clean.post_form("/messaging/taskrouter-events", fields, signed=True)
    assert response.status_code == 200 and response.json() == {"status": "ignored"}
    nested = {"EventType": "task.created", "TaskAttributes": '{"conversationId": {"a": 1}}'}
    response = clean.post_form("/messaging/taskrouter-events", nested, signed=True)
    assert response.status_code == 200 and response.json() == {"status": "ignored"}


@pytest.mark.parametrize(
    "address",
    ["not-a-phone", "+1;rm -rf /", "+15005550006\r\nX: 1", "+15005550006\x00", "whatsapp:+1 5"],
)
@pytest.mark.parametrize("field", ["From", "To"])
def test_an_address_that_is_no_phone_or_channel_is_refused(
    clean: Gateways, address: str, field: str
) -> None:
    before = clean.settled_counts()
    fields = {"MessageSid": sid("SM"), "From": CUSTOMER, "To": OUR_NUMBER, "Body": "hi"}
    fields[field] = address
    response = clean.post_form("/messaging/sms", fields, signed=True)
    assert response.status_code == 400
    assert clean.settled_counts() == before, "no turn, no reply POSTed to that address"


@pytest.mark.parametrize(
    "address", ["whatsapp:+15005550006", "rcs:+15005550006", "messenger:1234567890"]
)
def test_channel_addresses_are_accepted(clean: Gateways, address: str) -> None:
    fields = {"MessageSid": sid("SM"), "From": address, "To": OUR_NUMBER, "Body": "hi"}
    assert clean.post_form("/messaging/sms", fields, signed=True).status_code == 200


@pytest.mark.parametrize(
    "conversation_sid",
    ["CH" + "0" * 32 + "/../../../2010-04-01/Accounts", "../v1/Services", "CH123"],
)
def test_a_signed_conversation_sid_off_its_pattern_never_reaches_a_rest_path(
    clean: Gateways, conversation_sid: str
) -> None:
    before = clean.settled_counts()
    fields = {
        "EventType": "onMessageAdded",
        "ConversationSid": conversation_sid,
        "MessageSid": sid("IM"),
        "Author": "customer-1",
        "Body": "hi",
    }
    response = clean.post_form("/messaging/conversations", fields, signed=True)
    assert response.status_code == 400
    assert clean.settled_counts() == before


def test_rest_path_segments_are_quoted() -> None:
    assert segment("CH0/../../Accounts") == "CH0%2F..%2F..%2FAccounts"
    for unsafe in ("", ".", ".."):
        with pytest.raises(ValueError):
            segment(unsafe)


@pytest.mark.parametrize("call_sid", ["../x", "CA1", "CA" + "0" * 32 + "\r\n"])
@pytest.mark.parametrize("path", VOICE_FORMS)
def test_a_call_sid_off_its_pattern_is_refused(clean: Gateways, path: str, call_sid: str) -> None:
    before = clean.settled_counts()
    fields = {"CallSid": call_sid, "CallStatus": "completed", "From": CUSTOMER}
    assert clean.post_form(path, fields, signed=True).status_code == 400
    assert clean.settled_counts() == before


def test_a_too_large_turn_is_a_permanent_413(clean: Gateways) -> None:
    fields = {
        "MessageSid": sid("SM"),
        "From": CUSTOMER,
        "To": OUR_NUMBER,
        "Body": "x" * (DEFAULT_MAX_BODY_BYTES + 1),
    }
    assert clean.post_form("/messaging/sms", fields, signed=True).status_code == 413


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_crlf_in_a_logged_value_cannot_forge_a_line(log_format: str) -> None:
    output = io.StringIO()
    handler = configure_logging("INFO", log_format, service="test", stream=output)  # type: ignore[arg-type]
    try:
        description = 'bad\r\n2026-01-01 00:00:00,000 ERROR   baton: forged\x00\x1b[31m'
        logging.getLogger("baton.relay_gateway").warning("relay error: %s", description)
    finally:
        logging.getLogger().removeHandler(handler)
    lines = output.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert "\x00" not in lines[0] and "\x1b" not in lines[0]
    if log_format == "json":
        assert json.loads(lines[0])["message"].endswith("forged\x00\x1b[31m")
