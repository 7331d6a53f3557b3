"""`veorelay storage`: square the video storage with the tasks."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from veorelay.cli.operator import JsonFlag, err, execute, out
from veorelay.engine.retention import ORPHAN_GRACE_SECONDS, Reconciliation, reconcile
from veorelay.services import Services

storage_app = typer.Typer(help="Video storage: reconcile files with tasks.", no_args_is_help=True)


@storage_app.command("reconcile")
def reconcile_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only report; remove nothing.")
    ] = False,
    min_age: Annotated[
        float,
        typer.Option(
            "--min-age",
            min=0,
            help="Seconds: an unowned file younger than this may be a download finishing now; "
            "it is left alone.",
        ),
    ] = ORPHAN_GRACE_SECONDS,
    as_json: JsonFlag = False,
) -> None:
    """Remove stored files no task points to, and report completed videos whose file is
    missing (exit status 2 if any is)."""

    async def call(services: Services) -> Reconciliation:
        return await reconcile(
            services.db, services.storage, time.time(), min_age, remove=not dry_run
        )

    report: Reconciliation = execute(call)
    if as_json:
        found = {
            "unowned" if dry_run else "removed": report.removed,
            "missing": report.missing,
            "kept_young": report.kept_young,
        }
        print(json.dumps(found))
    else:
        verb = "would remove" if dry_run else "removed"
        out.print(f"{verb} {len(report.removed)} file(s) no task points to", highlight=False)
        for key in report.removed:
            out.print(f"  {key}", highlight=False, soft_wrap=True)
        if report.kept_young:
            out.print(
                f"left {report.kept_young} unowned file(s) younger than {min_age:g} s",
                highlight=False,
            )
        out.print(
            f"{len(report.missing)} completed video(s) without a stored file", highlight=False
        )
        for task_id in report.missing:
            out.print(f"  {task_id}", highlight=False)
    if report.missing:
        err.print("[yellow]some completed videos have no stored file[/]")
        raise typer.Exit(2)
