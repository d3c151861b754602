"""What README.md and docs/ say about behaviour is what the code does."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

from baton_devtools.bench import voice
from baton_devtools.readme_sync import README, synced
from libs.contracts.messages import HandoffFailure
from libs.platform.consumer_lag import ConsumerLag
from libs.platform.metrics import HANDOFF_BUCKETS, VOICE_TURN_BUCKETS
from libs.platform.streams import DUPLICATE_WINDOW_SECONDS, stream_configs
from services.agent_worker.settings import AgentWorkerSettings
from services.handoff_dispatcher import voice_end
from services.handoff_dispatcher.settings import HandoffDispatcherSettings
from tests.support.expected import SUMMARY_LIMIT

DOCS = Path(__file__).parent.parent / "docs"


def prose(path: Path) -> str:
    """The document with its line breaks folded, so a claim reads as one string."""
    return " ".join(path.read_text().split())


def figure(seconds: float) -> str:
    """``0.25`` → ``0.25``, ``2.0`` → ``2``: how the docs write bucket edges."""
    return f"{seconds:g}"


def test_readme_configuration_table_matches_the_settings() -> None:
    text = README.read_text()
    assert text == synced(text), "run `make docs` to regenerate the configuration table"


def test_the_typed_failures_named_are_the_real_ones() -> None:
    readme = prose(README)
    listed = re.search(r"typed failures \(([^)]*)\)", readme)
    assert listed is not None
    assert re.findall(r"`(\w+)`", listed.group(1)) == [f.value for f in HandoffFailure]
    sections = re.findall(r"^### (\w+)$", (DOCS / "operations.md").read_text(), re.MULTILINE)
    assert [s for s in sections if s.islower()] == [f.value for f in HandoffFailure]


def test_stream_retention_and_duplicate_window_are_the_declared_ones() -> None:
    architecture = (DOCS / "architecture.md").read_text()
    for config in stream_configs(1):
        hours = (config.max_age or 0) / 3600
        age = f"{hours:g} h" if hours <= 72 else f"{hours / 24:g} d"
        row = next(line for line in architecture.splitlines() if f"| `{config.name}` |" in line)
        assert f"({age})" in row or f", {age})" in row, (config.name, age, row)
    minutes = DUPLICATE_WINDOW_SECONDS // 60
    assert f"a {minutes}-minute `duplicate_window`" in prose(DOCS / "architecture.md")
    assert f"the last {minutes} minutes" in prose(DOCS / "operations.md")


def test_the_runbook_figures_are_the_codes() -> None:
    text = prose(DOCS / "operations.md")
    handoff = ", ".join(figure(edge) for edge in HANDOFF_BUCKETS)
    assert f"Handoff buckets (s): {handoff}." in text
    low, high = VOICE_TURN_BUCKETS[0], VOICE_TURN_BUCKETS[VOICE_TURN_BUCKETS.index(1.5)]
    after = ", ".join(figure(e) for e in VOICE_TURN_BUCKETS[VOICE_TURN_BUCKETS.index(1.5) + 1 :])
    assert f"Voice turn buckets (s): {figure(low)} to {figure(high)}" in text
    assert f"then {after}." in text
    every = inspect.signature(ConsumerLag).parameters["every_seconds"].default
    assert f"every replica samples it every {figure(every)} s" in text
    assert voice_end.ATTEMPTS == 3 and "(three tries)" in text
    assert f"`make bench` sends {voice.CALLS * voice.TURNS_PER_CALL} prompt frames" in text


def test_the_agent_guide_gives_the_settings_real_defaults() -> None:
    section = (DOCS / "agent.md").read_text().split("## Configuration", 1)[1].split("\n## ")[0]
    fields = {
        **HandoffDispatcherSettings.model_fields,
        **AgentWorkerSettings.model_fields,
    }
    checked = 0
    for name, default in re.findall(r"^\| `([A-Z_]+)` \| `([^`]*)` \|", section, re.MULTILINE):
        value = fields[name.lower()].get_default(call_default_factory=True)
        if isinstance(value, dict):
            shown = json.dumps(value)
        else:
            shown = value if isinstance(value, str) else figure(value)
        assert shown == default, name
        checked += 1
    assert checked >= 6
    assert f"at most {SUMMARY_LIMIT} characters" in prose(DOCS / "agent.md")


def test_every_test_the_testing_guide_names_exists() -> None:
    """``tests/…py::name`` (and ``…::name``, in the file named before it) in docs/testing.md."""
    root = DOCS.parent
    named = re.findall(r"`(tests/[\w/]+\.py|…)(?:::(\w+))?`", (DOCS / "testing.md").read_text())
    assert len(named) >= 20
    current = ""
    for path, name in named:
        current = current if path == "…" else path
        source = (root / current).read_text()
        if name:
            assert re.search(rf"^(async )?def {name}\(", source, re.MULTILINE), f"{current}::{name}"
