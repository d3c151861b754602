"""``make mutate`` names modules and tests that exist, and equivalents that still apply."""

from __future__ import annotations

import json
import re
from pathlib import Path

from baton_devtools.mutation.runner import EQUIVALENT, toml_config
from baton_devtools.mutation.targets import EXCLUDED_OPERATORS, GROUPS

ROOT = Path(__file__).parent.parent


def test_every_group_names_modules_and_tests_that_exist() -> None:
    for group in GROUPS:
        for path in (*group.modules, *group.tests):
            assert (ROOT / path).is_file(), f"{group.name}: {path}"


def test_every_invariant_module_is_mutated_once() -> None:
    modules = [module for group in GROUPS for module in group.modules]
    assert len(modules) == len(set(modules))
    for required in (
        "libs/contracts/conversation.py",
        "libs/platform/conversation_store.py",
        "libs/platform/consuming.py",
        "services/agent_worker/turn_lease.py",
        "services/relay_gateway/calls.py",
        "services/messaging_gateway/reply_records.py",
        "services/messaging_gateway/replies.py",
        "services/handoff_dispatcher/delivery.py",
        "services/handoff_dispatcher/outcome.py",
        "services/handoff_dispatcher/studio.py",
    ):
        assert required in modules


def test_every_equivalent_mutant_names_a_line_that_is_still_there() -> None:
    for entry in json.loads(EQUIVALENT.read_text()):
        source = (ROOT / entry["module"]).read_text()
        assert entry["source"] in source, entry
        assert entry["reason"].strip(), entry


def test_the_operator_filter_leaves_boundary_and_negation_mutants() -> None:
    pattern = re.compile("|".join(f"(?:{e})" for e in EXCLUDED_OPERATORS))
    assert pattern.match("core/ReplaceBinaryOperator_BitOr_Add"), "annotation unions are noise"
    for kept in (
        "core/ReplaceComparisonOperator_Lt_LtE",
        "core/ReplaceComparisonOperator_Eq_NotEq",
        "core/ReplaceBinaryOperator_Add_Sub",
        "core/NumberReplacer",
        "core/AddNot",
    ):
        assert not pattern.match(kept), kept


def test_the_session_config_runs_the_groups_tests() -> None:
    config = toml_config(GROUPS[0], "python")
    assert 'module-path = ["libs/contracts/conversation.py"' in config
    assert "tests/test_conversation_state_machine.py" in config


def test_mutate_is_not_part_of_make_test() -> None:
    makefile = (ROOT / "Makefile").read_text()
    test_line = re.search(r"^test: (.*)$", makefile, re.MULTILINE)
    assert test_line and "mutate" not in test_line.group(1)
    assert "baton_devtools.mutation ." in makefile
