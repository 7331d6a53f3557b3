"""A video's previews beside it in storage, through the `VideoStorage` Protocol only (so every
backend keeps them the same way): made from the verified local file before it is handed over,
and deleted with the video."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from pathlib import Path

from veorelay.core.variants import Variant, all_keys, stored_key
from veorelay.media.previews import PreviewFiles, make_previews
from veorelay.media.probe import NotAVideo
from veorelay.storage.base import VideoStorage

log = logging.getLogger("veorelay.storage")


async def store_previews(storage: VideoStorage, video_key: str, video: Path) -> bool:
    """Make the previews of the local file `video` and store them beside `video_key`. A video
    whose previews cannot be made is still a good video: False, and the reason is logged."""
    stem = video.parent / f"{uuid.uuid4().hex}.preview"  # beside it: the spool, local scratch
    files = PreviewFiles(Path(f"{stem}.webp.part"), Path(f"{stem}.jpg.part"))
    try:
        await asyncio.to_thread(make_previews, video, files)
        await storage.put_file(stored_key(video_key, Variant.THUMBNAIL), files.thumbnail)
        await storage.put_file(stored_key(video_key, Variant.SPRITESHEET), files.spritesheet)
        return True
    except NotAVideo as exc:
        log.warning("no previews for %s: %s", video_key, exc)
        return False
    except Exception:  # a preview is never worth failing a good video for
        log.exception("no previews for %s", video_key)
        return False
    finally:
        for path in (files.thumbnail, files.spritesheet):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


async def delete_with_previews(storage: VideoStorage, video_key: str) -> None:
    """Delete a stored video and its previews."""
    for key in all_keys(video_key):
        await storage.delete(key)
