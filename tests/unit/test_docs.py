"""Docs that cannot drift: every setting and every command is documented."""

from __future__ import annotations

import re
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


def deploy_commands() -> list[str]:
    """The `veorelay ...` commands docs/deploy.md tells an operator to run."""
    text = (ROOT / "docs" / "deploy.md").read_text()
    blocks = text.split("```sh")[1:]
    lines = [line for block in blocks for line in block.split("```")[0].splitlines()]
    found = [re.search(r"(?:^|\s)(veorelay \S.*)$", line) for line in lines]
    return [match.group(1) for match in found if match]


@pytest.mark.parametrize("command", deploy_commands())
def test_every_deploy_command_exists_with_its_options(command: str) -> None:
    """docs/deploy.md's commands are real (tests/e2e/test_multi_replica.py runs the topology
    itself): each one's --help works and names every option the docs give it."""
    from typer.testing import CliRunner

    words = command.split()[1:]
    subcommand = [w for w in words if not w.startswith("-")]
    options = [w for w in words if w.startswith("--")]
    result = CliRunner().invoke(app, [*subcommand, "--help"])
    assert result.exit_code == 0, result.output
    for option in options:
        assert option in result.output


def test_deploy_names_only_real_settings() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text()
    named = set(re.findall(r"VEORELAY_([A-Z0-9_]+)", text))
    assert named
    assert named <= {name.upper() for name in Settings.model_fields}, named - {
        name.upper() for name in Settings.model_fields
    }
