"""The tool API keeps Twilio Agent Connect's names and semantics."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import pytest
from pydantic import Field

from services.agent_worker.tac.tools import InjectedToolArg, create_tool, function_tool


class Directory:
    def lookup(self, name: str) -> str:
        return f"{name}@example.com"


async def find_contact(
    name: Annotated[str, Field(description="Who to look up")],
    limit: int = 3,
    department: str | None = None,
    directory: Annotated[Directory, InjectedToolArg] = None,  # type: ignore[assignment]
) -> dict[str, Any]:
    """Find a colleague's address."""
    return {"address": directory.lookup(name), "limit": limit, "department": department}


def test_schema_comes_from_type_hints_without_injected_parameters() -> None:
    tool = function_tool()(find_contact)
    assert tool.name == "find_contact"
    assert tool.description == "Find a colleague's address."
    assert tool.params_json_schema == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Who to look up"},
            "limit": {"type": "integer"},
            "department": {"type": "string"},
        },
        "required": ["name"],
    }
    assert "title" not in str(tool.params_json_schema)


def test_export_formats() -> None:
    tool = function_tool(name="contact", description="Look a colleague up.")(find_contact)
    assert tool.to_openai_format() == {
        "type": "function",
        "function": {
            "name": "contact",
            "description": "Look a colleague up.",
            "parameters": tool.params_json_schema,
        },
    }
    assert tool.to_anthropic_format() == {
        "name": "contact",
        "description": "Look a colleague up.",
        "input_schema": tool.params_json_schema,
    }
    assert tool.to_realtime_format()["name"] == "contact"


async def test_injected_values_win_and_caller_collisions_are_dropped() -> None:
    tool = function_tool()(find_contact).configure_injection(directory=Directory())
    result = await tool(name="ada", directory="attacker", priority="urgent")
    assert result == {"address": "ada@example.com", "limit": 3, "department": None}


async def test_implementation_has_a_clean_signature() -> None:
    tool = function_tool()(find_contact).configure_injection(directory=Directory())
    assert list(inspect.signature(tool.implementation).parameters) == [
        "name",
        "limit",
        "department",
    ]
    assert await tool.implementation("grace") == {
        "address": "grace@example.com",
        "limit": 3,
        "department": None,
    }


def test_injection_is_checked() -> None:
    tool = function_tool()(find_contact)
    with pytest.raises(TypeError, match="directory"):
        tool.configure_injection(directory="not a directory")
    with pytest.raises(ValueError, match="Unknown injected parameter"):
        tool.configure_injection(client=object())


def test_a_description_is_required() -> None:
    def undocumented(value: str) -> str:
        return value

    with pytest.raises(ValueError, match="docstring or description"):
        function_tool()(undocumented)


async def test_create_tool_with_an_explicit_schema_and_a_sync_function() -> None:
    schema: dict[str, object] = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    }
    tool = create_tool("weather", "Today's weather.", schema, lambda city: f"sunny in {city}")
    assert await tool(city="Paris") == "sunny in Paris"
    assert tool.to_openai_format()["function"] == {
        "name": "weather",
        "description": "Today's weather.",
        "parameters": schema,
    }
