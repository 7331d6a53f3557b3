"""Docs that cannot drift: every setting and every command is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from veorelay.cli.main import app
from veorelay.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = "\n".join(
    path.read_text() for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
)


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    assert f"VEORELAY_{name.upper()}" in DOCS


def command_names() -> list[str]:
    names = [c.name or c.callback.__name__ for c in app.registered_commands if c.callback]
    for group in app.registered_groups:
        assert group.typer_instance is not None
        names += [
            f"{group.name} {c.name or c.callback.__name__}"
            for c in group.typer_instance.registered_commands
            if c.callback
        ]
    return [name.replace("_", "-") for name in names]


@pytest.mark.parametrize("command", command_names())
def test_every_command_is_documented(command: str) -> None:
    assert f"veorelay {command}" in DOCS
