"""The Dockerfile builds one non-root image holding every package the project installs, and
the build context carries nothing else."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass, field

from tests.deploy.k8s_objects import REPO

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, instruction: str) -> list[str]:
        return [args for keyword, args in self.instructions if keyword == instruction]


def parse_dockerfile() -> tuple[dict[str, str], list[Stage]]:
    """Build args (with defaults) and stages; continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    build_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "ARG" and not stages:
            name, _, default = args.partition("=")
            build_args[name] = default
        elif keyword == "FROM":
            base, _, name = args.partition(" AS ")
            base = re.sub(r"\$\{(\w+)\}", lambda m: build_args[m[1]], base.strip())
            stages.append(Stage(base, name.strip() or None))
        else:
            stages[-1].instructions.append((keyword, args))
    return build_args, stages


def test_multi_stage_build_on_python_311_slim() -> None:
    _, stages = parse_dockerfile()
    builder, runtime = stages[0], stages[-1]
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11"
    for stage in (builder, runtime):
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", stage.base), stage.base
    assert builder.name == "builder"
    assert any("python -m venv /opt/baton" in run for run in builder.arguments("RUN"))
    assert any(run.startswith("pip install --no-deps .") for run in builder.arguments("RUN"))
    assert "--from=builder /opt/baton /opt/baton" in runtime.arguments("COPY")


def test_runtime_runs_as_an_unprivileged_user() -> None:
    _, stages = parse_dockerfile()
    runtime = stages[-1]
    (user,) = runtime.arguments("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, "numeric, so runAsNonRoot can verify it"
    assert any(f"--uid {uid}" in run for run in runtime.arguments("RUN"))
    (command,) = runtime.arguments("CMD")
    assert command.startswith('["baton"')
    assert not runtime.arguments("ENTRYPOINT"), "the command alone picks the service"
    for env in runtime.arguments("ENV"):
        assert not re.search(r"(TOKEN|SECRET|API_KEY|PASSWORD)", env), "no secrets in the image"


def test_image_holds_every_package_setuptools_installs() -> None:
    _, stages = parse_dockerfile()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = {args.split()[0] for args in stages[0].arguments("COPY")}
    assert packages <= copied


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        candidates = [pattern, f"{pattern}/**"]
        if pattern.startswith("**/"):
            candidates += [pattern[3:], f"{pattern[3:]}/**"]
        if any(fnmatch.fnmatch(path, c) for c in candidates):
            ignored = not negate
    return ignored


def test_build_context_sends_only_what_the_image_needs() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    _, stages = parse_dockerfile()
    for stage in stages:
        for args in stage.arguments("COPY"):
            if args.startswith("--from"):
                continue
            source = args.split()[0]
            if "[" in source:  # optional file, e.g. README.m[d]
                continue
            probe = source if "." in source else f"{source}/__init__.py"
            assert not _ignored(probe, patterns), f"COPY {source} is excluded by .dockerignore"
    for private in (".env", ".git/config", ".venv/bin/python", ".baton/nats/x", "tests/test_x.py"):
        assert _ignored(private, patterns), f"{private} would be sent to the builder"
    for tool in ("devtools/emulator/app.py", "devtools/baton_devtools/stack.py"):
        assert _ignored(tool, patterns), f"{tool}: developer tools stay out of the product image"
    copied = [args for stage in stages for args in stage.arguments("COPY")]
    assert not [args for args in copied if "devtools" in args or "emulator" in args]
    assert _ignored("libs/__pycache__/settings.cpython-311.pyc", patterns)
