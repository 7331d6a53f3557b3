"""Where finished videos live. The engine verifies a file locally, then hands it over here.

A video's previews are stored beside it under keys derived from its key (core/variants.py);
storage/variants.py stores and deletes them with it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from veorelay.core.ranges import ByteRange

# Every key the engine writes starts here; what a backend lists, sweeps or reconciles.
VIDEO_KEYS = "videos/"
CHUNK_BYTES = 1024 * 1024


@dataclass
class OpenedVideo:
    """A stored video, opened on local disk: it stays readable to the end even if its key is
    deleted meanwhile, so an answer that has started is never cut short."""

    file: BinaryIO
    stat: os.stat_result
    path: Path  # for logs and the response's name; never to be opened again

    def close(self) -> None:
        self.file.close()


@dataclass
class StreamedVideo:
    """A stored video (or the asked-for range of it) coming from a remote store. `chunks` is
    None for HEAD; `close` must be awaited once the answer is over."""

    size: int  # of the whole video
    first: int  # the bytes being sent: first..last inclusive
    last: int
    partial: bool  # a range was asked for and is being answered (206)
    etag: str | None
    last_modified: float | None
    chunks: AsyncIterator[bytes] | None
    close: Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class RedirectedVideo:
    """Fetch the video from `url` (a short-lived presigned URL): the gateway sends no bytes."""

    url: str


StoredVideo = OpenedVideo | StreamedVideo | RedirectedVideo


class RangeNotSatisfiable(Exception):
    def __init__(self, size: int):
        super().__init__(f"range outside a video of {size} bytes")
        self.size = size


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified_at: float  # UNIX seconds


class VideoStorage(Protocol):
    async def put_file(self, key: str, source: Path) -> int:
        """Store the verified local file `source` under `key`; returns its size once the store
        has confirmed it. All or nothing. `source` may be gone afterwards."""
        ...

    async def size(self, key: str) -> int | None: ...

    async def open(
        self,
        key: str,
        byte_range: ByteRange | None = None,
        *,
        body: bool = True,
        filename: str | None = None,
        redirect: bool = True,
    ) -> StoredVideo | None:
        """How to answer a download of `key` (`byte_range` as the client asked; `body` False
        for HEAD; `filename` for a browser's save dialog), or None if it is not stored
        (deleted, expired). May raise RangeNotSatisfiable. A backend that answers with a
        local file leaves the range to the caller; one that can redirect does so only if
        `redirect`."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key`; a key already gone is fine."""
        ...

    def objects(self, prefix: str = VIDEO_KEYS) -> AsyncIterator[StoredObject]:
        """Every stored key starting with `prefix`, in no particular order."""
        ...

    async def check(self) -> None:
        """Raise if the store cannot be written to (for /readyz)."""
        ...

    def spool_dir(self) -> Path:
        """A local scratch directory for downloads in progress."""
        ...

    async def aclose(self) -> None: ...


async def read_whole(storage: VideoStorage, key: str) -> bytes | None:
    """A stored object's bytes, all in memory: only for what must go upstream whole (the
    source of a Vertex extension, at most 30 s of 720p). None if it is not stored."""
    stored = await storage.open(key, redirect=False)
    if stored is None:
        return None
    if isinstance(stored, OpenedVideo):
        try:
            return await asyncio.to_thread(stored.file.read)
        finally:
            stored.close()
    if isinstance(stored, StreamedVideo):
        try:
            return b"".join([chunk async for chunk in stored.chunks or _nothing()])
        finally:
            await stored.close()
    raise TypeError("a redirect was not asked for")


async def copy_to_file(storage: VideoStorage, key: str, target: Path) -> bool:
    """Copy a stored object to the local file `target`, streamed (never whole in memory).
    False if it is not stored."""
    stored = await storage.open(key, redirect=False)
    if stored is None:
        return False
    if isinstance(stored, OpenedVideo):
        try:
            await asyncio.to_thread(_copy_file, stored.file, target)
        finally:
            stored.close()
        return True
    if isinstance(stored, StreamedVideo):
        try:
            with target.open("wb") as out:
                async for chunk in stored.chunks or _nothing():
                    await asyncio.to_thread(out.write, chunk)
        finally:
            await stored.close()
        return True
    raise TypeError("a redirect was not asked for")


def _copy_file(source: BinaryIO, target: Path) -> None:
    with target.open("wb") as out:
        shutil.copyfileobj(source, out, CHUNK_BYTES)


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""
