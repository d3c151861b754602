"""The short chaos run (``python -m baton_devtools.chaos --quick``): every goal line reads 0.

Real processes on a real nats-server and the emulator: worker replicas and dispatchers
SIGKILLed, nats-server killed and restarted, Studio and Messages failing, while customers text.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from baton_devtools.chaos.tally import ZERO_GOALS


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_quick_chaos_run_reads_all_zeros(tmp_path: Path) -> None:
    results = tmp_path / "chaos.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "baton_devtools.chaos",
            "--quick",
            "--results",
            str(results),
            "--workdir",
            str(tmp_path / "work"),
        ],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert results.exists(), run.stdout + run.stderr
    document = json.loads(results.read_text())
    scenarios = {scenario["scenario"]: scenario for scenario in document["scenarios"]}
    assert {"workers-killed", "dispatchers-killed", "nats-killed-3s"} <= set(scenarios)
    for name, figures in scenarios.items():
        assert figures["turns_answered"] > 0 and figures["handoffs"] > 0, name
        dirty = {goal: figures[goal] for goal in ZERO_GOALS if figures[goal]}
        assert not dirty, f"{name}: {dirty}\n{run.stdout}"
    assert run.returncode == 0, run.stdout + run.stderr
