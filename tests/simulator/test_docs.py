"""docs/simulator.md cannot drift: every option of the command and every route is in it."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from starlette.routing import Route
from typer.main import get_command

from veorelay.cli.main import app
from veorelay.simulator.app import SimulatorConfig, create_simulator_app

DOC = (Path(__file__).resolve().parents[2] / "docs" / "simulator.md").read_text()


def _normalize(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def options() -> list[str]:
    command = get_command(app).commands["simulator"]  # type: ignore[attr-defined]
    return [opt for param in command.params for opt in param.opts if opt != "--help"]


def routes() -> list[str]:
    with tempfile.TemporaryDirectory() as directory:
        simulator = create_simulator_app(SimulatorConfig(data_dir=Path(directory)))
    paths = {route.path for route in simulator.routes if isinstance(route, Route)}
    # The v1beta1 copies of the Vertex predict and poll paths are documented once, under v1.
    return sorted({_normalize(p.replace("/v1beta1/projects/", "/v1/projects/")) for p in paths})


@pytest.mark.parametrize("option", options())
def test_every_option_is_documented(option: str) -> None:
    assert f"`{option}" in DOC


@pytest.mark.parametrize("path", routes())
def test_every_route_is_documented(path: str) -> None:
    assert path in _normalize(DOC)
