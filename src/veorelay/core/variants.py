"""What `GET /v1/videos/{id}/content?variant=` can answer, and where each one is stored (pure).

The previews are stored beside the video under keys derived from its key, so a task row needs
no column of its own for them and whoever deletes a video can delete its previews too.
"""

from __future__ import annotations

from enum import StrEnum


class Variant(StrEnum):
    VIDEO = "video"
    THUMBNAIL = "thumbnail"
    SPRITESHEET = "spritesheet"


MEDIA_TYPES = {
    Variant.VIDEO: "video/mp4",
    Variant.THUMBNAIL: "image/webp",
    Variant.SPRITESHEET: "image/jpeg",
}
_SUFFIXES = {
    Variant.VIDEO: ".mp4",
    Variant.THUMBNAIL: "-thumbnail.webp",
    Variant.SPRITESHEET: "-spritesheet.jpg",
}
PREVIEWS = (Variant.THUMBNAIL, Variant.SPRITESHEET)


def stored_key(video_key: str, variant: Variant) -> str:
    """The storage key of a video's `variant`, from the video's own key (`….mp4`)."""
    return video_key.removesuffix(".mp4") + _SUFFIXES[variant]


def family_prefix(video_key: str) -> str:
    """What every key of the video and its previews starts with (and no other video's does)."""
    return video_key.removesuffix(".mp4")


def all_keys(video_key: str) -> list[str]:
    """The video's key and its previews' keys: everything to delete with it."""
    return [stored_key(video_key, variant) for variant in Variant]


def file_name(task_id: str, variant: Variant) -> str:
    return task_id + _SUFFIXES[variant]
