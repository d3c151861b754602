"""The Twilio emulator: every product Baton calls, on one host with Twilio's own paths.

All state lives on the app, so a test can run several emulators side by side. Middleware order
(outermost first): the request recorder, then faults, then the routers with their Basic auth.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from emulator import (
    admin,
    calls,
    conversation_webhooks,
    conversations,
    faults,
    interactions,
    memory,
    messaging,
    orchestrator,
    studio,
    studio_webhooks,
    taskrouter,
)
from emulator.calls import CallManager
from emulator.desktop import routes as desktop
from emulator.errors import install_error_handlers
from emulator.faults import FaultMiddleware
from emulator.recording import RequestRecorder
from emulator.settings import EmulatorSettings
from emulator.store import EmulatorState, Task
from emulator.webhooks import WebhookSender


def create_app(settings: EmulatorSettings | None = None) -> FastAPI:
    settings = settings or EmulatorSettings()
    state = EmulatorState()
    sender = WebhookSender(settings, state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await manager.aclose()
            await sender.aclose()

    app = FastAPI(
        title="Baton Twilio emulator",
        description="Twilio's wire formats for Studio (with the Agent Handoff flow), "
        "Messaging, Conversations, Conversation Orchestrator, TaskRouter and Flex "
        "Interactions; signed webhooks, a ConversationRelay caller, faults on demand, "
        "and an agent desktop at /desktop.",
        lifespan=lifespan,
    )
    manager = CallManager(app, settings, state, sender)
    events_url = settings.emulator_taskrouter_events_url
    if events_url:

        def announce(task: Task) -> None:
            event = taskrouter.task_created_event(task, settings.twilio_account_sid)
            sender.send_later(
                sender.send_form("taskrouter", f"{task.sid}:created", events_url, event)
            )

        state.task_listeners.append(announce)
    app.state.settings = settings
    app.state.emulator = state
    app.state.webhooks = sender
    app.state.calls = manager
    install_error_handlers(app)
    for router in (
        studio.router,
        studio_webhooks.router,
        messaging.router,
        conversations.router,
        conversation_webhooks.router,
        conversation_webhooks.services_router,
        orchestrator.router,
        orchestrator.configuration_router,
        memory.router,
        memory.admin_router,
        taskrouter.router,
        interactions.router,
        faults.router,
        admin.router,
        messaging.admin_router,
        conversations.admin_router,
        orchestrator.admin_router,
        calls.router,
        desktop.api_router,
        desktop.page_router,
    ):
        app.include_router(router)
    app.add_middleware(FaultMiddleware, settings=settings, state=state)
    app.add_middleware(RequestRecorder, settings=settings, state=state)
    return app
