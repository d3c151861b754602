"""agent_worker configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator

from libs.platform.settings import HTTP_URL_PATTERN, BatonSettings, JsonObject
from services.agent_worker.knowledge import DEFAULT_FAQ, Faq


class AgentWorkerSettings(BatonSettings):
    openai_api_key: SecretStr | None = None
    """With a key the agent is the real LLM; without one it is the embedded policy agent."""
    openai_base_url: str | None = Field(default=None, pattern=HTTP_URL_PATTERN)
    """Any OpenAI-compatible endpoint (default: OpenAI's)."""
    baton_llm_model: str = Field(default="gpt-4o-mini", min_length=1)
    """The chat model; it must support tool calls."""
    baton_llm_timeout_seconds: float = Field(default=20.0, gt=0)
    """Timeout of one model request, which is then retried up to ``BATON_LLM_MAX_RETRIES`` times."""
    baton_llm_max_retries: int = Field(default=2, ge=0, le=10)
    """Retries of a failed or timed-out model request, with the client's backoff."""
    baton_summary_timeout_seconds: float = Field(default=8.0, gt=0)
    """The model's handoff summary, written while the customer waits (extractive if late)."""
    baton_voice_summary_timeout_seconds: float = Field(default=1.5, gt=0)
    """The same on a call, where the caller hears silence until the goodbye."""
    baton_system_prompt: str | None = Field(default=None, min_length=1)
    """Replaces the default system prompt, which states the four escalation triggers."""
    baton_history_turns: int = Field(default=10, ge=1, le=60)
    """Customer turns of history (with the replies between them) the model sees."""
    baton_faq: JsonObject = Field(default_factory=dict)
    """The FAQ (JSON object or file path): ``{"topic": "answer"}`` or ``{"topic": {"answer": …, "keywords": […]}}``; unset: a demo FAQ."""  # noqa: E501
    baton_turn_concurrency: int = Field(default=16, ge=1, le=1024)
    """Conversations one worker process handles at the same time."""
    baton_voice_flush_ms: int = Field(default=50, ge=0, le=1000)
    """A call's reply tokens after the first go out together at each phrase end (. ! ? , ;)
    or after this many milliseconds; 0 sends every token as its own frame."""
    baton_turn_lease_seconds: float = Field(default=2.0, gt=0.2)
    """How long a crashed worker can hold a conversation before another takes over."""
    baton_turn_wait_seconds: float = Field(default=120.0, gt=0)
    """How long a turn waits for another worker to finish the same conversation."""

    @field_validator("baton_faq", mode="before")
    @classmethod
    def _load_faq(cls, value: Any) -> dict[str, Any]:
        if isinstance(value, str) and value.strip() and not value.lstrip().startswith("{"):
            try:
                value = Path(value.strip()).read_text(encoding="utf-8")
            except OSError as error:
                raise ValueError(f"cannot read the FAQ file: {error.strerror}") from error
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else {}
        if not isinstance(value, dict):
            raise ValueError("must be a JSON object or the path of a JSON file holding one")
        if value:
            Faq.from_config(value)
        return value

    @property
    def faq(self) -> Faq:
        return Faq.from_config(self.baton_faq) if self.baton_faq else DEFAULT_FAQ
