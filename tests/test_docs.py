"""The docs describe every command from its models, and stay in step with them and the settings."""

from __future__ import annotations

import json
import re

from config.settings import Settings
from server.docs import PROTOCOL_DOC, ROOT, current_section, render

README = ROOT / "README.md"


def test_protocol_doc_matches_the_command_models() -> None:
    section = current_section(PROTOCOL_DOC.read_text())
    assert section is not None, "docs/protocol.md lost its protocol markers"
    assert section == render(), "docs/protocol.md is stale: run `.venv/bin/python -m server.docs --write`"


def test_viewer_commands_are_listed_as_open_to_viewers() -> None:
    """The roles list comes from each module's PERMISSION: every viewer command is on the viewer line."""
    viewer_line = next(ln for ln in render().splitlines() if ln.startswith("- **viewer**"))
    for name in ("get_town", "get_agent", "get_report", "list_tasks", "info", "subscribe", "login"):
        assert f"`{name}`" in viewer_line
    assert "`tick`" not in viewer_line


def test_readme_config_examples_are_valid_settings() -> None:
    """Every JSON block of the README that configures the town is accepted by `Settings`."""
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", README.read_text(), re.S)]
    configs = [b for b in blocks if isinstance(b, dict) and ("llm" in b or "llms" in b)]
    assert configs, "the README lost its model configuration example"
    for cfg in configs:
        Settings(**cfg)


def test_every_setting_is_in_the_configuration_table() -> None:
    """docs/operations.md's table names every key of `Settings` (nested keys as `parent.key`)."""
    text = (ROOT / "docs" / "operations.md").read_text()
    table = text[text.index("| key | default | meaning |") :]
    for name, field in Settings.model_fields.items():
        sub = getattr(field.annotation, "model_fields", None)
        if name in ("llm", "llms") or not sub:
            assert f"`{name}`" in table, f"{name} is missing from the configuration table"
        else:
            for key in sub:
                assert f"{name}.{key}" in table or f"`{key}`" in table, f"{name}.{key} is missing"


def _anchors(text: str) -> set[str]:
    """The anchors GitHub makes of a page's headings."""
    heads = re.findall(r"^#+ (.+)$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in heads}


def test_doc_links_point_at_files_and_headings_that_exist() -> None:
    """Relative links of the README and docs/ lead to files in the repository (a clone has no
    ../shared) and to headings those files have."""
    for page in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)]*))?\)", page.read_text()):
            if "://" in target:
                continue
            dest = page.parent / target if target else page
            assert dest.exists(), f"{page.name} links to missing {target}"
            if anchor and dest.suffix == ".md":
                assert anchor in _anchors(dest.read_text()), (
                    f"{page.name} links to missing #{anchor} of {target}"
                )


def test_every_result_field_is_spelled_out() -> None:
    """No result is documented as a loose `dict[str, Any]`: each record's fields are listed under Types."""
    doc = render()
    assert "Any" not in doc
    for name in ("AgentInfo", "BuildingInfo", "TemplateInfo", "TaskInfo", "Report", "TaskSpec"):
        assert f"#### `{name}`" in doc
