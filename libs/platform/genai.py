"""A model call as OpenTelemetry's GenAI conventions describe it, and measured.

:func:`model_call` wraps one request to an OpenAI-compatible API: a CLIENT span named
``chat <model>`` with ``gen_ai.*`` attributes (operation, provider, requested and answering
model, finish reasons, input and output tokens), and the metrics
``baton_model_request_seconds{operation,model,outcome}`` and
``baton_model_tokens_total{operation,model,type}``. The span is current only while the
request is sent (:meth:`ModelCall.sending`), so the HTTP span nests under it while the
tokens a caller streams onwards stay in the caller's own trace.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from openai.types.chat import ChatCompletion, ChatCompletionChunk
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from libs.platform.metrics import AGENT_BUCKETS, Counter, Histogram

PROVIDER = "openai"

MODEL_REQUEST_TIME = Histogram(
    "baton_model_request_seconds",
    "Model requests by operation, model and outcome (`ok`, `error`, `cancelled`).",
    otel_name="baton.model.request.duration",
    buckets=AGENT_BUCKETS,
    labels=("operation", "model", "outcome"),
)
MODEL_TOKENS = Counter(
    "baton_model_tokens",
    "Tokens the model read (`input`) and wrote (`output`), as its API reported them.",
    otel_name="baton.model.token.usage",
    labels=("operation", "model", "type"),
)
METRICS = (MODEL_REQUEST_TIME, MODEL_TOKENS)

_tracer = trace.get_tracer("baton.genai")


@dataclass
class ModelCall:
    """What one request learned from its answer, for the span and the metrics."""

    operation: str
    model: str
    span: Span
    response_model: str | None = None
    response_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    finish_reasons: list[str] = field(default_factory=list)

    @contextmanager
    def sending(self) -> Iterator[None]:
        """The span as the current one while the request goes out (the HTTP span's parent)."""
        with trace.use_span(self.span, end_on_exit=False):
            yield

    def saw(self, answer: ChatCompletion | ChatCompletionChunk) -> None:
        """A completion or one streamed chunk (the last one of a stream carries the usage)."""
        self.response_model = answer.model or self.response_model
        self.response_id = answer.id or self.response_id
        self.finish_reasons += [c.finish_reason for c in answer.choices if c.finish_reason]
        if answer.usage is not None:
            self.input_tokens = answer.usage.prompt_tokens
            self.output_tokens = answer.usage.completion_tokens

    def _finish(self, outcome: str, error: BaseException | None) -> None:
        span = self.span
        if self.response_model:
            span.set_attribute("gen_ai.response.model", self.response_model)
        if self.response_id:
            span.set_attribute("gen_ai.response.id", self.response_id)
        if self.finish_reasons:
            span.set_attribute("gen_ai.response.finish_reasons", self.finish_reasons)
        for kind, tokens in (("input", self.input_tokens), ("output", self.output_tokens)):
            if tokens is None:
                continue
            span.set_attribute(f"gen_ai.usage.{kind}_tokens", tokens)
            MODEL_TOKENS.inc(tokens, operation=self.operation, model=self.model, type=kind)
        if error is not None and outcome == "error":
            span.set_attribute("error.type", type(error).__qualname__)
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))


@contextmanager
def model_call(model: str, operation: str = "chat") -> Iterator[ModelCall]:
    """Span and measure one model request; an exception marks it failed and propagates."""
    span = _tracer.start_span(
        f"{operation} {model}",
        kind=SpanKind.CLIENT,
        attributes={
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.system": PROVIDER,
            "gen_ai.request.model": model,
        },
    )
    call = ModelCall(operation, model, span)
    started = time.perf_counter()
    outcome = "ok"
    error_seen: BaseException | None = None
    try:
        yield call
    except (asyncio.CancelledError, GeneratorExit) as stopped:
        outcome, error_seen = "cancelled", stopped
        raise
    except Exception as failed:
        outcome, error_seen = "error", failed
        raise
    finally:
        call._finish(outcome, error_seen)
        with trace.use_span(span, end_on_exit=True):
            MODEL_REQUEST_TIME.observe(
                time.perf_counter() - started, operation=operation, model=model, outcome=outcome
            )
