"""``baton studio``: deploy the shipped Agent Handoff flow to your Studio flow.

``deploy/studio/agent-handoff.json`` is the flow for deployments with the Conversation
Orchestrator (``TWILIO_CONVERSATION_CONFIGURATION_ID`` set); ``agent-handoff-classic.json``
for Programmable Messaging and Conversations (classic) without it. Account-specific values are
``${NAME}`` placeholders: the Flex workspace and workflow (given), the voice and chat task
channels (looked up in the workspace by unique name) and the configuration. The definition is
checked with Studio's validator, then published to ``TWILIO_STUDIO_HANDOFF_FLOW_SID`` as a new
revision, through Twilio's Studio v2 Flows API (``TWILIO_API_BASE_URL`` applies).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from pathlib import Path
from typing import Any

from pydantic import Field

from libs.platform.settings import FLOW_SID_PATTERN, TwilioApiKeySettings, load_settings
from libs.platform.twilio_rest import TwilioProduct, TwilioRestClient

FLOWS = {"orchestrator": "agent-handoff.json", "classic": "agent-handoff-classic.json"}
PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")
STUDIO_DIRECTORY = Path(__file__).resolve().parents[1] / "deploy" / "studio"


class StudioDeploySettings(TwilioApiKeySettings):
    twilio_studio_handoff_flow_sid: str = Field(pattern=FLOW_SID_PATTERN)
    """The Studio flow (``FW…``) built from the "Agent Handoff" template."""


class StudioDeployError(Exception):
    """The flow could not be deployed; the message says why."""


def fill(text: str, values: dict[str, str]) -> dict[str, Any]:
    """The definition with every ``${NAME}`` filled in; a missing value is an error."""
    missing = sorted({name for name in PLACEHOLDER.findall(text) if not values.get(name)})
    if missing:
        raise StudioDeployError(f"no value for {', '.join(missing)}")
    filled: dict[str, Any] = json.loads(PLACEHOLDER.sub(lambda m: values[m.group(1)], text))
    return filled


def default_mode(settings: TwilioApiKeySettings) -> str:
    return "orchestrator" if settings.twilio_conversation_configuration_id else "classic"


async def task_channels(rest: TwilioRestClient, workspace: str) -> dict[str, str]:
    """The workspace's task channel SIDs by unique name (``voice``, ``chat``, …)."""
    response = await rest.get(
        "taskrouter.task_channel.list",
        TwilioProduct.TASKROUTER,
        f"/v1/Workspaces/{workspace}/TaskChannels",
        {"PageSize": "50"},
    )
    if not response.is_success:
        raise StudioDeployError(f"task channels of {workspace}: {response.status_code}")
    return {c["unique_name"]: c["sid"] for c in response.json().get("channels", [])}


async def deploy(
    settings: StudioDeploySettings,
    rest: TwilioRestClient,
    *,
    mode: str,
    workspace: str,
    workflow: str,
    directory: Path = STUDIO_DIRECTORY,
) -> dict[str, Any]:
    """Validate and publish the flow; returns Studio's flow resource."""
    channels = await task_channels(rest, workspace)
    values = {
        "FLEX_WORKSPACE_SID": workspace,
        "FLEX_WORKFLOW_SID": workflow,
        "FLEX_VOICE_CHANNEL_SID": channels.get("voice", ""),
        "FLEX_CHAT_CHANNEL_SID": channels.get("chat", ""),
        "TWILIO_CONVERSATION_CONFIGURATION_ID": settings.twilio_conversation_configuration_id or "",
    }
    definition = fill((directory / FLOWS[mode]).read_text(), values)
    form = {
        "FriendlyName": "Agent Handoff (Baton)",
        "Status": "published",
        "Definition": json.dumps(definition),
        "CommitMessage": f"baton studio deploy ({mode})",
    }
    checked = await rest.post_form(
        "studio.flow.validate", TwilioProduct.STUDIO, "/v2/Flows/Validate", form
    )
    if not checked.is_success:
        raise StudioDeployError(f"Studio refused the definition: {checked.text}")
    flow_sid = settings.twilio_studio_handoff_flow_sid
    published = await rest.post_form(
        "studio.flow.update", TwilioProduct.STUDIO, f"/v2/Flows/{flow_sid}", form
    )
    if not published.is_success:
        raise StudioDeployError(f"Studio refused the update: {published.text}")
    result: dict[str, Any] = published.json()
    return result


def run_deploy(args: argparse.Namespace) -> None:
    settings = load_settings(StudioDeploySettings)
    mode = args.mode or default_mode(settings)

    async def publish() -> dict[str, Any]:
        rest = TwilioRestClient.for_api_key(settings)
        try:
            return await deploy(
                settings, rest, mode=mode, workspace=args.workspace, workflow=args.workflow
            )
        finally:
            await rest.aclose()

    try:
        flow = asyncio.run(publish())
    except StudioDeployError as error:
        raise SystemExit(f"baton studio: {error}") from error
    print(f"published {FLOWS[mode]} to {flow['sid']} (revision {flow['revision']})")


def register(commands: Any) -> None:
    studio = commands.add_parser("studio", help="the Agent Handoff Studio flow")
    actions = studio.add_subparsers(dest="studio_command", required=True)
    deploy_command = actions.add_parser(
        "deploy", help="validate and publish deploy/studio's flow to TWILIO_STUDIO_HANDOFF_FLOW_SID"
    )
    deploy_command.add_argument(
        "--mode",
        choices=sorted(FLOWS),
        help="default: orchestrator with TWILIO_CONVERSATION_CONFIGURATION_ID, else classic",
    )
    deploy_command.add_argument("--workspace", required=True, help="Flex workspace (WS…)")
    deploy_command.add_argument("--workflow", required=True, help="TaskRouter workflow (WW…)")
    deploy_command.set_defaults(handler=run_deploy)
