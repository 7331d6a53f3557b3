"""py-spy profiles of the gateway during a run, summarised as text: where its CPU goes.

`py-spy record --format raw` writes one line per distinct stack with its sample count. Threads
waiting for work (thread pools, aiosqlite's queue) are dropped; the event loop's own line
(`Runner.run`) is uvloop's C code, which is both waiting in epoll and parsing/sending, so it is
kept and named as such.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

IDLE_LEAVES = (
    "Condition.wait (threading.py",
    "_worker (concurrent/futures/thread.py:81)",
    "_connection_worker_thread (aiosqlite/core.py:59)",
    "Queue.get (queue.py",
    "WorkerThread.run (anyio/_backends/_asyncio.py:1113)",
    "select (selectors.py",
)
LOOP_LEAF = "Runner.run (asyncio/runners.py"


def start_recording(py_spy: str, pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    argv = [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds))]
    argv += ["--rate", "200", "--format", "raw", "--nonblocking", "--output", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stacks(raw: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def _short(frame: str) -> str:
    """`func (path/to/module.py:12)` -> `func (module.py:12)` unless it is veorelay's."""
    name, _, where = frame.partition(" (")
    if where.startswith("veorelay/"):
        return frame
    return f"{name} ({where.rsplit('/', 1)[-1]}" if where else name


def summarise(raw: Path, title: str, top: int = 15) -> str:
    busy = [(frames, n) for frames, n in _stacks(raw) if not frames[-1].startswith(IDLE_LEAVES)]
    total = sum(n for _, n in busy) or 1
    own: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    for frames, n in busy:
        leaf = frames[-1]
        own[
            "event loop (uvloop C code: I/O, parsing, or waiting)"
            if leaf.startswith(LOOP_LEAF)
            else _short(leaf)
        ] += n
        for frame in {f for f in frames if "(veorelay/" in f and "cli/main.py" not in f}:
            ours[frame] += n
    lines = [f"## {title}", "", f"{total} busy samples at 200 Hz.", ""]
    lines += ["Self time (the frame running when sampled):", ""]
    lines += [f"    {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "Inclusive, veorelay's own functions (time under each):", ""]
    lines += [f"    {n / total:6.1%}  {frame}" for frame, n in ours.most_common(top)]
    return "\n".join(lines) + "\n"
