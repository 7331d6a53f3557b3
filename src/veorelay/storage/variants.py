"""A video's previews beside it in storage, through the `VideoStorage` Protocol only (so every
backend keeps them the same way): made when one is first asked for, and deleted with the video.

Making them decodes most of the video (about 0.3 s of CPU for 720p, more than everything else
a video costs the gateway together), so it is not done for every video: most clients never
ask. The first request for a preview pays for both; later ones read them from storage.
"""

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
from veorelay.storage.base import VideoStorage, copy_to_file

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


class PreviewMaker:
    """Makes stored videos' previews on demand: one at a time per video (a second request
    waits for the first's), and at most `at_once` videos decoding in this process."""

    def __init__(self, storage: VideoStorage, at_once: int = 2):
        self.storage = storage
        self._slots = asyncio.Semaphore(at_once)
        self._making: dict[str, asyncio.Future[bool]] = {}

    async def ensure(self, video_key: str) -> bool:
        """Store the previews of the stored video `video_key` unless they are stored. False
        if the video is not stored or cannot be decoded."""
        making = self._making.get(video_key)
        if making is None:
            making = asyncio.ensure_future(self._make(video_key))
            self._making[video_key] = making
            making.add_done_callback(lambda _: self._making.pop(video_key, None))
        # Shielded: one impatient client going away must not cancel the others' wait.
        return await asyncio.shield(making)

    async def _make(self, video_key: str) -> bool:
        async with self._slots:
            if await self.storage.size(stored_key(video_key, Variant.SPRITESHEET)) is not None:
                return True  # made meanwhile (the spritesheet is stored last)
            local = self.storage.spool_dir() / f"{uuid.uuid4().hex}.source.part"
            try:
                if not await copy_to_file(self.storage, video_key, local):
                    return False
                return await store_previews(self.storage, video_key, local)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(local)


async def delete_with_previews(storage: VideoStorage, video_key: str) -> None:
    """Delete a stored video and its previews."""
    for key in all_keys(video_key):
        await storage.delete(key)
