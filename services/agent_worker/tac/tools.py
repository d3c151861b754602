"""Tools for the model, with Twilio Agent Connect's API: same names, same semantics.

Code written for TAC's ``tac.tools`` ports by changing the import. A tool is a function
plus the JSON schema the model sees. Parameters marked ``Annotated[T, InjectedToolArg]``
are hidden from that schema and supplied by the application with
:meth:`TACTool.configure_injection`, so the model can never choose them: a model argument
named like an injected parameter is dropped, and injected values are merged last.

One deliberate difference: arguments the function does not take (a model inventing
``priority`` for the handoff tool) are dropped with a warning instead of raising
``TypeError``, because providers differ in whether they reject undeclared properties.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import types
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Union, cast, get_args, get_origin, get_type_hints

from pydantic import BaseModel, TypeAdapter

log = logging.getLogger("baton.tools")

ToolFunction = Callable[..., object]
"""A sync or async function implementing a tool."""


class InjectedToolArg:
    """Marks a parameter the application supplies: ``Annotated[T, InjectedToolArg]``."""


@dataclass
class TACTool:
    """A function the model may call, its description and its parameters' JSON schema."""

    name: str
    description: str
    params_json_schema: dict[str, object]
    _raw_implementation: ToolFunction = field(repr=False)
    _injected_args: dict[str, object] = field(default_factory=dict, init=False, repr=False)
    _injected_param_types: dict[str, object] = field(default_factory=dict, init=False, repr=False)
    _cached_callable: Callable[..., Awaitable[object]] | None = field(
        default=None, init=False, repr=False
    )

    def configure_injection(self, **kwargs: object) -> TACTool:
        """Supply injected parameters; checked against their annotations. Returns ``self``.

        Raises ``ValueError`` for a name that is not an injected parameter and
        ``TypeError`` for a value that does not match its annotation.
        """
        for name, value in kwargs.items():
            if name not in self._injected_param_types:
                raise ValueError(
                    f"Unknown injected parameter '{name}'. "
                    f"Expected one of: {sorted(self._injected_param_types)}"
                )
            _check_injected_value(name, self._injected_param_types[name], value)
        self._injected_args.update(kwargs)
        self._cached_callable = None
        return self

    async def __call__(self, **kwargs: object) -> object:
        """Run the tool with the caller's arguments and the application's injected values."""
        reserved = self._injected_param_types.keys() & kwargs.keys()
        dropped = reserved | (kwargs.keys() - self._accepted_names())
        if dropped:
            log.warning(
                "tool %s: dropped arguments the caller may not set: %s", self.name, sorted(dropped)
            )
            kwargs = {name: value for name, value in kwargs.items() if name not in dropped}
        arguments = {**kwargs, **self._injected_args}
        result = self._raw_implementation(**arguments)
        if inspect.isawaitable(result):
            return await result
        return result

    @property
    def implementation(self) -> Callable[..., Awaitable[object]]:
        """An async callable whose signature holds only the model-visible parameters.

        For SDKs that build their own schema by inspecting a function.
        """
        if self._cached_callable is not None:
            return self._cached_callable
        signature = inspect.signature(self._raw_implementation)
        hints = get_type_hints(self._raw_implementation, include_extras=True)
        visible = [
            parameter.replace(annotation=_strip_annotated(hints.get(name, parameter.annotation)))
            for name, parameter in signature.parameters.items()
            if name in self._schema_properties()
        ]
        clean = inspect.Signature(visible)

        async def tool_callable(*args: object, **kwargs: object) -> object:
            bound = clean.bind(*args, **kwargs)
            bound.apply_defaults()
            return await self(**bound.arguments)

        tool_callable.__name__ = self.name
        tool_callable.__doc__ = self.description
        tool_callable.__signature__ = clean  # type: ignore[attr-defined]
        self._cached_callable = tool_callable
        return tool_callable

    def to_openai_format(self) -> dict[str, object]:
        """``{"type": "function", "function": {name, description, parameters}}``."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.params_json_schema,
            },
        }

    def to_realtime_format(self) -> dict[str, object]:
        """The Realtime API's flat tool shape."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.params_json_schema,
        }

    def to_anthropic_format(self) -> dict[str, object]:
        """Anthropic Messages: ``{name, description, input_schema}``."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.params_json_schema,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_openai_format(), indent=2)

    def _schema_properties(self) -> set[str]:
        properties = self.params_json_schema.get("properties")
        return set(properties) if isinstance(properties, dict) else set()

    def _accepted_names(self) -> set[str]:
        parameters = inspect.signature(self._raw_implementation).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            return self._schema_properties() | {p.name for p in parameters}
        return {p.name for p in parameters if p.kind is not inspect.Parameter.VAR_POSITIONAL}


def function_tool(
    name: str | None = None, description: str | None = None
) -> Callable[[ToolFunction], TACTool]:
    """Build a tool from a function's type hints; the docstring is the default description."""

    def decorator(func: ToolFunction) -> TACTool:
        tool_description = description or inspect.cleandoc(func.__doc__ or "")
        if not tool_description:
            raise ValueError(f"Function {func.__name__} must have a docstring or description")
        tool = TACTool(
            name=name or func.__name__,
            description=tool_description,
            params_json_schema=_schema_from_function(func),
            _raw_implementation=func,
        )
        tool._injected_param_types = _injected_param_types(func)
        return tool

    return decorator


def create_tool(
    name: str,
    description: str,
    params_json_schema: dict[str, object],
    implementation: ToolFunction,
) -> TACTool:
    """A tool with an explicit schema, for functions whose hints do not describe their input."""
    tool = TACTool(
        name=name,
        description=description,
        params_json_schema=params_json_schema,
        _raw_implementation=implementation,
    )
    tool._injected_param_types = _injected_param_types(implementation)
    return tool


def _is_injected(annotation: object) -> bool:
    if get_origin(annotation) is not Annotated:
        return False
    return any(
        marker is InjectedToolArg or isinstance(marker, InjectedToolArg)
        for marker in get_args(annotation)[1:]
    )


def _strip_annotated(annotation: object) -> object:
    if get_origin(annotation) is Annotated:
        return get_args(annotation)[0]
    return annotation


def _is_optional(annotation: object) -> bool:
    annotation = _strip_annotated(annotation)
    if get_origin(annotation) in (Union, types.UnionType):
        return type(None) in get_args(annotation)
    return False


def _parameters(func: ToolFunction) -> list[tuple[inspect.Parameter, object]]:
    hints = get_type_hints(func, include_extras=True)
    return [
        (parameter, hints.get(name, str))
        for name, parameter in inspect.signature(func).parameters.items()
        if name != "self"
        and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]


def _injected_param_types(func: ToolFunction) -> dict[str, object]:
    return {
        parameter.name: _strip_annotated(annotation)
        for parameter, annotation in _parameters(func)
        if _is_injected(annotation)
    }


def _schema_from_function(func: ToolFunction) -> dict[str, object]:
    properties: dict[str, object] = {}
    required: list[str] = []
    for parameter, annotation in _parameters(func):
        if _is_injected(annotation):
            continue
        properties[parameter.name] = _json_schema(annotation)
        if parameter.default is inspect.Parameter.empty and not _is_optional(annotation):
            required.append(parameter.name)
    return {"type": "object", "properties": properties, "required": required}


def _json_schema(annotation: object) -> dict[str, object]:
    """Pydantic's schema for one parameter; ``Optional[T]`` becomes ``T`` (it is not required)."""
    try:
        schema: dict[str, object] = TypeAdapter(cast(Any, annotation)).json_schema(
            mode="validation"
        )
    except Exception:  # a type pydantic cannot describe: the model sends text
        return {"type": "string"}
    schema.pop("title", None)
    schema.pop("$defs", None)
    members = schema.get("anyOf")
    if isinstance(members, list):
        present = [member for member in members if member != {"type": "null"}]
        if len(present) == 1 and len(present) < len(members) and isinstance(present[0], dict):
            del schema["anyOf"]
            schema = {**present[0], **schema}
    return schema


def _check_injected_value(name: str, expected: object, value: object) -> None:
    is_plain_class = (
        get_origin(expected) is None
        and isinstance(expected, type)
        and not issubclass(expected, BaseModel)
        and not dataclasses.is_dataclass(expected)
    )
    if is_plain_class:
        assert isinstance(expected, type)
        if not isinstance(value, expected):
            raise TypeError(
                f"Type mismatch for parameter '{name}': expected {expected.__name__}, "
                f"got {type(value).__name__}"
            )
        return
    try:
        TypeAdapter(cast(Any, expected)).validate_python(value)
    except Exception as error:
        raise TypeError(
            f"Type mismatch for parameter '{name}': expected {expected}, "
            f"got {type(value).__name__}. Validation error: {error}"
        ) from error
