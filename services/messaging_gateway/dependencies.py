"""What the messaging gateway's routes get once NATS is connected, as FastAPI dependencies.

The lifespan builds one :class:`GatewayRuntime` and puts it on ``app.state``; routes ask for
its parts with ``Annotated`` aliases instead of reaching into globals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request

from libs.platform.conversation_store import ConversationStore


@dataclass(frozen=True)
class GatewayRuntime:
    store: ConversationStore


def _conversation_store(request: Request) -> ConversationStore:
    return cast(GatewayRuntime, request.app.state.runtime).store


StoreDep = Annotated[ConversationStore, Depends(_conversation_store)]
