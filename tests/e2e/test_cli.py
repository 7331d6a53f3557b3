"""The command line: the built-in simulator default, `generate`, `--help`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Gateway, gateway_env, start_gateway
from tests.helpers import free_port, png_bytes, server_thread
from veorelay.media.probe import probe


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "veorelay", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_without_a_key_uses_the_builtin_simulator(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    gateway = start_gateway(data_dir, gateway_env(data_dir, simulator_url=None))
    try:
        assert "built-in SIMULATOR" in gateway.process.log()
        video = gateway.client(gateway.token()[0]).videos.create_and_poll(
            model="veo-3.1-fast-generate-preview",
            prompt="embedded",
            seconds="4",
            poll_interval_ms=50,
        )
        assert video.status == "completed"
    finally:
        gateway.process.stop()


@pytest.mark.parametrize("with_image", [False, True])
def test_generate_saves_a_video(gateway: Gateway, tmp_path: Path, with_image: bool) -> None:
    token = gateway.token()[0]
    out = tmp_path / "clip.mp4"
    args = [
        "generate",
        "A paper boat on a river",
        "--seconds",
        "4",
        "--size",
        "720x1280",
        "-o",
        str(out),
        "--base-url",
        gateway.url,
    ]
    if with_image:
        (tmp_path / "ref.png").write_bytes(png_bytes())
        args += ["--image", str(tmp_path / "ref.png")]
    result = run_cli(*args, env={"VEORELAY_TOKEN": token})
    assert result.returncode == 0, result.stderr
    assert "saved" in result.stderr
    info = probe(out)
    assert (info.width, info.height, round(info.duration)) == (720, 1280, 4)


@pytest.mark.parametrize(
    ("prompt", "seconds", "exit_code", "reported"),
    [
        ("storm [sim:rai]", "4", 1, "content_policy_violation"),  # the task failed
        ("x", "5", 2, "INVALID_ARGUMENT"),  # the gateway refused the request
    ],
)
def test_generate_reports_failures(
    gateway: Gateway, tmp_path: Path, prompt: str, seconds: str, exit_code: int, reported: str
) -> None:
    out = tmp_path / "x.mp4"
    result = run_cli(
        "generate",
        prompt,
        "--seconds",
        seconds,
        "-o",
        str(out),
        "--base-url",
        gateway.url,
        "--token",
        gateway.token()[0],
    )
    assert result.returncode == exit_code
    assert reported in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "command",
    [[], ["serve"], ["worker"], ["simulator"], ["migrate"], ["token", "create"], ["generate"]],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    assert "Usage" in result.stdout


def test_token_create_refuses_a_bad_balance(tmp_path: Path) -> None:
    result = run_cli(
        "token",
        "create",
        "--name",
        "x",
        "--balance",
        "lots",
        env={"VEORELAY_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode != 0
    assert "balance" in result.stderr.lower()


def test_help_keeps_bracketed_text_and_shows_flags_as_flags() -> None:
    serve = run_cli("serve", "--help", env={"COLUMNS": "100"})
    assert "Listen address [env VEORELAY_HOST]." in serve.stdout
    listing = run_cli("account", "list", "--help", env={"COLUMNS": "100"})
    assert "--json  Print JSON for scripts." in listing.stdout
    assert "<bool>" not in listing.stdout


def test_generate_without_a_gateway_says_so_in_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_cli("generate", "x", "--base-url", url, "--token", "sk-vr-x")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: cannot connect to the gateway at {url}: is `veorelay serve` running there? "
        "(--base-url or VEORELAY_BASE_URL names another)"
    ]
    debug = run_cli("generate", "x", "--base-url", url, "--token", "sk-vr-x", "--debug")
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr
    assert "ConnectError" in debug.stderr


def test_generate_with_a_missing_image_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "first-frame.png"
    result = run_cli("generate", "x", "--image", str(missing), "--token", "sk-vr-x")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"'{missing}' does not exist" in result.stderr


def test_generate_refused_by_the_gateway_says_why_in_one_line(
    gateway: Gateway, tmp_path: Path
) -> None:
    result = run_cli("generate", "x", "--base-url", gateway.url, "--token", "sk-vr-wrong")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error 401: invalid_api_key: ")
    assert line.endswith("(a token works only on the gateway whose database made it)")


def test_generate_pointed_at_something_else_says_so(tmp_path: Path) -> None:
    with server_thread(PlainTextApp()) as url:
        result = run_cli("generate", "x", "--base-url", url, "--token", "sk-vr-x")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: the answer from {url} is not a veorelay gateway's (not JSON)"
    ]


class PlainTextApp:
    """Not a gateway: answers every request with 200 and some HTML."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"<html>hello</html>"})


def test_the_readme_sample_image_makes_a_video(gateway: Gateway, tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[2] / "docs" / "examples" / "first-frame.png"
    out = tmp_path / "lighthouse.mp4"
    result = run_cli(
        "generate",
        "The scene comes alive",
        "--seconds",
        "4",
        "--image",
        str(sample),
        "-o",
        str(out),
        "--base-url",
        gateway.url,
        "--token",
        gateway.token()[0],
    )
    assert result.returncode == 0, result.stderr
    info = probe(out)
    assert (info.width, info.height) == (1280, 720)
