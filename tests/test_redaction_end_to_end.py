"""Invariant 8 on the running route: a conversation full of personal data goes through the
emulator, the gateway, NATS, the worker (with a model over HTTP that quotes the customer in
its handoff reason) and the dispatcher, and nothing any logger, span or metric writes on the
way carries it unmasked."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from urllib.parse import unquote

import pytest
from nats.js import JetStreamContext

from libs.contracts.messages import HandoffOutcome, HandoffResult
from libs.contracts.subjects import HANDOFF_RESULT
from libs.platform.metrics import exposition
from services.agent_worker.escalation import detect
from services.agent_worker.settings import AgentWorkerSettings
from services.messaging_gateway.inbound_turns import sms_conversation_id
from tests.agent.conftest import API_KEY
from tests.agent.openai_server import Call, ScriptedModel, Text, ToolCalls
from tests.agent.openai_server import create_app as create_openai
from tests.support.digital_stack import start_digital_stack
from tests.support.servers import serve
from tests.support.streams import HANDOFF_STREAM, wait_for_messages
from tests.support.traces import instrument_the_emulator, recorded_spans
from tests.support.twilio_fakes import ACCOUNT_SID, OUR_NUMBER

TEXTER = "+447911123456"  # a British mobile texting our US number
WHATSAPP = "whatsapp:+5511912345678"  # a Brazilian customer on WhatsApp
QUESTION = "opening hours? write to jane.doe@example.com, call (415) 555-0123 or +49 30 901820"
CARD = "my card 4111 1111 1111 1111 shows order 12345678 at $1,234.56 and again at 1718000000"
REASON = (
    "card 4111 1111 1111 1111 shows order 12345678 twice (at 1718000000); call back on "
    "(415) 555-0123 or "
    "+44 7911 123456, or write to jane.doe@example.com"
)

NEEDLES = {
    "the texter's number": "7911123456",
    "the WhatsApp number": "11912345678",
    "a US number in the text": "4155550123",
    "a German number in the text": "30901820",
    "a card number": "4111111111111111",
    "an e-mail address": "jane.doe@example.com",
}
"""What must never appear, looked for with separators removed and URL encoding undone."""


def unmasked(text: str) -> list[str]:
    plain = unquote(text)
    squeezed = re.sub(r"[\s().\-/]", "", plain)
    return [name for name, raw in NEEDLES.items() if raw in plain or raw in squeezed]


@contextmanager
def every_log_record() -> Iterator[list[str]]:
    """Every record any logger hands to its handlers, at every level, with all its fields.

    Loggers that do not propagate to the root (uvicorn's, FastStream's) are included: the
    capture sits in ``Logger.callHandlers``, which every logger calls.
    """
    written: list[str] = []
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    call_handlers = logging.Logger.callHandlers

    def capture(logger: logging.Logger, record: logging.LogRecord) -> None:
        written.append(f"{formatter.format(record)} {vars(record)!r}")
        call_handlers(logger, record)

    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    levels = {logger: logger.level for logger in loggers if isinstance(logger, logging.Logger)}
    for logger in levels:
        logger.setLevel(logging.DEBUG)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(logging.Logger, "callHandlers", capture)
        try:
            yield written
        finally:
            for logger, level in levels.items():
                logger.setLevel(level)


async def test_no_log_line_span_or_metric_carries_personal_data(
    nats_url: str, js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    instrument_the_emulator(monkeypatch)
    assert detect(QUESTION) is None and detect(CARD) is None, "the model decides, not the policy"
    model = ScriptedModel()
    model.script(
        Text.of("We open at 9."),
        Text.of("We open at 9."),
        ToolCalls.of(Call("handoff", {"reason": REASON})),
        Text.of("Connecting you with our team now."),
    )
    model.summary = f"The customer reports: {REASON}."
    conversation = sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, TEXTER)
    with recorded_spans() as exporter:
        async with AsyncExitStack() as stack:
            openai_url = await stack.enter_async_context(serve(create_openai(model)))
            digital = await start_digital_stack(
                stack,
                nats_url,
                worker=AgentWorkerSettings(
                    nats_url=nats_url,
                    openai_api_key=API_KEY,
                    openai_base_url=f"{openai_url}/v1",
                    baton_llm_max_retries=0,
                ),
            )
            with every_log_record() as lines:
                await digital.admin(
                    "POST", "/conversations/message", json={"author": WHATSAPP, "body": QUESTION}
                )
                await digital.wait_outbox(WHATSAPP, 1)
                await digital.text_in(QUESTION, TEXTER)
                await digital.wait_outbox(TEXTER, 1)
                await digital.text_in(CARD, TEXTER)
                [result] = await wait_for_messages(
                    js, HANDOFF_STREAM, HANDOFF_RESULT.subject(conversation), HandoffResult
                )
                assert result.outcome is HandoffOutcome.DELIVERED
        spans = [span.to_json(indent=None) for span in exporter.get_finished_spans()]
    metrics = exposition("application/openmetrics-text")[0].decode()

    assert len(lines) > 100 and len(spans) > 30
    loggers = {line.split(" ", 1)[0] for line in lines}
    assert {"uvicorn.access", "httpx"} <= loggers, loggers
    assert any(name.startswith("faststream") for name in loggers), loggers
    leaks = {f"{needle}: {text[:300]}" for text in lines + spans for needle in unmasked(text)}
    assert not leaks, "\n".join(sorted(leaks))
    assert not unmasked(metrics)
    # The scan saw the data, masked: the texter's number in URLs, the reason on spans.
    assert any("+44********56" in unquote(line) for line in lines)
    assert any("**** **** **** 1111" in span and "j***@e***.com" in span for span in spans)
    assert any("+44 **** ****56" in span and "(***) ***-**23" in span for span in spans)
    assert any("order 12345678" in span and "1718000000" in span for span in spans)
