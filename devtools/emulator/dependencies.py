"""Request-scoped access to the app's settings and state (``Annotated`` dependencies)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from emulator.settings import EmulatorSettings
from emulator.store import EmulatorState
from emulator.webhooks import WebhookSender


def settings_of(request: Request) -> EmulatorSettings:
    settings: EmulatorSettings = request.app.state.settings
    return settings


def state_of(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def webhooks_of(request: Request) -> WebhookSender:
    sender: WebhookSender = request.app.state.webhooks
    return sender


Settings = Annotated[EmulatorSettings, Depends(settings_of)]
State = Annotated[EmulatorState, Depends(state_of)]
Webhooks = Annotated[WebhookSender, Depends(webhooks_of)]
