"""Videos as files under a root directory; a rename makes each write atomic."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from veorelay.core.ranges import ByteRange
from veorelay.storage.base import VIDEO_KEYS, OpenedVideo, StoredObject

_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$")


class FilesystemStorage:
    def __init__(self, root: Path):
        self.root = root.resolve()
        self._spool = self.root / ".spool"
        self._spool.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key) or ".." in key.split("/"):
            raise ValueError(f"invalid storage key {key!r}")
        return self.root / key

    async def put_file(self, key: str, source: Path) -> int:
        target = self._path(key)

        def move() -> int:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(source, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(source, target)
            directory = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
            return target.stat().st_size

        return await asyncio.to_thread(move)

    async def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    async def open(
        self,
        key: str,
        byte_range: ByteRange | None = None,
        *,
        body: bool = True,
        filename: str | None = None,
        redirect: bool = True,
    ) -> OpenedVideo | None:
        path = self._path(key)

        def open_file() -> OpenedVideo | None:
            try:
                file = open(path, "rb")  # noqa: SIM115 - the response closes it
            except FileNotFoundError:
                return None
            return OpenedVideo(file=file, stat=os.fstat(file.fileno()), path=path)

        return await asyncio.to_thread(open_file)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)

    async def objects(self, prefix: str = VIDEO_KEYS) -> AsyncIterator[StoredObject]:
        found = await asyncio.to_thread(self._list, prefix)
        for stored in found:
            yield stored

    def _list(self, prefix: str) -> list[StoredObject]:
        start = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        found = []
        for directory, subdirectories, names in os.walk(start):
            subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
            for name in names:
                path = Path(directory, name)
                key = path.relative_to(self.root).as_posix()
                if name.startswith(".") or not key.startswith(prefix):
                    continue
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                found.append(StoredObject(key, stat.st_size, stat.st_mtime))
        return found

    async def check(self) -> None:
        def probe() -> None:
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".readyz-") as file:
                file.write(b"ok")
                file.flush()

        await asyncio.to_thread(probe)

    def spool_dir(self) -> Path:
        return self._spool

    async def aclose(self) -> None:
        return None
