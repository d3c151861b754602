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

    instrument_app(app, service_name, excluded_urls=EMULATOR_EXCLUDED_URLS)


def _up(args: argparse.Namespace) -> None:
    from baton_devtools.stack import run_stack

    run_stack(workers=args.workers, keep_state=args.keep_state)


def _emulator(args: argparse.Namespace) -> None:
    import uvicorn

    from emulator.app import create_app

    app = create_app()
    instrument_emulator(app)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level.lower())


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
    up = commands.add_parser("up", help="run the whole stack locally (NATS, services, emulator)")
    up.add_argument("--workers", type=int, default=2, help="agent worker processes")
    up.add_argument(
        "--keep-state",
        action="store_true",
        help="keep conversations from the last run (the emulator always starts empty)",
    )
    up.set_defaults(handler=_up)

    emulator = commands.add_parser("emulator", help="run the Twilio emulator and agent desktop")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=EMULATOR_PORT)
    emulator.set_defaults(handler=_emulator)

    sms = commands.add_parser("sms", help="text the local stack and print the replies")
    sms.add_argument("text")
    sms.add_argument("--from", dest="sender", default=CUSTOMER_NUMBER)
    sms.add_argument("--emulator", default=EMULATOR_URL)
    sms.add_argument("--wait", type=float, default=10.0, help="seconds to wait for a reply")
    sms.set_defaults(handler=_sms)

    voice = commands.add_parser(
        "call", help="call the local stack through ConversationRelay: type, hear the replies"
    )
    voice.add_argument("--from", dest="caller", default=CUSTOMER_NUMBER)
    voice.add_argument("--emulator", default=EMULATOR_URL)
    voice.add_argument(
        "--stay", action="store_true", help="stay on the line after the handoff (talk to a human)"
    )
    voice.set_defaults(handler=_call)
