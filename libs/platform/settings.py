"""Settings shared by every service, with the variable names Twilio Agent Connect users know.

Each service subclasses one of these bases in its own ``settings.py`` and loads it with
:func:`load_settings`, which turns a validation error into one line naming the variable and
saying in words what it must be ("TWILIO_ACCOUNT_SID must start with AC and have 34
characters"), never a raw pattern.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from collections.abc import Mapping
from typing import Annotated, Any, Self, TypeVar

from phonenumbers import SUPPORTED_REGIONS
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ACCOUNT_SID_PATTERN = r"^AC[0-9a-fA-F]{32}$"
API_KEY_PATTERN = r"^SK[0-9a-fA-F]{32}$"
FLOW_SID_PATTERN = r"^FW[0-9a-fA-F]{32}$"
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
WHATSAPP_PATTERN = r"^whatsapp:\+[1-9][0-9]{6,14}$"
CsvList = Annotated[list[str], NoDecode]
"""A comma-separated list in the environment, as TAC's plural sender variables."""
WORKFLOW_SID_PATTERN = r"^WW[0-9a-fA-F]{32}$"
HTTP_URL_PATTERN = r"^https?://"
HTTP_BASE_URL_PATTERN = r"^https?://[^/]+"
NATS_URL_PATTERN = r"^(nats|tls|ws|wss)://"

PATTERN_WORDS = {
    E164_PATTERN: "must be a phone number in E.164 form, like +15005550006",
    WHATSAPP_PATTERN: "must be a WhatsApp sender like whatsapp:+15005550006",
    HTTP_URL_PATTERN: "must be an http:// or https:// URL",
    HTTP_BASE_URL_PATTERN: "must be an http:// or https:// URL with a host",
    NATS_URL_PATTERN: "must be a nats://, tls://, ws:// or wss:// URL",
}
"""What each pattern a setting must match means, for the error a person reads."""
_SID_PATTERN = re.compile(r"^\^([A-Z]{2})\[0-9a-fA-F\]\{(\d+)\}\$$")


def pattern_in_words(pattern: str) -> str:
    """``^AC[0-9a-fA-F]{32}$`` → "must start with AC and have 34 characters"."""
    if pattern in PATTERN_WORDS:
        return PATTERN_WORDS[pattern]
    sid = _SID_PATTERN.match(pattern)
    if sid:
        return f"must start with {sid[1]} and have {int(sid[2]) + 2} characters"
    return f"must match {pattern}"


def _default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class BatonSettings(BaseSettings):
    """What every service needs: where NATS is and how the streams are replicated."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
        validate_default=True,
        use_attribute_docstrings=True,
    )

    nats_url: str = Field(default="nats://127.0.0.1:4222", pattern=NATS_URL_PATTERN)
    """NATS server(s) with JetStream."""
    baton_nats_replicas: int = Field(default=1, ge=1, le=5)
    """Stream and bucket replicas: 1 locally, 3 in a cluster (used by ``baton streams init``)."""
    baton_instance_id: str = Field(default_factory=_default_instance_id, min_length=1)
    """This replica's name in NATS connections and leases (the pod name in Kubernetes)."""
    baton_log_sensitive: bool = False
    """Allow phone numbers, channel addresses, card numbers, e-mail addresses and message text
    in logs, spans and metrics (off: they are masked)."""
    baton_phone_regions: str = "US"
    """Countries (ISO codes, comma-separated) whose national formats, e.g. ``(415) 555-0123``,
    are masked as phone numbers; international ``+…`` numbers always are."""
    baton_shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    """How long running handlers may finish on shutdown (keep below the pod's grace period)."""
    baton_nats_connect_seconds: float = Field(default=30.0, gt=0)
    """How long a starting service tries to reach NATS (one log line per attempt) before it
    exits non-zero with one line naming ``NATS_URL``."""
    nats_creds: str | None = None
    """A NATS ``.creds`` file (user JWT and NKey seed), for a server with decentralized auth."""
    nats_nkey_seed: str | None = None
    """A file holding an NKey seed (``SU…``), for a server configured with ``nkey`` users."""
    nats_user: str | None = None
    """NATS user name (with ``NATS_PASSWORD``)."""
    nats_password: SecretStr | None = None
    """NATS password of ``NATS_USER``."""
    nats_token: SecretStr | None = None
    """NATS authorization token."""
    nats_tls_ca: str | None = None
    """CA certificate file (PEM) that signed the NATS server's certificate; turns TLS on."""
    nats_tls_cert: str | None = None
    """Client certificate file (PEM), for a NATS server that verifies clients (with the key)."""
    nats_tls_key: str | None = None
    """The client certificate's private key file (PEM)."""
    baton_admin_host: str = Field(default="127.0.0.1", min_length=1)
    """Where the admin listener (``/metrics``, ``/internal/*``) binds: loopback, or ``0.0.0.0``
    in a pod so Prometheus can scrape it over the pod network. Never the public listener."""
    baton_admin_port: int | None = Field(default=None, ge=1, le=65535)
    """The admin listener's port (unset: the service's HTTP port + 1000, e.g. 9080 for the
    relay gateway)."""
    baton_api_docs: bool = False
    """Serve FastAPI's ``/docs``, ``/redoc`` and ``/openapi.json`` (for development only)."""

    @field_validator("baton_phone_regions")
    @classmethod
    def _known_regions(cls, value: str) -> str:
        regions = [region.strip().upper() for region in value.split(",") if region.strip()]
        unknown = [region for region in regions if region not in SUPPORTED_REGIONS]
        if unknown or not regions:
            raise ValueError(f"not a country code known to libphonenumber: {unknown or value!r}")
        return ",".join(regions)

    @property
    def phone_regions(self) -> tuple[str, ...]:
        return tuple(self.baton_phone_regions.split(","))

    @model_validator(mode="after")
    def _nats_auth_is_complete(self) -> Self:
        if (self.nats_user is None) != (self.nats_password is None):
            raise ValueError("NATS_USER and NATS_PASSWORD are set together")
        kinds = [self.nats_creds, self.nats_nkey_seed, self.nats_user, self.nats_token]
        if sum(kind is not None for kind in kinds) > 1:
            raise ValueError(
                "set one of NATS_CREDS, NATS_NKEY_SEED, NATS_USER/NATS_PASSWORD or NATS_TOKEN"
            )
        if (self.nats_tls_cert is None) != (self.nats_tls_key is None):
            raise ValueError("NATS_TLS_CERT and NATS_TLS_KEY are set together")
        return self


class TwilioAccountSettings(BatonSettings):
    """A service that talks to Twilio or checks Twilio's signatures."""

    twilio_account_sid: str = Field(pattern=ACCOUNT_SID_PATTERN)
    """Your Twilio account (``AC…``)."""
    twilio_auth_token: SecretStr = Field(min_length=1)
    """Checks ``X-Twilio-Signature`` on every webhook and WebSocket upgrade."""
    twilio_api_base_url: str | None = Field(default=None, pattern=HTTP_URL_PATTERN)
    """When set, every Twilio REST call goes to this base URL with Twilio's own paths."""
    twilio_conversation_configuration_id: str | None = None
    """The Conversation Orchestrator configuration: every channel (calls included, through
    ``<ConversationRelay conversationConfiguration>``) is then one Orchestrator conversation."""


class TwilioApiKeySettings(TwilioAccountSettings):
    """A service that calls Twilio's REST API with an API key (Basic auth ``SK…:secret``)."""

    twilio_api_key: str = Field(pattern=API_KEY_PATTERN)
    """API key (``SK…``) for REST calls (Basic auth with the secret)."""
    twilio_api_secret: SecretStr = Field(min_length=1)
    """The API key's secret."""
    twilio_phone_number: str = Field(pattern=E164_PATTERN)
    """Your Twilio number (E.164): the ``From`` of SMS and chat replies and Studio executions."""
    twilio_phone_numbers: CsvList = Field(default_factory=list)
    """Every number you answer on (comma-separated); ``TWILIO_PHONE_NUMBER`` is the default."""
    twilio_whatsapp_number: str | None = Field(
        default=None, pattern=r"^whatsapp:\+[1-9][0-9]{6,14}$"
    )
    """Your WhatsApp sender (``whatsapp:+…``): the ``From`` of WhatsApp replies and handoffs."""
    twilio_whatsapp_numbers: CsvList = Field(default_factory=list)
    """Every WhatsApp sender you answer on (comma-separated)."""
    twilio_rcs_sender_id: str | None = Field(default=None, min_length=1)
    """Your RCS sender (``rcs:…``): the ``From`` of RCS replies and handoffs."""
    twilio_rcs_sender_ids: CsvList = Field(default_factory=list)
    """Every RCS sender you answer on (comma-separated)."""

    @field_validator(
        "twilio_phone_numbers", "twilio_whatsapp_numbers", "twilio_rcs_sender_ids", mode="before"
    )
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def senders(self, medium: str) -> list[str]:
        """Our addresses on an Orchestrator channel (``SMS``, ``WHATSAPP``, ``RCS``), default
        first, as TAC pairs each singular setting with its plural list."""
        default, more = {
            "WHATSAPP": (self.twilio_whatsapp_number, self.twilio_whatsapp_numbers),
            "RCS": (self.twilio_rcs_sender_id, self.twilio_rcs_sender_ids),
        }.get(medium.upper(), (self.twilio_phone_number, self.twilio_phone_numbers))
        ordered = [default, *more] if default else list(more)
        return list(dict.fromkeys(ordered))


class PublicWebhookSettings(TwilioAccountSettings):
    """A gateway Twilio reaches over HTTP; signatures are checked against ``PUBLIC_BASE_URL``."""

    public_base_url: str = Field(pattern=HTTP_BASE_URL_PATTERN)
    """Where Twilio reaches the gateways (signatures are checked against this URL)."""
    baton_webhook_max_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    """Largest webhook body accepted (413 above it, checked before the body is read)."""

    @field_validator("public_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


def parse_json_object(value: Any) -> dict[str, Any]:
    """Accept a JSON object given as text (from the environment) or already parsed."""
    if isinstance(value, dict):
        return value
    if value is None or value == "":
        return {}
    parsed = json.loads(value)
    if not isinstance(parsed, dict):
        raise ValueError("must be a JSON object")
    return parsed


JsonObject = Annotated[dict[str, Any], NoDecode]

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def _in_words(item: Mapping[str, Any]) -> str:
    """What one validation error asks of the variable, as a sentence's predicate."""
    kind, context = item["type"], item.get("ctx") or {}
    if kind == "missing":
        return "is not set"
    if kind == "string_pattern_mismatch":
        return pattern_in_words(str(context.get("pattern", "")))
    message = str(item["msg"]).removeprefix("Value error, ")
    if message.startswith("Input should be "):
        return "must be " + message.removeprefix("Input should be ")
    return message[0].lower() + message[1:] if message else kind


def describe_error(error: ValidationError) -> str:
    """One line naming each bad or missing variable and what it must be, e.g.
    ``TWILIO_ACCOUNT_SID must start with AC and have 34 characters``; values are never shown
    (they may be secrets)."""
    parts = []
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"]).upper() or "configuration"
        parts.append(f"{name} {_in_words(item)}")
    return "; ".join(parts)


def load_settings(cls: type[SettingsT]) -> SettingsT:
    """Load a service's settings or stop the process with one clear line."""
    try:
        return cls()
    except ValidationError as error:
        sys.exit(f"baton: invalid configuration: {describe_error(error)}")
