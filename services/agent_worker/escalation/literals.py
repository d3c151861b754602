"""Which templates can match a sentence at all, decided by the words in it, in microseconds.

Running some 340 regular expressions over every sentence costs about half a millisecond per
customer message, because each one is tried at every position. Yet almost every template
needs a literal piece of text somewhere in each of its matches (``{human}`` needs one of
"person", "human", "agent", …). :func:`required_literals` reads those off the parsed
expression; one Aho-Corasick pass (``pyahocorasick``) finds every such literal a sentence
contains; a template none of whose literals is there cannot match and is not run.

The screen only ever skips expressions that cannot match: a template from which no literal
can be read (or whose flags change how literals compare) is always run.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Sequence
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, Generic, TypeVar

import ahocorasick

Literals = frozenset[str]

_OPAQUE_FLAGS = re.IGNORECASE | re.VERBOSE
_REMEMBERED_TEXTS = 4096
T = TypeVar("T", bound=Hashable)


def required_literals(regex: re.Pattern[str]) -> Literals | None:
    """Literal strings one of which every match of ``regex`` contains; ``None`` if unknown."""
    if regex.flags & _OPAQUE_FLAGS:
        return None
    try:
        parsed = sre_parse.parse(regex.pattern, regex.flags)
    except Exception:  # a pattern re compiled always parses; never fail the screen on it
        return None
    found = _sequence(list(parsed))
    return frozenset(found) if found else None


def _sequence(items: Sequence[tuple[Any, Any]]) -> set[str] | None:
    """A sequence needs what any one of its parts needs: keep the most selective part."""
    options: list[set[str]] = []
    run: list[str] = []
    for op, argument in [*items, (None, None)]:
        if op is sre.LITERAL:
            run.append(chr(argument))
            continue
        if run:
            options.append({"".join(run)})
            run = []
        needed = _item(op, argument)
        if needed:
            options.append(needed)
    if not options:
        return None
    return max(options, key=lambda literals: (min(map(len, literals)), -len(literals)))


def _item(op: Any, argument: Any) -> set[str] | None:
    if op is sre.SUBPATTERN:
        _, added_flags, _, pattern = argument
        return None if added_flags & _OPAQUE_FLAGS else _sequence(list(pattern))
    if op is sre.ATOMIC_GROUP:
        return _sequence(list(argument))
    if op is sre.BRANCH:  # any branch may match: the union, and only if each needs something
        union: set[str] = set()
        for branch in argument[1]:
            needed = _sequence(list(branch))
            if not needed:
                return None
            union |= needed
        return union
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        minimum, _, item = argument
        return _sequence(list(item)) if minimum >= 1 else None
    return None  # classes, any character, anchors, lookarounds: no literal text


class LiteralIndex(Generic[T]):
    """The screened templates by the literals they need; which of them a text may match."""

    def __init__(self) -> None:
        self._needing: dict[str, set[T]] = {}
        self._unscreened: set[T] = set()
        self._automaton: Any = None
        self._candidates: dict[str, frozenset[T]] = {}

    def add(self, template: T, needs: Literals | None) -> None:
        if needs is None:
            self._unscreened.add(template)
        for literal in needs or ():
            self._needing.setdefault(literal, set()).add(template)
        self._automaton = None  # texts read before now must be read again
        self._candidates.clear()

    @property
    def ready(self) -> bool:
        """Whether every template added so far is in the automaton."""
        return self._automaton is not None

    def candidates(self, text: str) -> frozenset[T]:
        """The templates that may match ``text``: one of their literals is in it."""
        found = self._candidates.get(text)
        if found is None:
            if self._automaton is None:
                self._automaton = _automaton(self._needing)
            possible = set(self._unscreened)
            for literal in {literal for _, literal in self._automaton.iter(text)}:
                possible |= self._needing.get(literal, set())
            if len(self._candidates) >= _REMEMBERED_TEXTS:
                self._candidates.clear()
            found = self._candidates[text] = frozenset(possible)
        return found


def _automaton(literals: Iterable[str]) -> Any:
    automaton = ahocorasick.Automaton()
    automaton.add_word("\x00", "\x00")  # never in text; an automaton needs one word
    for literal in literals:
        automaton.add_word(literal, literal)
    automaton.make_automaton()
    return automaton
