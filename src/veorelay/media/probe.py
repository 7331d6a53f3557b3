"""Read an MP4's streams with PyAV, to check a download really is the video we asked for.

PyAV is imported on first use here and in previews.py: with numpy it is about 30 MB of
memory that a process never checking or previewing a video (an API replica) need not hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MediaInfo:
    width: int
    height: int
    duration: float
    video_codec: str
    has_audio: bool


class NotAVideo(Exception):
    pass


def probe(path: Path) -> MediaInfo:
    import av

    try:
        with av.open(str(path)) as container:
            if container.format.name.split(",")[0] not in ("mov", "mp4"):
                raise NotAVideo(f"not an MP4 container ({container.format.name})")
            if not container.streams.video:
                raise NotAVideo("the file has no video stream")
            video = container.streams.video[0]
            if video.duration is not None and video.time_base is not None:
                duration = float(video.duration * video.time_base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000
            else:
                raise NotAVideo("the file has no duration")
            return MediaInfo(
                width=video.codec_context.width,
                height=video.codec_context.height,
                duration=duration,
                video_codec=video.codec_context.name,
                has_audio=bool(container.streams.audio),
            )
    except av.FFmpegError as exc:
        raise NotAVideo(f"unreadable video: {exc}") from None


def verify(path: Path, width: int, height: int, seconds: int) -> MediaInfo:
    """Raise NotAVideo unless `path` is an MP4 of this size and (about) this length."""
    info = probe(path)
    if (info.width, info.height) != (width, height):
        raise NotAVideo(f"video is {info.width}x{info.height}, expected {width}x{height}")
    if abs(info.duration - seconds) > 0.5:
        raise NotAVideo(f"video lasts {info.duration:.2f} s, expected {seconds} s")
    return info
