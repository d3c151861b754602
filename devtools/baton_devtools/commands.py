"""The developer commands ``baton up``, ``baton emulator``, ``baton sms`` and ``baton call``.

Registered with the product's ``baton`` command through the ``baton.commands`` entry point,
so they exist wherever ``baton-devtools`` is installed and nowhere else.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from emulator.fake_account import CUSTOMER_NUMBER
from emulator.settings import DEFAULT_PORT as EMULATOR_PORT

EMULATOR_URL = f"http://127.0.0.1:{EMULATOR_PORT}"
EMULATOR_EXCLUDED_URLS = ",".join(
    (
        "healthz,readyz,metrics",
        "_emulator/(health|outbox|executions|requests|webhooks|faults)",
        "_emulator/desktop/tasks(/[A-Za-z0-9]+)?$",
        "^https?://[^/]+/desktop(/|$)",
    )
)
"""The emulator's polling (tests, the agent desktop's task list) would drown the handoff spans."""


def instrument_emulator(app: Any, service_name: str = "twilio-emulator") -> None:
    """The emulator's requests as spans: Studio's and TaskRouter's side of a handoff."""
    from libs.platform.tracing import instrument_app

    instrument_app(app, service_name, excluded_urls=EMULATOR_EXCLUDED_URLS, request_metrics=False)


def _up(args: argparse.Namespace) -> None:
    from baton_devtools.stack import run_stack

    run_stack(
        workers=args.workers,
        keep_state=args.keep_state,
        port_base=args.port_base,
        reset_streams=args.reset_streams,
    )


def _emulator(args: argparse.Namespace) -> None:
    import uvicorn

    from baton.trace_store import trace_dir
    from baton_devtools.trace_viewer import trace_viewer_router
    from emulator.app import create_app

    app = create_app()
    instrument_emulator(app)
    app.include_router(trace_viewer_router(trace_dir))
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level.lower(),
        log_config=None,  # through Baton's one log handler
    )


def _sms(args: argparse.Namespace) -> None:
    from baton_devtools.console import send_sms

    replies = send_sms(
        args.text, emulator=args.emulator, customer=args.sender, wait_seconds=args.wait
    )
    if not replies:
        print("(no reply: the conversation may be with a human now)")
    for reply in replies:
        print(f"agent> {reply}")


def _call(args: argparse.Namespace) -> None:
    from baton_devtools.console import place_call

    state = place_call(
        sys.stdin, emulator=args.emulator, caller=args.caller, out=sys.stdout, stay=args.stay
    )
    if state == "failed":
        sys.exit(1)


def register(commands: Any) -> None:
    """Add the developer commands to ``baton``'s subcommands."""
    from baton_devtools.stack import DEFAULT_PORT_BASE

    up = commands.add_parser("up", help="run the whole stack locally (NATS, services, emulator)")
    up.add_argument("--workers", type=int, default=2, help="agent worker processes")
    up.add_argument(
        "--port-base",
        type=int,
        default=DEFAULT_PORT_BASE,
        help="first HTTP port: relay +0, messaging +1, worker +2, dispatcher +3, emulator +10",
    )
    up.add_argument(
        "--keep-state",
        action="store_true",
        help="keep conversations from the last run (the emulator always starts empty)",
    )
    up.add_argument(
        "--reset-streams",
        action="store_true",
        help="empty Baton's streams even on a NATS server that was already running "
        "(by default only a server started by this command is emptied)",
    )
    up.set_defaults(handler=_up)

    emulator = commands.add_parser("emulator", help="run the Twilio emulator and agent desktop")
    emulator.add_argument("--host", default="127.0.0.1", help="address to listen on")
    emulator.add_argument("--port", type=int, default=EMULATOR_PORT, help="HTTP port")
    emulator.set_defaults(handler=_emulator, serves=True, service="twilio-emulator")

    sms = commands.add_parser("sms", help="text the local stack and print the replies")
    sms.add_argument("text", help="what the customer texts")
    sms.add_argument("--from", dest="sender", default=CUSTOMER_NUMBER, help="customer number")
    sms.add_argument("--emulator", default=EMULATOR_URL, help="the emulator's URL")
    sms.add_argument("--wait", type=float, default=10.0, help="seconds to wait for a reply")
    sms.set_defaults(handler=_sms)

    voice = commands.add_parser(
        "call", help="call the local stack through ConversationRelay: type, hear the replies"
    )
    voice.add_argument("--from", dest="caller", default=CUSTOMER_NUMBER, help="caller number")
    voice.add_argument("--emulator", default=EMULATOR_URL, help="the emulator's URL")
    voice.add_argument(
        "--stay", action="store_true", help="stay on the line after the handoff (talk to a human)"
    )
    voice.set_defaults(handler=_call)
