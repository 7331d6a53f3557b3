"""What the README tells a newcomer to do works as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SAMPLE = ROOT / "docs" / "examples" / "first-frame.png"

# One SDK call that warns before it tries the network (nothing listens on port 1).
SDK_CALL = """
from openai import OpenAI
client = OpenAI(base_url="http://127.0.0.1:1/v1", api_key="x", max_retries=0)
try:
    client.videos.retrieve("video_x")
except Exception as exc:
    print(type(exc).__name__)
"""


def test_the_sample_image_is_there_small_and_16_by_9() -> None:
    assert "docs/examples/first-frame.png" in README
    assert SAMPLE.stat().st_size < 10_000
    with Image.open(SAMPLE) as image:
        assert image.format == "PNG"
        assert image.width * 9 == image.height * 16


def python(code: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *options, "-c", code], capture_output=True, text=True, timeout=60
    )


def test_the_sdk_warns_about_sora_without_the_readme_filter() -> None:
    result = python(SDK_CALL)
    assert result.stdout.strip() == "APIConnectionError"
    assert "DeprecationWarning: The Sora API" in result.stderr


def readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, re.DOTALL)


def test_the_readme_filter_silences_exactly_that_warning() -> None:
    (snippet,) = [block for block in readme_python_blocks() if "filterwarnings" in block]
    result = python(
        snippet + SDK_CALL + "\nimport warnings\nwarnings.warn('other', DeprecationWarning)"
    )
    assert result.stdout.strip() == "APIConnectionError"
    assert "Sora" not in result.stderr
    assert "DeprecationWarning: other" in result.stderr


OPTIONS = re.findall(r'`-W "([^"]+)"`', README)


def test_the_readme_gives_a_command_line_option() -> None:
    assert OPTIONS


@pytest.mark.parametrize("option", OPTIONS)
def test_the_readme_command_line_option_silences_it(option: str) -> None:
    result = python(SDK_CALL, "-W", option)
    assert result.stdout.strip() == "APIConnectionError"
    assert "Sora" not in result.stderr
