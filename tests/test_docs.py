"""The README's configuration table is the settings classes' own description."""

from __future__ import annotations

from baton_devtools.readme_sync import README, synced


def test_readme_configuration_table_matches_the_settings() -> None:
    text = README.read_text()
    assert text == synced(text), "run `make docs` to regenerate the configuration table"
