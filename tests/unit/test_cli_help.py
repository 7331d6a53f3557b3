"""Every command's --help, rendered as a terminal shows it, says everything its source says."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from veorelay.cli.main import app

ROOT = typer.main.get_command(app)


# Typer builds on its own copy of click: commands and groups are told apart by what they have.
def subcommands(command: Any) -> dict[str, Any]:
    return dict(getattr(command, "commands", {}))


def walk(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [path]
    for name, sub in sorted(subcommands(command).items()):
        paths += walk(sub, (*path, name))
    return paths


def lookup(path: tuple[str, ...]) -> Any:
    command = ROOT
    for name in path:
        command = subcommands(command)[name]
    return command


def words(text: str) -> str:
    return " ".join(text.split())


def render(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(
        app, [*path, "--help"], env={"COLUMNS": "100"}, prog_name="veorelay"
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_the_walk_finds_every_command() -> None:
    paths = walk(ROOT)
    assert {("serve",), ("token", "update"), ("usage", "export")} <= set(paths)
    assert len(paths) > 35


@pytest.mark.parametrize("path", walk(ROOT), ids=lambda p: " ".join(p) or "veorelay")
def test_help_shows_every_text_whole(path: tuple[str, ...]) -> None:
    command = lookup(path)
    shown = render(path)
    flat = words(re.sub(r"-\n\s+", "-", shown))  # a line wrapped after a hyphen loses nothing
    assert "Usage: veorelay" in shown
    assert "<bool>" not in shown, "a flag is shown as taking a value"
    assert not re.search(r"\[/?(bold|red|green|dim|b|i)?\]", shown), "markup left in the text"
    if command.help:
        first_paragraph = command.help.split("\n\n")[0]
        assert words(first_paragraph) in flat
    for param in command.params:
        if getattr(param, "help", None):
            assert words(param.help) in flat, f"{param.name}'s help is cut or altered"
    for name, sub in subcommands(command).items():
        short = sub.get_short_help_str(limit=45)
        assert not short.endswith(("e.g.", "i.e.")), f"{name}: short help cut at an abbreviation"
