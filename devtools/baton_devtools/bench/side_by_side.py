"""Two versions of Baton measured in turns on one host: the only fair before and after.

On a shared machine the same code's CPU per turn moves by 10–50 % from one run to the
next, so two figures taken an hour apart say little. ``python -m baton_devtools.bench
--against REV`` checks REV out into a temporary git worktree and runs the same rounds
(voice at contact-center pacing, voice saturation, SMS) against REV and against this
checkout in turns, several times each, with this checkout's harness for both; it writes
every round, the medians and the after/before ratios to ``bench-results/side-by-side.json``.
Both versions run on the dependencies installed here.

A round runs in a process of its own started in the version's tree, so that the services
it starts import that version's code (``python -m`` puts the working directory first).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from baton_devtools.bench import throughput

RESULTS = Path("bench-results") / "side-by-side.json"
ROUND_MARK = "BATON-ROUND "

FIGURES: Mapping[str, tuple[str, ...]] = {
    "voice_cpu_ms_per_turn_relay_plus_worker": (
        "voice_saturation",
        "cpu_ms_per_turn_relay_plus_worker",
    ),
    "voice_turns_per_s": ("voice_saturation", "turns_per_s"),
    "first_token_p50_ms": ("voice_pacing", "first_token", "p50_ms"),
    "first_token_p99_ms": ("voice_pacing", "first_token", "p99_ms"),
    "first_token_p50_vs_nats_round_trip": ("voice_pacing", "p50_vs_nats_round_trip"),
    "first_token_p99_vs_nats_round_trip": ("voice_pacing", "p99_vs_nats_round_trip"),
    "first_token_p50_vs_paced_round_trip": ("voice_pacing", "p50_vs_paced_round_trip"),
    "sms_answered_turns_per_s": ("sms", "answered_turns_per_s"),
    "sms_cpu_ms_per_turn_gateway": ("sms", "cpu_ms_per_turn", "messaging-gateway"),
    "sms_cpu_ms_per_turn_worker": ("sms", "cpu_ms_per_turn", "agent-worker"),
}
"""What is compared, and where it is in a round's figures."""


def figure(round_: Mapping[str, Any], path: Sequence[str]) -> float:
    value: Any = round_
    for key in path:
        value = value[key]
    return float(value)


def summary(rounds: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """Per figure: each version's rounds, their medians, and after ÷ before."""
    compared: dict[str, Any] = {}
    for name, path in FIGURES.items():
        before = [figure(r, path) for r in rounds["before"]]
        after = [figure(r, path) for r in rounds["after"]]
        entry: dict[str, Any] = {"before": before, "after": after}
        if before and after:
            entry["median_before"] = round(statistics.median(before), 3)
            entry["median_after"] = round(statistics.median(after), 3)
            entry["after_over_before"] = round(entry["median_after"] / entry["median_before"], 3)
        compared[name] = entry
    return compared


async def one_round(quick: bool) -> dict[str, Any]:
    """One round of the compared figures, on a stack of the working directory's code."""
    sizes = throughput.Sizes.of(quick)
    async with throughput.running_stack() as stack:
        voice_record = await throughput.voice_figures(stack, sizes)
        digital = await throughput.sms(stack, sizes.sms_conversations)
    return {**voice_record, "sms": digital["sms"]}


def run_round(tree: Path, quick: bool) -> dict[str, Any]:
    """One round in a process of its own, its services importing ``tree``'s code."""
    command = [sys.executable, "-m", "baton_devtools.bench.side_by_side"]
    done = subprocess.run(
        [*command, *(["--quick"] if quick else [])],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    marked = [line for line in done.stdout.splitlines() if line.startswith(ROUND_MARK)]
    if done.returncode != 0 or not marked:
        raise RuntimeError(f"a round in {tree} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return dict(json.loads(marked[-1].removeprefix(ROUND_MARK)))


def checkout(revision: str, into: Path) -> Path:
    """``revision`` in a detached worktree under ``into`` (removed with :func:`remove`)."""
    tree = into / "before"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--quiet", str(tree), revision], check=True
    )
    return tree


def remove(tree: Path) -> None:
    subprocess.run(["git", "worktree", "remove", "--force", str(tree)], check=False)


def main(against: str, rounds: int, quick: bool, output: Path = RESULTS) -> dict[str, Any]:
    here = Path.cwd()
    results: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="baton-bench-") as scratch:
        before = checkout(against, Path(scratch))
        try:
            for index in range(rounds):
                for name, tree in (("before", before), ("after", here)):
                    results[name].append(run_round(tree, quick))
                    print(f"round {index + 1}/{rounds}: {name} done", flush=True)
        finally:
            remove(before)
    revision = subprocess.run(
        ["git", "rev-parse", against], capture_output=True, text=True, check=True
    ).stdout.strip()
    compared = summary(results)
    record = {
        "before": revision,
        "after": "this checkout",
        "rounds": rounds,
        "quick": quick,
        "figures": compared,
        "runs": results,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(record, indent=2) + "\n")
    for name, entry in compared.items():
        print(f"{name:45} {entry.get('median_before')!s:>9} → {entry.get('median_after')!s:>9}")
    print(f"written to {output}")
    return record


if __name__ == "__main__":  # one round, run by run_round in the version's tree
    measured = asyncio.run(one_round(quick="--quick" in sys.argv[1:]))
    print(ROUND_MARK + json.dumps(measured), flush=True)
