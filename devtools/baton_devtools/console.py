"""``baton sms`` and ``baton call``: talk to the local stack through the emulator.

``baton sms`` sends one text and prints the replies; ``baton call`` places a ConversationRelay
call and speaks each line typed, printing what the bot (and later a human agent) says.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

import httpx

from baton.command_errors import unreachable

NOT_RUNNING = "is the stack running? start it with `baton up` (or pass --emulator URL)"


def send_sms(text: str, *, emulator: str, customer: str, wait_seconds: float) -> list[str]:
    """Send one inbound SMS and return the replies the customer received meanwhile."""
    with httpx.Client(base_url=f"{emulator}/_emulator", timeout=30) as client:
        try:
            before = len(client.get("/outbox", params={"to": customer}).json())
        except httpx.TransportError as error:
            raise unreachable("the emulator", emulator, error, NOT_RUNNING) from error
        sent = client.post("/sms", json={"from": customer, "body": text})
        sent.raise_for_status()
        deadline = time.monotonic() + wait_seconds
        replies: list[str] = []
        while time.monotonic() < deadline:
            outbox = client.get("/outbox", params={"to": customer}).json()
            replies = [str(message["body"]) for message in outbox[before:]]
            if replies:
                time.sleep(0.3)  # a burst may bring more than one
                outbox = client.get("/outbox", params={"to": customer}).json()
                return [str(message["body"]) for message in outbox[before:]]
            time.sleep(0.1)
        return replies


@dataclass
class CallPrinter:
    """Prints what the caller hears, once per transcript line."""

    out: TextIO
    shown: int = 0

    def show(self, call: dict[str, Any]) -> None:
        for line in call["transcript"][self.shown :]:
            role, text = line["role"], line["text"]
            if role in SPEAKERS:
                print(f"{SPEAKERS[role]}> {text}", file=self.out, flush=True)
            elif role == "system":
                print(f"({text.strip('[]')})", file=self.out, flush=True)
        self.shown = len(call["transcript"])


SPEAKERS = {"bot": "bot", "agent": "agent"}
UNANSWERED_FACTOR = 5
"""After the input ends, how many quiet periods an unanswered caller waits before hanging up."""
ENDED = frozenset({"completed", "failed"})


def _typed_lines(lines: Iterable[str], inbox: queue.Queue[str | None]) -> None:
    for line in lines:
        inbox.put(line.rstrip("\n"))
    inbox.put(None)


def _settled(call: dict[str, Any], quiet_since: float, settle_seconds: float) -> bool:
    """Nothing said for a while: the last answer has arrived, or is not coming."""
    transcript = call["transcript"]
    waiting = bool(transcript) and transcript[-1]["role"] == "caller"
    quiet = time.monotonic() - quiet_since
    return quiet >= (UNANSWERED_FACTOR * settle_seconds if waiting else settle_seconds)


def place_call(
    lines: Iterable[str],
    *,
    emulator: str,
    caller: str,
    out: TextIO,
    stay: bool = False,
    poll_seconds: float = 0.2,
    settle_seconds: float = 2.0,
) -> str:
    """A voice call typed in and printed out: each line is spoken to the relay gateway.

    Returns when the bot hands the caller off (``end``; with ``stay`` only when the call
    ends), when the call ends, or — once the input is exhausted and the last answer has
    arrived — after hanging up. Returns the call's final state.
    """
    inbox: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_typed_lines, args=(lines, inbox), daemon=True).start()
    with httpx.Client(base_url=f"{emulator}/_emulator", timeout=30) as client:
        try:
            placed = client.post("/calls", json={"from": caller})
        except httpx.TransportError as error:
            raise unreachable("the emulator", emulator, error, NOT_RUNNING) from error
        placed.raise_for_status()
        sid = placed.json()["call_sid"]
        print(f"(calling {placed.json()['to']} as {caller}: {sid}; Ctrl-D hangs up)", file=out)
        printer = CallPrinter(out)
        typing_done, shown, quiet_since = False, 0, time.monotonic()
        while True:
            call = client.get(f"/calls/{sid}").json()
            if len(call["transcript"]) != shown:
                shown, quiet_since = len(call["transcript"]), time.monotonic()
            printer.show(call)
            if call["state"] in ENDED:
                print(f"(call {call['state']})", file=out)
                return str(call["state"])
            if call["handoff_data"] and call["state"] in ("in-queue", "with-agent") and not stay:
                print(f"(handed off: waiting for a human agent, task {call['task_sid']})", file=out)
                print(f"(answer it at {emulator}/desktop)", file=out)
                return str(call["state"])
            while not typing_done:
                try:
                    typed = inbox.get_nowait()
                except queue.Empty:
                    break
                if typed is None:
                    typing_done = True
                elif typed.strip():
                    client.post(f"/calls/{sid}/say", json={"text": typed.strip(), "wait": True})
            if typing_done and _settled(call, quiet_since, settle_seconds):
                client.post(f"/calls/{sid}/hangup")
                print("(hung up)", file=out)
                return "completed"
            time.sleep(poll_seconds)
