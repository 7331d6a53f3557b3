"""The results table: one row per goal, markdown, printed and written to bench/results.md."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Row:
    measure: str
    goal: str
    veorelay: float | None = None
    reference: float | None = None
    litellm: float | None = None
    unit: str = ""
    ratio: str = ""  # "vs reference" or "vs LiteLLM": which column the ratio compares with
    met: bool | None = None
    notes: list[str] = field(default_factory=list)

    def na(self, column: str, reason: str) -> None:
        self.notes.append(f"{column} n/a: {' '.join(reason.split())}")


def cell(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    shown = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
    return f"{shown} {unit}".strip()


def ratio_cell(row: Row) -> str:
    if row.ratio == "reference" and row.veorelay and row.reference:
        return f"{row.veorelay / row.reference:.0%} of reference"
    if row.ratio == "litellm" and row.veorelay and row.litellm:
        return f"{row.veorelay / row.litellm:.1f}x LiteLLM"
    return ""


def met_cell(row: Row) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}[row.met]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()}"
    )


def table(rows: list[Row], header: list[str]) -> str:
    lines = [
        "| measure | veorelay | reference | LiteLLM 1.106.2 | ratio | goal | met? |",
        "| --- | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row.measure} | {cell(row.veorelay, row.unit)} | {cell(row.reference, row.unit)} "
            f"| {cell(row.litellm, row.unit)} | {ratio_cell(row)} | {row.goal} | {met_cell(row)} |"
        )
    notes = [f"- {row.measure}: {note}" for row in rows for note in row.notes]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"Run {stamp} on {machine()}.", "", *header, "", *lines]
    if notes:
        parts += ["", "Notes:", "", *notes]
    return "\n".join(parts) + "\n"
