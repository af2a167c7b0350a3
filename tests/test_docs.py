"""The README documents every command from its models, and stays in step with them."""

from __future__ import annotations

from server.docs import README, current_section, render


def test_readme_protocol_section_matches_the_command_models() -> None:
    section = current_section(README.read_text())
    assert section is not None, "README.md lost its protocol markers"
    assert section == render(), "README.md's protocol section is stale: run `.venv/bin/python -m server.docs --write`"
