"""Where finished videos live. The engine verifies a file locally, then hands it over here."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol


@dataclass
class OpenedVideo:
    """A stored video, opened: it stays readable to the end even if its key is deleted
    meanwhile, so an answer that has started is never cut short."""

    file: BinaryIO
    stat: os.stat_result
    path: Path  # for logs and the response's name; never to be opened again

    def close(self) -> None:
        self.file.close()


class VideoStorage(Protocol):
    async def put_file(self, key: str, source: Path) -> int:
        """Take ownership of the verified local file `source`; atomic: all or nothing."""
        ...

    async def size(self, key: str) -> int | None: ...

    async def open(self, key: str) -> OpenedVideo | None:
        """The video opened for reading, or None if it is not stored (deleted, expired)."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A path the OS can send from directly, if this backend has one."""
        ...

    async def delete(self, key: str) -> None: ...

    def spool_dir(self) -> Path:
        """A local scratch directory for downloads in progress (same disk, for atomic moves)."""
        ...
