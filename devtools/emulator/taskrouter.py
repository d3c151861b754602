"""TaskRouter tasks: ``/v1/Workspaces/{WS}/Tasks``, the queue Flex agents work from.

Lifecycle as Twilio enforces it: ``pending`` → ``reserved`` (offered to a worker) →
``assigned`` (accepted) → ``wrapping`` → ``completed``; ``canceled`` from pending or reserved.
The REST API may only cancel, wrap and complete (with a ``Reason`` for the final states);
reserving and accepting belong to the agent (the desktop). Any well-formed workspace SID is
served, with one queue ("Everyone") and the standard task channels.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from opentelemetry.context import Context

from emulator.auth import require_twilio_auth
from emulator.dependencies import Settings, State
from emulator.errors import TwilioError, not_found
from emulator.executions import end_execution
from emulator.settings import EmulatorSettings
from emulator.store import EmulatorState, Task, TaskTransition
from emulator.tracing import caller_trace_id, incoming_context, tracer
from emulator.wire import form_fields, is_sid, iso, meta_page, new_sid, utc_now

STATUSES = ("pending", "reserved", "assigned", "wrapping", "completed", "canceled")
FINAL = frozenset({"completed", "canceled"})
REST_MOVES = {
    "canceled": frozenset({"pending", "reserved"}),
    "wrapping": frozenset({"assigned"}),
    "completed": frozenset({"assigned", "wrapping"}),
}
"""Target status → the statuses the REST API may move a task from."""
AGENT_MOVES = {
    "reserved": frozenset({"pending"}),
    "pending": frozenset({"reserved"}),
    "assigned": frozenset({"reserved"}),
    **REST_MOVES,
}
CHANNELS = ("default", "voice", "chat", "sms", "video", "email", "messenger", "whatsapp")
DEFAULT_TIMEOUT = 86400
MAX_TIMEOUT = 365 * 86400
QUEUE_NAME = "Everyone"
WORKFLOW_NAME = "Assign to Anyone"

router = APIRouter(prefix="/v1/Workspaces", dependencies=[Depends(require_twilio_auth)])


def _stable_sid(prefix: str, *parts: str) -> str:
    return prefix + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def queue_sid(workspace_sid: str) -> str:
    return _stable_sid("WQ", workspace_sid, QUEUE_NAME)


def channel_sid(workspace_sid: str, unique_name: str) -> str:
    return _stable_sid("TC", workspace_sid, unique_name)


def channel_name(workspace_sid: str, given: str) -> str:
    """A ``TaskChannel`` given as unique name or ``TC…`` SID, as its unique name."""
    if given in CHANNELS:
        return given
    for name in CHANNELS:
        if given == channel_sid(workspace_sid, name):
            return name
    raise TwilioError(400, f"TaskChannel '{given}' does not exist in this workspace")


def parse_attributes(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        attributes = json.loads(raw)
    except ValueError as error:
        raise TwilioError(400, "Attributes must be a valid JSON object") from error
    if not isinstance(attributes, dict):
        raise TwilioError(400, "Attributes must be a valid JSON object")
    return attributes


def task_attributes(task: Task) -> dict[str, Any]:
    parsed = json.loads(task.attributes or "{}")
    return parsed if isinstance(parsed, dict) else {}


def create_task(
    state: EmulatorState,
    settings: EmulatorSettings,
    *,
    attributes: dict[str, Any],
    workspace_sid: str | None = None,
    workflow_sid: str | None = None,
    channel: str = "default",
    priority: int = 0,
    timeout: int = DEFAULT_TIMEOUT,
    trace_id: str | None = None,
    context: Context | None = None,
) -> Task:
    """A new pending task; its span joins ``context`` (else the current span)."""
    workspace = workspace_sid or settings.emulator_taskrouter_workspace_sid
    with tracer.start_as_current_span(
        "taskrouter.task.create",
        context=context,
        attributes={"taskrouter.workspace_sid": workspace, "taskrouter.task_channel": channel},
    ) as span:
        now = utc_now()
        task = Task(
            sid=new_sid("WT"),
            workspace_sid=workspace,
            workflow_sid=workflow_sid or settings.emulator_taskrouter_workflow_sid,
            task_queue_sid=queue_sid(workspace),
            task_channel_unique_name=channel,
            attributes=json.dumps(attributes),
            assignment_status="pending",
            priority=priority,
            timeout=timeout,
            date_created=now,
            date_updated=now,
            trace_id=trace_id,
            history=[TaskTransition("pending", None, now)],
        )
        span.set_attribute("taskrouter.task_sid", task.sid)
        state.tasks[task.sid] = task
        for listener in state.task_listeners:
            listener(task)
        return task


def move_task(
    state: EmulatorState,
    task: Task,
    status: str,
    reason: str | None = None,
    *,
    allowed: dict[str, frozenset[str]] = AGENT_MOVES,
) -> None:
    """Change the assignment status if the lifecycle allows it; a final status ends the
    Studio execution that sent the task to Flex."""
    if status not in STATUSES:
        raise TwilioError(400, f"Invalid AssignmentStatus '{status}'")
    if status == task.assignment_status:
        return
    if task.assignment_status not in allowed.get(status, frozenset()):
        raise TwilioError(
            400, f"Task {task.sid} cannot move from {task.assignment_status} to {status}"
        )
    if status in FINAL and not reason:
        raise TwilioError(400, f"Reason is required to move a task to {status}")
    now = utc_now()
    task.assignment_status = status
    task.date_updated = now
    if reason:
        task.reason = reason
    task.history.append(TaskTransition(status, reason, now))
    if status in FINAL:
        end_execution(state, task.execution_sid)


def task_url(settings: EmulatorSettings, task: Task) -> str:
    return f"{settings.public_url}/v1/Workspaces/{task.workspace_sid}/Tasks/{task.sid}"


def task_json(settings: EmulatorSettings, task: Task) -> dict[str, Any]:
    workspace = f"{settings.public_url}/v1/Workspaces/{task.workspace_sid}"
    url = task_url(settings, task)
    return {
        "account_sid": settings.twilio_account_sid,
        "age": int((utc_now() - task.date_created).total_seconds()),
        "assignment_status": task.assignment_status,
        "attributes": task.attributes,
        "addons": "{}",
        "date_created": iso(task.date_created),
        "date_updated": iso(task.date_updated),
        "task_queue_entered_date": iso(task.date_created),
        "priority": task.priority,
        "reason": task.reason,
        "sid": task.sid,
        "task_queue_sid": task.task_queue_sid,
        "task_queue_friendly_name": QUEUE_NAME,
        "task_channel_sid": channel_sid(task.workspace_sid, task.task_channel_unique_name),
        "task_channel_unique_name": task.task_channel_unique_name,
        "timeout": task.timeout,
        "workflow_sid": task.workflow_sid,
        "workflow_friendly_name": WORKFLOW_NAME,
        "workspace_sid": task.workspace_sid,
        "url": url,
        "links": {
            "task_queue": f"{workspace}/TaskQueues/{task.task_queue_sid}",
            "workflow": f"{workspace}/Workflows/{task.workflow_sid}",
            "workspace": workspace,
            "reservations": f"{url}/Reservations",
        },
        "virtual_start_time": iso(task.date_created),
        "ignore_capacity": False,
        "routing_target": None,
    }


def _workspace(request: Request, workspace_sid: str) -> str:
    if not is_sid(workspace_sid, "WS"):
        raise not_found(request.url.path)
    return workspace_sid


def find_task(state: EmulatorState, request: Request, workspace_sid: str, sid: str) -> Task:
    task = state.tasks.get(sid)
    if task is None or task.workspace_sid != workspace_sid:
        raise not_found(request.url.path)
    return task


def _integer(form: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = form.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise TwilioError(400, f"{name} must be an integer") from error
    if not low <= value <= high:
        raise TwilioError(400, f"{name} must be between {low} and {high}")
    return value


@router.get("/{workspace_sid}/TaskChannels")
async def list_task_channels(
    workspace_sid: str, request: Request, settings: Settings
) -> dict[str, Any]:
    if not is_sid(workspace_sid, "WS"):
        raise not_found(request.url.path)
    records = [
        {
            "sid": channel_sid(workspace_sid, name),
            "unique_name": name,
            "friendly_name": name.title(),
            "workspace_sid": workspace_sid,
            "account_sid": settings.twilio_account_sid,
        }
        for name in CHANNELS
    ]
    return meta_page(request, settings.public_url, "channels", records)


@router.post("/{workspace_sid}/Tasks", status_code=201)
async def create(
    workspace_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    workspace = _workspace(request, workspace_sid)
    form = await form_fields(request)
    workflow = form.get("WorkflowSid") or None
    if workflow is not None and not is_sid(workflow, "WW"):
        raise TwilioError(400, f"WorkflowSid '{workflow}' is not a valid Workflow SID")
    task = create_task(
        state,
        settings,
        attributes=parse_attributes(form.get("Attributes")),
        workspace_sid=workspace,
        workflow_sid=workflow,
        channel=channel_name(workspace, form.get("TaskChannel") or "default"),
        priority=_integer(form, "Priority", 0, 0, 2**31 - 1),
        timeout=_integer(form, "Timeout", DEFAULT_TIMEOUT, 1, MAX_TIMEOUT),
        trace_id=caller_trace_id(request.headers),
        context=incoming_context(request.headers),
    )
    return task_json(settings, task)


def _statuses(request: Request) -> set[str]:
    wanted: set[str] = set()
    for value in request.query_params.getlist("AssignmentStatus"):
        wanted.update(part.strip() for part in value.split(",") if part.strip())
    return wanted


@router.get("/{workspace_sid}/Tasks")
async def list_tasks(
    workspace_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    workspace = _workspace(request, workspace_sid)
    statuses = _statuses(request)
    workflow = request.query_params.get("WorkflowSid")
    queue = request.query_params.get("TaskQueueSid")
    chosen = [
        task
        for task in state.tasks.values()
        if task.workspace_sid == workspace
        and (not statuses or task.assignment_status in statuses)
        and (not workflow or task.workflow_sid == workflow)
        and (not queue or task.task_queue_sid == queue)
    ]
    ordering = request.query_params.get("Ordering", "DateCreated:asc")
    field, _, direction = ordering.partition(":")
    if field == "Priority":
        chosen.sort(key=lambda task: (task.priority, task.date_created))
    else:
        chosen.sort(key=lambda task: task.date_created)
    if direction == "desc":
        chosen.reverse()
    records = [task_json(settings, task) for task in chosen]
    return meta_page(request, settings.public_url, "tasks", records)


@router.get("/{workspace_sid}/Tasks/{task_sid}")
async def fetch(
    workspace_sid: str, task_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    return task_json(settings, find_task(state, request, workspace_sid, task_sid))


@router.post("/{workspace_sid}/Tasks/{task_sid}")
async def update(
    workspace_sid: str, task_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    task = find_task(state, request, workspace_sid, task_sid)
    form = await form_fields(request)
    if "Attributes" in form:
        task.attributes = json.dumps(parse_attributes(form["Attributes"]))
    if "Priority" in form:
        task.priority = _integer(form, "Priority", task.priority, 0, 2**31 - 1)
    if form.get("TaskChannel"):
        task.task_channel_unique_name = channel_name(task.workspace_sid, form["TaskChannel"])
    if form.get("AssignmentStatus"):
        move_task(
            state,
            task,
            form["AssignmentStatus"],
            form.get("Reason") or None,
            allowed=REST_MOVES,
        )
    task.date_updated = utc_now()
    return task_json(settings, task)


@router.delete("/{workspace_sid}/Tasks/{task_sid}", status_code=204)
async def delete(workspace_sid: str, task_sid: str, request: Request, state: State) -> Response:
    task = find_task(state, request, workspace_sid, task_sid)
    del state.tasks[task.sid]
    return Response(status_code=204)


def task_created_event(task: Task, account_sid: str) -> dict[str, str]:
    """The form of TaskRouter's ``task.created`` event callback."""
    return {
        "AccountSid": account_sid,
        "WorkspaceSid": task.workspace_sid,
        "EventType": "task.created",
        "EventDescription": f"Task {task.sid} created",
        "ResourceType": "task",
        "ResourceSid": task.sid,
        "TaskSid": task.sid,
        "TaskAttributes": task.attributes,
        "TaskAssignmentStatus": task.assignment_status,
        "TaskChannelUniqueName": task.task_channel_unique_name,
        "Timestamp": str(int(task.date_created.timestamp())),
        "TimestampMs": str(int(task.date_created.timestamp() * 1000)),
    }
