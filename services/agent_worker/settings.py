"""agent_worker configuration."""

from __future__ import annotations

from pydantic import Field, SecretStr

from libs.settings import BatonSettings


class AgentWorkerSettings(BatonSettings):
    openai_api_key: SecretStr | None = None
    """With a key the agent is the real LLM; without one it is the embedded policy agent."""
    openai_base_url: str | None = Field(default=None, pattern=r"^https?://")
    baton_llm_model: str = Field(default="gpt-4o-mini", min_length=1)
    baton_turn_concurrency: int = Field(default=16, ge=1, le=1024)
    """Conversations one worker process handles at the same time."""
    baton_turn_lease_seconds: float = Field(default=2.0, gt=0.2)
    """How long a crashed worker can hold a conversation before another takes over."""
    baton_turn_wait_seconds: float = Field(default=120.0, gt=0)
    """How long a turn waits for another worker to finish the same conversation."""
