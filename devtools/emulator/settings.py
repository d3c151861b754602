"""Emulator settings: the same variable names the services read, so one environment serves both.

Webhook signing: Twilio signs the URL it was configured with. By default the emulator signs each
target URL exactly as configured (``EMULATOR_SMS_WEBHOOK_URL`` …), so a gateway must validate
against the URL it is reached at. When ``EMULATOR_WEBHOOK_BASE_URL`` is set, the request still
goes to the configured target, but the signature is computed over that public base plus the
target's path and query — the gateway's ``PUBLIC_BASE_URL`` must then be the same base.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from emulator import fake_account

DEFAULT_PORT = 8090


class EmulatorSettings(BaseSettings):
    """Fake credentials by default: the emulator must never need (or see) a real account."""

    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True)

    twilio_account_sid: str = Field(
        default=fake_account.ACCOUNT_SID, pattern=r"^AC[0-9a-fA-F]{32}$"
    )
    twilio_auth_token: str = Field(default=fake_account.AUTH_TOKEN, min_length=1)
    twilio_api_key: str = Field(default=fake_account.API_KEY, pattern=r"^SK[0-9a-fA-F]{32}$")
    twilio_api_secret: str = Field(default=fake_account.API_SECRET, min_length=1)
    twilio_studio_handoff_flow_sid: str = Field(
        default=fake_account.STUDIO_FLOW_SID, pattern=r"^FW[0-9a-fA-F]{32}$"
    )
    twilio_phone_number: str = fake_account.PHONE_NUMBER
    twilio_whatsapp_number: str = f"whatsapp:{fake_account.PHONE_NUMBER}"
    """Our WhatsApp sender (the customer writes to it on the WHATSAPP channel)."""
    twilio_rcs_sender_id: str = "rcs:baton_test_agent"
    """Our RCS sender (the customer writes to it on the RCS channel)."""
    baton_bot_identity: str = "baton-agent"
    """Our chat identity (the customer writes to it on the CHAT channel)."""
    twilio_conversation_configuration_id: str | None = None
    """Reported as ``configurationId`` on Conversation Orchestrator conversations."""
    emulator_public_url: str = f"http://127.0.0.1:{DEFAULT_PORT}"
    """Where clients reach the emulator; the host part of every ``url`` in a response."""
    emulator_sms_webhook_url: str | None = None
    """The number's SMS URL: where inbound Programmable Messaging webhooks are posted."""
    emulator_conversations_webhook_url: str | None = None
    """The Conversations (classic) post-event webhook URL (``onMessageAdded``)."""
    emulator_orchestrator_webhook_url: str | None = None
    """The Conversation Orchestrator JSON webhook URL (``COMMUNICATION_CREATED``)."""
    emulator_webhook_base_url: str | None = None
    """Public base the signatures are computed over instead of each target's own scheme+host."""
    emulator_webhook_timeout_seconds: float = Field(default=15.0, gt=0)
    """Twilio's default read timeout for webhooks."""
    emulator_taskrouter_workspace_sid: str = Field(
        default=fake_account.WORKSPACE_SID, pattern=r"^WS[0-9a-fA-F]{32}$"
    )
    """The Flex workspace SendToFlex routes to."""
    emulator_taskrouter_workflow_sid: str = Field(
        default=fake_account.WORKFLOW_SID, pattern=r"^WW[0-9a-fA-F]{32}$"
    )
    """The workflow of tasks created without a ``WorkflowSid`` (and of SendToFlex)."""
    emulator_relay_voice_url: str | None = None
    """The number's voice URL: where the ConversationRelay caller dials (``/voice/incoming``)."""
    emulator_relay_status_url: str | None = None
    """The number's call status callback, told when a caller hangs up."""
    emulator_call_reply_timeout_seconds: float = Field(default=15.0, gt=0)
    """How long a scripted caller waits for the agent's answer before it speaks again."""
    emulator_agent_identity: str = Field(default="flex-agent", min_length=1)
    """The human agent of the agent desktop: ``Author`` of their messages, their worker name."""
    emulator_orchestrator_inactive_seconds: float = Field(default=300.0, gt=0)
    """Orchestrator status timeout: a quiet ACTIVE conversation becomes INACTIVE."""
    emulator_orchestrator_closed_seconds: float = Field(default=600.0, gt=0)
    """Orchestrator status timeout: an INACTIVE conversation becomes CLOSED."""
    emulator_taskrouter_events_url: str | None = None
    """The workspace's Event Callback URL: TaskRouter posts ``task.created`` there (signed)."""
    emulator_handback_url: str | None = None
    """Told (signed JSON ``{"conversationId", "taskSid"}``) when the agent hands a conversation
    back to the bot."""
    emulator_studio_directory: str | None = None
    """Where the shipped Studio flows are (default: the repository's ``deploy/studio``)."""
    emulator_studio_flow: str | None = None
    """The shipped flow the handoff flow runs until one is deployed (default by mode:
    ``agent-handoff.json`` with an Orchestrator configuration, else the classic variant)."""
    emulator_memory_store_id: str = "mem_store_00000000000000000000000001"
    """The configuration's Memory store (``memoryStoreId``): profiles resolved for customers."""
    emulator_orchestrator_bridge: bool = True
    """The configuration bridges Conversations (classic) (``conversationsV1Bridge``): digital
    Orchestrator conversations have a ``CH…`` behind them, named by the participants'
    ``channelId``."""
    emulator_trace_url: str = "http://localhost:16686/trace/{trace_id}"
    """The trace link on a task in the agent desktop (Jaeger's UI by default)."""

    @property
    def public_url(self) -> str:
        return self.emulator_public_url.rstrip("/")
