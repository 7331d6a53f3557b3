"""Render real MP4s (H.264 video + AAC audio) visibly derived from prompt and seed.

The picture is a gradient in colours picked from the prompt and seed, the prompt's text, and
a bar sweeping across in time; the sound is a tone whose pitch comes from the seed. Renders
are cached by their inputs, so repeating a request is a file copy.

A render is written to a `.part` file that its writer holds an exclusive `flock` on, then
renamed; a `.part` nobody holds a lock on was left by a killed process and is swept at start.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import logging
import os
import tempfile
import textwrap
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from veorelay.core.models import FPS

SAMPLE_RATE = 48_000
AUDIO_FRAME = 1024
log = logging.getLogger("veorelay.simulator")


def video_seconds(data: bytes) -> float:
    """How long an MP4 (given as bytes) lasts; InvalidVideo if it is none."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            duration = container.duration
            has_video = bool(container.streams.video)
    except (av.FFmpegError, ValueError) as exc:
        raise InvalidVideo(f"not a readable MP4 ({type(exc).__name__})") from None
    if duration is None or not has_video:
        raise InvalidVideo("no video stream with a duration")
    return float(duration / av.time_base)


class InvalidVideo(Exception):
    pass


def render_key(prompt: str, seed: int | None, width: int, height: int, seconds: int) -> str:
    text = f"{prompt}\x00{seed}\x00{width}x{height}\x00{seconds}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def render_cached(
    cache_dir: Path, prompt: str, seed: int | None, width: int, height: int, seconds: int
) -> Path:
    """The path of the rendered MP4 for these inputs, rendering it first if needed."""
    path = cache_dir / f"{render_key(prompt, seed, width, height, seconds)}.mp4"
    if not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".part")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # held until done: a sweep leaves this file alone
            render_mp4(Path(tmp), prompt, seed, width, height, seconds)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
            os.close(fd)
    return path


def sweep_partial_renders(cache_dir: Path) -> int:
    """Delete the `.part` files no live render holds (left by a kill -9); how many."""
    swept = 0
    for part in cache_dir.glob("*.part"):
        try:
            fd = os.open(part, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # another process is rendering it right now
        else:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
                swept += 1
        finally:
            os.close(fd)
    if swept:
        log.info("removed %d unfinished render(s) left in %s", swept, cache_dir)
    return swept


def render_mp4(
    path: Path, prompt: str, seed: int | None, width: int, height: int, seconds: int
) -> None:
    digest = hashlib.sha256(f"{prompt}\x00{seed}".encode()).digest()
    base = _base_picture(prompt, digest, width, height)
    y_plane, u_plane, v_plane = _to_yuv420(base)
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "32", "tune": "stillimage"}
        audio = container.add_stream("aac", rate=SAMPLE_RATE)
        audio.layout = "stereo"
        _write_video(container, video, y_plane, u_plane, v_plane, seconds, digest[3])
        _write_audio(container, audio, seconds, 220.0 + 440.0 * digest[4] / 255.0)


def _base_picture(prompt: str, digest: bytes, width: int, height: int) -> NDArray[np.uint8]:
    start = np.array(list(digest[0:3]), dtype=np.float32)
    end = np.array(list(digest[5:8]), dtype=np.float32)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    picture = np.broadcast_to(start + (end - start) * ramp, (height, width, 3)).astype(np.uint8)
    image = Image.fromarray(picture)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(16, height // 24))
    lines = textwrap.wrap(prompt, width=max(20, width // max(16, height // 24) * 2))[:6]
    draw.multiline_text((width // 20, height // 10), "\n".join(lines), fill="white", font=font)
    return np.asarray(image, dtype=np.uint8)


def _to_yuv420(rgb: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], ...]:
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    y = 0.257 * r + 0.504 * g + 0.098 * b + 16
    u = -0.148 * r - 0.291 * g + 0.439 * b + 128
    v = 0.439 * r - 0.368 * g - 0.071 * b + 128
    sub = (slice(None, None, 2), slice(None, None, 2))
    return tuple(np.clip(c, 0, 255).astype(np.uint8) for c in (y, u[sub], v[sub]))


def _write_video(
    container: av.container.OutputContainer,
    stream: av.video.stream.VideoStream,
    y_plane: NDArray[np.uint8],
    u_plane: NDArray[np.uint8],
    v_plane: NDArray[np.uint8],
    seconds: int,
    bar_luma: int,
) -> None:
    height, width = y_plane.shape
    bar = max(8, width // 40)
    frames = seconds * FPS
    for index in range(frames):
        y = y_plane.copy()
        x = int((width - bar) * index / max(frames - 1, 1)) & ~1
        y[:, x : x + bar] = 255 - bar_luma // 2
        planes = np.concatenate([y.reshape(-1), u_plane.reshape(-1), v_plane.reshape(-1)])
        frame = av.VideoFrame.from_ndarray(planes.reshape(height * 3 // 2, width), format="yuv420p")
        frame.pts = index
        frame.time_base = Fraction(1, FPS)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def _write_audio(
    container: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    seconds: int,
    pitch: float,
) -> None:
    total = seconds * SAMPLE_RATE
    for start in range(0, total, AUDIO_FRAME):
        count = min(AUDIO_FRAME, total - start)
        t = (np.arange(start, start + count, dtype=np.float32)) / SAMPLE_RATE
        tone = (0.2 * np.sin(2 * np.pi * pitch * t)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = start
        frame.time_base = Fraction(1, SAMPLE_RATE)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
