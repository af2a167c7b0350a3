"""The README documents every command from its models, and stays in step with them."""

from __future__ import annotations

from server.docs import README, current_section, render


def test_readme_protocol_section_matches_the_command_models() -> None:
    section = current_section(README.read_text())
    assert section is not None, "README.md lost its protocol markers"
    assert section == render(), (
        "README.md's protocol section is stale: run `.venv/bin/python -m server.docs --write`"
    )


def test_readme_config_examples_are_valid_settings() -> None:
    """Every JSON block of the README that configures the town is accepted by `Settings`."""
    import json
    import re

    from config.settings import Settings

    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", README.read_text(), re.S)]
    configs = [b for b in blocks if isinstance(b, dict) and ("llm" in b or "llms" in b)]
    assert configs, "the README lost its model configuration example"
    for cfg in configs:
        Settings(**cfg)
