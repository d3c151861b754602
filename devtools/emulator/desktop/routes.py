"""The desktop page and its JSON API under ``/_emulator/desktop`` (no auth, like all admin)."""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from emulator.calls import Calls
from emulator.dependencies import Settings, State, Webhooks
from emulator.desktop.actions import AgentDesk
from emulator.desktop.view import task_view
from emulator.errors import not_found

ASSETS = {"desktop.js": "text/javascript", "desktop.css": "text/css"}

page_router = APIRouter(tags=["agent desktop"])
api_router = APIRouter(prefix="/_emulator/desktop", tags=["agent desktop"])


def _asset(name: str) -> str:
    return resources.files("emulator.desktop").joinpath(name).read_text(encoding="utf-8")


def desk_of(state: State, settings: Settings, sender: Webhooks, calls: Calls) -> AgentDesk:
    return AgentDesk(state, settings, sender, calls)


Desk = Annotated[AgentDesk, Depends(desk_of)]


@page_router.get("/desktop", response_class=HTMLResponse)
async def desktop_page() -> HTMLResponse:
    return HTMLResponse(_asset("index.html"))


@page_router.get("/desktop/{name}")
async def desktop_asset(name: str) -> Response:
    if name not in ASSETS:
        raise not_found(f"/desktop/{name}")
    return Response(_asset(name), media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})


@api_router.get("/tasks")
async def tasks(state: State, settings: Settings) -> dict[str, Any]:
    """Every Flex task, newest first, as the agent sees it."""
    newest = sorted(state.tasks.values(), key=lambda task: task.date_created, reverse=True)
    return {
        "agent": settings.emulator_agent_identity,
        "tasks": [task_view(state, settings, task) for task in newest],
    }


@api_router.get("/tasks/{task_sid}")
async def task(task_sid: str, desk: Desk) -> dict[str, Any]:
    return task_view(desk.state, desk.settings, desk.task(task_sid))


@api_router.post("/tasks/{task_sid}/accept")
async def accept(task_sid: str, desk: Desk) -> dict[str, Any]:
    found = desk.task(task_sid)
    desk.accept(found)
    return task_view(desk.state, desk.settings, found)


class Reply(BaseModel):
    body: str = Field(min_length=1, max_length=1600)


@api_router.post("/tasks/{task_sid}/reply")
async def reply(task_sid: str, body: Reply, desk: Desk) -> dict[str, Any]:
    """The agent writes to the customer (or speaks to the caller)."""
    found = desk.task(task_sid)
    desk.reply(found, body.body.strip() or body.body)
    return task_view(desk.state, desk.settings, found)


@api_router.post("/tasks/{task_sid}/complete")
async def complete(task_sid: str, desk: Desk) -> dict[str, Any]:
    found = desk.task(task_sid)
    desk.complete(found)
    return task_view(desk.state, desk.settings, found)


@api_router.post("/tasks/{task_sid}/handback")
async def hand_back(task_sid: str, desk: Desk) -> dict[str, Any]:
    """Give the customer back to the bot and tell ``EMULATOR_HANDBACK_URL``."""
    found = desk.task(task_sid)
    notified = await desk.hand_back(found)
    return {**task_view(desk.state, desk.settings, found), "handback": notified}
