"""What the harness needs besides the project itself, found or installed idempotently:
wrk and nginx from Debian, LiteLLM's proxy in a venv of its own under bench/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
LITELLM_VENV = BENCH / ".venv-litellm"
LITELLM_PIN = "litellm[proxy]==1.106.2"
LITELLM_VERSION = LITELLM_PIN.rpartition("==")[2]


@dataclass(frozen=True)
class Tool:
    """A path to run, or the reason it is missing (shown as n/a in the table)."""

    path: str | None
    reason: str = ""


def _run(argv: list[str], timeout: float) -> tuple[bool, str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    if done.returncode == 0:
        return True, done.stdout
    return False, (done.stderr + done.stdout)[-500:]


def debian_tool(command: str, package: str) -> Tool:
    """`command` on PATH, else `apt-get install -y package` (root, as on the project's machines)."""
    found = shutil.which(command) or shutil.which(command, path="/usr/sbin:/sbin")
    if found:
        return Tool(found)
    if not shutil.which("apt-get"):
        return Tool(None, f"{command} missing and no apt-get")
    print(f"installing {package} with apt-get ...", flush=True)
    ok, out = _run(["apt-get", "install", "-y", "-q", package], timeout=600)
    if not ok:  # the package lists may be missing or stale
        _run(["apt-get", "update", "-q"], timeout=600)
        ok, out = _run(["apt-get", "install", "-y", "-q", package], timeout=600)
    found = shutil.which(command) or shutil.which(command, path="/usr/sbin:/sbin")
    return Tool(found) if ok and found else Tool(None, f"apt-get install {package} failed: {out}")


def litellm_proxy() -> Tool:
    """The `litellm` command from bench/.venv-litellm, made (and the pin installed) if needed."""
    binary = LITELLM_VENV / "bin" / "litellm"
    python = LITELLM_VENV / "bin" / "python"
    if binary.exists() and _installed_version(python) == LITELLM_VERSION:
        return Tool(str(binary))
    print(f"installing {LITELLM_PIN} into {LITELLM_VENV} (a few minutes) ...", flush=True)
    if not python.exists():
        ok, out = _run([sys.executable, "-m", "venv", str(LITELLM_VENV)], timeout=300)
        if not ok:
            return Tool(None, f"venv failed: {out}")
    ok, out = _run([str(python), "-m", "pip", "install", "-q", LITELLM_PIN], timeout=1800)
    if not ok or not binary.exists():
        return Tool(None, f"pip install {LITELLM_PIN} failed: {out}")
    return Tool(str(binary))


def _installed_version(python: Path) -> str | None:
    ok, out = _run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        timeout=60,
    )
    return out.strip() if ok else None


def openssl() -> Tool:
    found = shutil.which("openssl")
    return Tool(found) if found else debian_tool("openssl", "openssl")


def py_spy() -> Tool:
    """py-spy from the project's venv (pip install py-spy), for --profile."""
    candidate = Path(sys.executable).parent / "py-spy"
    if candidate.exists():
        return Tool(str(candidate))
    ok, out = _run([sys.executable, "-m", "pip", "install", "-q", "py-spy"], timeout=600)
    return Tool(str(candidate)) if ok and candidate.exists() else Tool(None, out)
