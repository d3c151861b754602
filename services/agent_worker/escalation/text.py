"""Customer text as the rules read it: lower case, no accents, one sentence at a time.

Normalising keeps every character at its place, so a match in the normalised text points
at the customer's own words in the original.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'"})
_SENTENCE_END = re.compile(r"[.!?;…]+(?=\s|$)|[¿¡]|\n+")
_WORD = re.compile(r"[\w']+")


def strip_accents(text: str) -> str:
    """``é`` → ``e``, ``ñ`` → ``n``, one character for one; other characters unchanged."""
    return "".join(_base(char) for char in text.translate(_APOSTROPHES))


def _base(char: str) -> str:
    decomposed = unicodedata.normalize("NFD", char)
    return decomposed[0] if len(decomposed) > 1 and decomposed[0].isascii() else char


def normalize(text: str) -> str:
    """Lower case without accents, the same length as ``text``."""
    lowered = "".join(low if len(low := char.lower()) == 1 else char for char in text)
    return strip_accents(lowered)


@dataclass(frozen=True)
class Sentence:
    original: str
    text: str
    """Normalised."""


@functools.lru_cache(maxsize=4096)
def sentences(message: str) -> tuple[Sentence, ...]:
    """The message's sentences, split at end punctuation and new lines (not at ``9.99``).

    Remembered for recent messages: every rule reads the same message, and each turn reads
    the conversation's earlier messages again.
    """
    return tuple(_split(message))


def _split(message: str) -> Iterator[Sentence]:
    start = 0
    for end in [*(m for m in _SENTENCE_END.finditer(message)), None]:
        stop = end.start() if end is not None else len(message)
        original = message[start:stop].strip()
        if original:
            yield Sentence(original, normalize(original))
        if end is not None:
            start = end.end()


def words(text: str) -> list[str]:
    return _WORD.findall(text)
