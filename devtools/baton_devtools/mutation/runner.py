"""``make mutate``: cosmic-ray over the invariant modules, each group against its unit tests.

Each group is one cosmic-ray session (``init``, the operator filter, ``exec``); the results
are read back with ``cosmic-ray dump``. A mutant is *killed* when its tests fail or time out,
*survived* when they pass. A survivor listed in ``equivalent.json`` (by module, operator and
the source line it changes) is a change no caller could observe, with the reason.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from baton_devtools.mutation.targets import EXCLUDED_OPERATORS, GROUPS, TIMEOUT_SECONDS, Group

EQUIVALENT = Path(__file__).with_name("equivalent.json")
SESSIONS = ".mutation"
"""cosmic-ray's session databases, kept between runs (for ``--survivors``)."""
KILLED = frozenset({"killed", "incompetent"})
"""``incompetent``: the mutant could not even be imported or the test run crashed."""


@dataclass
class Mutant:
    module: str
    operator: str
    line: int
    source: str
    outcome: str
    """``killed``, ``survived`` or ``equivalent`` (survived, listed with its reason)."""
    reason: str = ""


@dataclass
class ModuleScore:
    module: str
    mutants: int = 0
    killed: int = 0
    equivalent: int = 0
    survivors: list[Mutant] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Killed share of the mutants that are not equivalent."""
        counted = self.mutants - self.equivalent
        return 1.0 if counted == 0 else self.killed / counted


def toml_config(group: Group, python: str) -> str:
    modules = ", ".join(json.dumps(m) for m in group.modules)
    tests = " ".join(group.tests)
    excluded = ", ".join(json.dumps(e) for e in EXCLUDED_OPERATORS)
    command = f"{python} -m pytest -x -q -p no:cacheprovider {tests}"
    return (
        "[cosmic-ray]\n"
        f"module-path = [{modules}]\n"
        f"timeout = {TIMEOUT_SECONDS}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(command)}\n"
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
        "[cosmic-ray.filters.operators-filter]\n"
        f"exclude-operators = [{excluded}]\n"
    )


def session_path(group: Group, sessions: Path) -> Path:
    return sessions / f"{group.name.replace(' ', '-')}.sqlite"


def forget_survivors(session: Path, root: Path, known: dict[tuple[str, str, str], str]) -> int:
    """Mark the session's survivors not listed as equivalent as not run yet; how many."""
    query = (
        "SELECT r.job_id, m.module_path, m.operator_name, m.start_pos_row "
        "FROM work_results r JOIN mutation_specs m ON m.job_id = r.job_id "
        "WHERE r.test_outcome = 'SURVIVED'"
    )
    with contextlib.closing(sqlite3.connect(session)) as db, db:
        again = [
            (job,)
            for job, module, operator, row in db.execute(query).fetchall()
            if (module, operator.removeprefix("core/"), source_line(root, module, row)) not in known
        ]
        db.executemany("DELETE FROM work_results WHERE job_id = ?", again)
    return len(again)


def source_line(root: Path, module: str, row: int) -> str:
    return (root / module).read_text().splitlines()[row - 1].strip()


def run_group(
    group: Group,
    root: Path,
    sessions: Path,
    *,
    survivors_only: bool = False,
    report_only: bool = False,
) -> list[tuple[dict[str, Any], Any]]:
    """Run one group's session; the (work item, result) pairs cosmic-ray recorded.

    With ``survivors_only`` the last session is kept and only its survivors are tried again
    (after new tests were written to kill them); with ``report_only`` nothing is run, the
    last session is only read again.
    """
    bin_dir = Path(sys.executable).parent
    session = session_path(group, sessions)
    config = session.with_suffix(".toml")
    config.write_text(toml_config(group, sys.executable))
    commands: list[list[Any]] = [[bin_dir / "cosmic-ray", "exec", config, session]]
    if report_only and session.exists():
        commands = []
    elif survivors_only and session.exists():
        again = forget_survivors(session, root, equivalents())
        print(f"   {again} survivors tried again", flush=True)
    else:
        session.unlink(missing_ok=True)
        commands[:0] = [
            [bin_dir / "cosmic-ray", "init", config, session],
            [bin_dir / "cr-filter-operators", session, config],
        ]
    for command in commands:
        subprocess.run([str(part) for part in command], cwd=root, check=True)
    dump = subprocess.run(
        [str(bin_dir / "cosmic-ray"), "dump", str(session)],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    )
    pairs = [json.loads(line) for line in dump.stdout.splitlines() if line.strip()]
    return [(item, result) for item, result in pairs]


def equivalents() -> dict[tuple[str, str, str], str]:
    entries = json.loads(EQUIVALENT.read_text())
    return {(e["module"], e["operator"], e["source"]): e["reason"] for e in entries}


def classify(
    items: list[tuple[dict[str, Any], Any]], root: Path, known: dict[tuple[str, str, str], str]
) -> list[Mutant]:
    mutants: list[Mutant] = []
    lines: dict[str, list[str]] = {}
    for item, result in items:
        if result is None or result.get("worker_outcome") == "skipped":
            continue
        [mutation] = item["mutations"]
        module = mutation["module_path"]
        text = lines.setdefault(module, (root / module).read_text().splitlines())
        line = int(mutation["start_pos"][0])
        source = text[line - 1].strip()
        operator = mutation["operator_name"].removeprefix("core/")
        outcome = "killed" if result.get("test_outcome") in KILLED else "survived"
        if result.get("worker_outcome") not in ("normal", None):
            outcome = "killed"  # the mutant crashed or timed out: the tests noticed
        reason = ""
        if outcome == "survived" and (module, operator, source) in known:
            outcome, reason = "equivalent", known[(module, operator, source)]
        mutants.append(Mutant(module, operator, line, source, outcome, reason))
    return mutants


def scores(mutants: list[Mutant]) -> list[ModuleScore]:
    by_module: dict[str, ModuleScore] = {}
    for mutant in mutants:
        score = by_module.setdefault(mutant.module, ModuleScore(mutant.module))
        score.mutants += 1
        if mutant.outcome == "killed":
            score.killed += 1
        elif mutant.outcome == "equivalent":
            score.equivalent += 1
        else:
            score.survivors.append(mutant)
    return sorted(by_module.values(), key=lambda s: s.module)


def module_entry(score: ModuleScore, mutants: list[Mutant]) -> dict[str, Any]:
    return {
        "module": score.module,
        "mutants": score.mutants,
        "killed": score.killed,
        "equivalent": score.equivalent,
        "score": round(score.score, 4),
        "survivors": [asdict(s) for s in score.survivors],
        "equivalents": [
            asdict(m) for m in mutants if m.module == score.module and m.outcome == "equivalent"
        ],
    }


def report(modules: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over every module's latest run."""
    modules = sorted(modules, key=lambda m: str(m["module"]))
    counted = sum(int(m["mutants"]) - int(m["equivalent"]) for m in modules)
    killed = sum(int(m["killed"]) for m in modules)
    return {
        "tool": "cosmic-ray 8.7.0",
        "score": round(killed / counted, 4) if counted else 1.0,
        "mutants": sum(int(m["mutants"]) for m in modules),
        "killed": killed,
        "equivalent": sum(int(m["equivalent"]) for m in modules),
        "survived": counted - killed,
        "modules": modules,
    }


def merged(out: Path, fresh: list[dict[str, Any]]) -> dict[str, Any]:
    """This run's modules, and the last run's for modules not run this time."""
    previous = json.loads(out.read_text()).get("modules", []) if out.exists() else []
    names = {m["module"] for m in fresh}
    return report([m for m in previous if m["module"] not in names] + fresh)


def print_report(result: dict[str, Any], out: Path) -> None:
    for m in result["modules"]:
        counted = m["mutants"] - m["equivalent"]
        print(f"{m['score']:6.1%}  {m['killed']:4}/{counted:<4} {m['module']}")
    print(
        f"mutation score {result['score']:.1%} ({result['killed']} of "
        f"{result['killed'] + result['survived']} killed, {result['equivalent']} equivalent)"
    )
    for m in result["modules"]:
        for survivor in m["survivors"]:
            print(
                f"survived: {survivor['module']}:{survivor['line']} {survivor['operator']}: "
                f"{survivor['source']}"
            )
    print(f"written to {out}")


def main(argv: list[str] | None = None) -> int:
    """``python -m baton_devtools.mutation ROOT [--survivors | --report] [GROUP...]``.

    Every group, or those named; ``--survivors`` tries only the last run's survivors again,
    ``--report`` reads the last run's results again (after ``equivalent.json`` changed).
    """
    args = argv if argv is not None else sys.argv[1:]
    survivors_only = "--survivors" in args
    report_only = "--report" in args
    args = [a for a in args if a not in ("--survivors", "--report")]
    root = Path(args[0] if args else ".").resolve()
    only = set(args[1:])
    unknown = only - {group.name for group in GROUPS}
    if unknown:
        print(f"no such group: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    out = root / "bench-results" / "mutation.json"
    sessions = root / SESSIONS
    sessions.mkdir(exist_ok=True)
    known = equivalents()
    for group in GROUPS:
        if only and group.name not in only:
            continue
        print(f"== {group.name}: {', '.join(group.modules)}", flush=True)
        items = run_group(
            group, root, sessions, survivors_only=survivors_only, report_only=report_only
        )
        mutants = classify(items, root, known)
        fresh = [module_entry(score, mutants) for score in scores(mutants)]
        result = merged(out, fresh)
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    print_report(json.loads(out.read_text()), out)
    return 0
