"""What masking costs per log line and per span (`python -m baton_devtools.bench.redaction`).

Masking runs on everything that leaves a process, so its price is paid per log record and
per finished span. Each figure is the median over several rounds of the time per item, with
masking on minus the same work with ``BATON_LOG_SENSITIVE`` on (nothing masked):

- ``log_line_plain``: a record with no personal data (the common case: one pre-check scan);
- ``log_line_with_number``: a record naming a customer's number (libphonenumber runs);
- ``span_plain``: a finished span with a dozen attributes and no personal data;
- ``span_with_number``: the same span with one attribute holding an address.

Results go to ``bench-results/redaction.json``.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanContext

from baton_devtools.bench.figures import write_results
from libs.platform.redaction import configure_redaction
from libs.platform.tracing import redacted

RESULTS = Path("bench-results") / "redaction.json"
ROUNDS = 7
ITEMS = 5_000


def _span(address: str) -> ReadableSpan:
    return ReadableSpan(
        name="baton.turns.{conversation} process",
        context=SpanContext(
            trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736, span_id=7, is_remote=False
        ),
        attributes={
            "messaging.system": "nats",
            "messaging.operation.type": "process",
            "messaging.destination.name": "baton.turns.sms-70d544c24f376f69c8a93df97d10a5c2",
            "messaging.message.id": "turn:SM0123456789abcdef0123456789abcdef",
            "messaging.message.body.size": 412,
            "baton.conversation_id": "sms-70d544c24f376f69c8a93df97d10a5c2",
            "baton.channel": "sms",
            "baton.turn.sequence": 12,
            "baton.agent.ttft_ms": 41.5,
            "baton.agent.tokens_out": 37,
            "baton.handoff.reason": "customer asked for a person",
            "baton.customer": address,
        },
        events=[Event("studio.retry", {"failure": "rate_limited", "delay_s": 0.5})],
    )


def _per_item(work: Callable[[], object]) -> float:
    """Median seconds per item over ``ROUNDS`` rounds of ``ITEMS`` calls."""
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(ITEMS):
            work()
        rounds.append((time.perf_counter() - started) / ITEMS)
    return statistics.median(rounds)


def _masking_cost(work: Callable[[], object]) -> dict[str, float]:
    configure_redaction(sensitive=True)
    unmasked = _per_item(work)
    configure_redaction(sensitive=False)
    masked = _per_item(work)
    return {
        "masked_us": round(masked * 1e6, 2),
        "unmasked_us": round(unmasked * 1e6, 2),
        "masking_us": round((masked - unmasked) * 1e6, 2),
    }


def measure() -> dict[str, dict[str, float]]:
    logging.disable(logging.NOTSET)  # the voice benchmark, run before, silences logging
    logger = logging.getLogger("baton.bench.redaction")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(logging.NullHandler())
    plain_span, span_with_number = _span("web visitor"), _span("whatsapp:+14155550123")
    return {
        "log_line_plain": _masking_cost(
            lambda: logger.info("reply %s muted: conversation is %s", "reply-12", "handed_off")
        ),
        "log_line_with_number": _masking_cost(
            lambda: logger.info("duplicate webhook from %s ignored", "+1 (415) 555-0123")
        ),
        "span_plain": _masking_cost(lambda: redacted(plain_span)),
        "span_with_number": _masking_cost(lambda: redacted(span_with_number)),
    }


def main() -> None:
    results = measure()
    configure_redaction(sensitive=False)
    write_results(RESULTS, results, show=False)
    for name, figures in results.items():
        print(f"{name:22} {figures['masking_us']:8.2f} µs masking  ({figures['masked_us']:.2f} µs)")


if __name__ == "__main__":
    main()
