"""`veorelay generate`: create a video on a running gateway, show progress, save the MP4."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=True)


def say(markup: str) -> None:
    """One line on stderr, never wrapped (scripts and people grep it)."""
    console.print(markup, highlight=False, soft_wrap=True)


def generate(
    prompt: Annotated[str, typer.Argument(help="What the video should show (and sound like).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to save the MP4.")] = Path(
        "video.mp4"
    ),
    model: Annotated[str, typer.Option(help="Model name.")] = "veo-3.1-fast-generate-preview",
    seconds: Annotated[str, typer.Option(help="4, 6 or 8.")] = "8",
    size: Annotated[
        str, typer.Option(help="e.g. 1280x720, 720x1280, 1920x1080, 3840x2160.")
    ] = "1280x720",
    image: Annotated[
        Path | None,
        typer.Option(
            help="Reference image for image-to-video.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
    base_url: Annotated[
        str, typer.Option(envvar="VEORELAY_BASE_URL", help="Gateway URL.")
    ] = "http://127.0.0.1:8000",
    token: Annotated[str | None, typer.Option(envvar="VEORELAY_TOKEN", help="API token.")] = None,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 900.0,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the whole traceback of an error.")
    ] = False,
) -> None:
    """Generate a video through a running gateway and save the MP4.

    Exit status: 0 saved, 1 the video failed, 2 the request could not be made or was
    refused, 3 timed out (the task goes on). Errors are one line; --debug shows tracebacks."""
    if not token:
        raise typer.BadParameter("pass --token or set VEORELAY_TOKEN", param_hint="--token")
    try:
        _generate(prompt, output, model, seconds, size, image, base_url, token, timeout)
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
        if debug:
            raise
        say(f"[red]error[/]: {escape(_describe(exc, base_url))}")
        raise typer.Exit(2) from None


def _generate(
    prompt: str,
    output: Path,
    model: str,
    seconds: str,
    size: str,
    image: Path | None,
    base_url: str,
    token: str,
    timeout: float,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    data = {"model": model, "prompt": prompt, "seconds": seconds, "size": size}
    with httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=60.0) as client:
        files = {"input_reference": (image.name, image.read_bytes())} if image else None
        video = _check(client.post("/v1/videos", data=data, files=files))
        console.print(f"created [bold]{video['id']}[/] ({video['size']}, {video['seconds']} s)")
        video = _wait(client, video, time.monotonic() + timeout)
        if video["status"] != "completed":
            error = video.get("error") or {}
            reason = f"{error.get('code')}: {error.get('message')}"
            say(f"[red]failed[/]: {escape(reason)}")
            raise typer.Exit(1)
        _download(client, video["id"], output)
    console.print(f"saved [bold]{output}[/] ({output.stat().st_size} bytes)")


def _describe(exc: Exception, base_url: str) -> str:
    """One line a person can act on, for the mistakes people make."""
    if isinstance(exc, httpx.ConnectError):
        return (
            f"cannot connect to the gateway at {base_url}: is `veorelay serve` running there? "
            "(--base-url or VEORELAY_BASE_URL names another)"
        )
    if isinstance(exc, httpx.TimeoutException):
        return f"the gateway at {base_url} did not answer in time"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"{base_url!r} is not a gateway URL such as http://127.0.0.1:8000"
    if isinstance(exc, httpx.HTTPError):
        return f"talking to the gateway at {base_url} failed: {exc or type(exc).__name__}"
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return f"the answer from {base_url} is not a veorelay gateway's (not JSON)"


def _download(client: httpx.Client, video_id: str, output: Path) -> None:
    """Into a temporary file beside `output`, renamed when whole: an interrupted download
    never leaves a truncated MP4 under the name asked for."""
    partial = output.with_name(f".{output.name}.part")
    try:
        with client.stream("GET", f"/v1/videos/{video_id}/content") as response:
            if response.status_code != 200:
                response.read()
                _check(response)
            with open(partial, "wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


def _wait(client: httpx.Client, video: dict[str, Any], deadline: float) -> dict[str, Any]:
    """Poll at the pace the gateway suggests (openai-poll-after-ms), showing progress."""
    poll_after = 2.0
    columns = (
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task(video["status"], total=100)
        while video["status"] in ("queued", "in_progress"):
            progress.update(bar, completed=video["progress"], description=video["status"])
            if time.monotonic() > deadline:
                console.print(f"[red]timed out[/]; the task {video['id']} goes on")
                raise typer.Exit(3)
            time.sleep(poll_after)
            response = client.get(f"/v1/videos/{video['id']}")
            video = _check(response)
            poll_after = min(int(response.headers.get("openai-poll-after-ms", 2000)) / 1000, 10.0)
        done = 100 if video["status"] == "completed" else video["progress"]
        progress.update(bar, completed=done, description=video["status"])
    return video


def _check(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            message = f"{error.get('code')}: {error.get('message')}"
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        if response.status_code == 401:
            message += " (a token works only on the gateway whose database made it)"
        say(f"[red]error {response.status_code}[/]: {escape(message)}")
        raise typer.Exit(2)
    body = response.json()
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    return body
