"""The alert rules as Prometheus itself reads them: ``promtool check rules`` on every rule
file, and ``promtool test rules`` cases that make the first-day alerts fire on made-up series.

``promtool`` comes with Debian's ``prometheus`` package (``make test`` installs it when it
can); without it these tests are skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.k8s_objects import REPO

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")

ALERTS = REPO / "deploy" / "observability" / "alerts.yaml"
CASES = Path(__file__).parent / "alerts" / "baton_alerts_test.yaml"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120)


def test_promtool_accepts_the_alert_rules() -> None:
    checked = promtool("check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_first_day_alerts_fire_on_their_symptoms() -> None:
    tested = promtool("test", "rules", str(CASES))
    assert tested.returncode == 0, tested.stdout + tested.stderr
