"""Videos as files under a root directory; a rename makes each write atomic."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from veorelay.storage.base import OpenedVideo

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

    async def open(self, key: str) -> OpenedVideo | None:
        path = self._path(key)

        def open_file() -> OpenedVideo | None:
            try:
                file = open(path, "rb")  # noqa: SIM115 - the response closes it
            except FileNotFoundError:
                return None
            return OpenedVideo(file=file, stat=os.fstat(file.fileno()), path=path)

        return await asyncio.to_thread(open_file)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)

    def spool_dir(self) -> Path:
        return self._spool
