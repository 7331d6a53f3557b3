"""Where finished videos live. The engine verifies a file locally, then hands it over here."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class VideoStorage(Protocol):
    async def put_file(self, key: str, source: Path) -> int:
        """Take ownership of the verified local file `source`; atomic: all or nothing."""
        ...

    async def size(self, key: str) -> int | None: ...

    def local_path(self, key: str) -> Path | None:
        """A path the OS can send from directly, if this backend has one."""
        ...

    async def delete(self, key: str) -> None: ...

    def spool_dir(self) -> Path:
        """A local scratch directory for downloads in progress (same disk, for atomic moves)."""
        ...
