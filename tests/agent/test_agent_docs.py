"""``docs/agent.md``: its examples compile, import what exists, and the tool example runs."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "agent.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)


def test_every_example_compiles_and_imports_real_names() -> None:
    assert len(BLOCKS) >= 5
    for block in BLOCKS:
        tree = ast.parse(block)
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                ("libs", "services")
            ):
                exec(compile(ast.Module([node], []), str(DOC), "exec"), {})


async def test_the_tool_example_hides_the_injected_parameter() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(BLOCKS[1], str(DOC), "exec"), namespace)
    tool = namespace["order_status"]
    assert list(tool.params_json_schema["properties"]) == ["order_id"]
    assert await tool(order_id="5512", orders="forged") == {
        "order_id": "5512",
        "status": "shipped",
    }
