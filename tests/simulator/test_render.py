"""The simulator's renders: derived from prompt and seed, cached by their inputs."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from veorelay.simulator.render import render_cached


def first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgb24")


def test_renders_differ_by_prompt_and_seed_and_repeat_from_the_cache(tmp_path: Path) -> None:
    a = render_cached(tmp_path, "a red kite", 1, 1280, 720, 4)
    mtime = a.stat().st_mtime_ns
    again = render_cached(tmp_path, "a red kite", 1, 1280, 720, 4)
    assert again == a
    assert again.stat().st_mtime_ns == mtime  # not rendered again
    other_seed = render_cached(tmp_path, "a red kite", 2, 1280, 720, 4)
    other_prompt = render_cached(tmp_path, "a blue boat", 1, 1280, 720, 4)
    assert len({a, other_seed, other_prompt}) == 3
    frames = [first_frame(p) for p in (a, other_seed, other_prompt)]
    for i in range(3):
        for j in range(i + 1, 3):
            # visibly different: the mean absolute difference of the pictures is large
            difference = np.abs(frames[i].astype(int) - frames[j].astype(int)).mean()
            assert difference > 10, (i, j, difference)
    assert list(tmp_path.glob("*.part")) == []
