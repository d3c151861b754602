"""Rewrite the README's configuration table from the settings classes (``make docs``)."""

from __future__ import annotations

from pathlib import Path

from baton_devtools.config_table import BEGIN, END, render

README = Path(__file__).resolve().parents[2] / "README.md"


def synced(text: str) -> str:
    start = text.index(BEGIN)
    stop = text.index(END) + len(END)
    return text[:start] + render() + text[stop:]


if __name__ == "__main__":
    README.write_text(synced(README.read_text()))
