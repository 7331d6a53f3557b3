"""Send a stored video that is already open: Range, HEAD and a 200 of the whole file, read from
the handle the storage opened, so a delete in the middle never cuts the answer short."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi.responses import FileResponse
from starlette.types import Receive, Scope, Send

from veorelay.storage.base import OpenedVideo


class VideoFileResponse(FileResponse):
    # Each chunk is one hand-off to a worker thread; 1 MiB chunks make a video a few hand-offs.
    chunk_size = 1024 * 1024

    def __init__(
        self,
        video: OpenedVideo,
        filename: str,
        status_code: int = 200,
        media_type: str = "video/mp4",
    ):
        super().__init__(
            video.path,
            status_code=status_code,
            media_type=media_type,
            filename=filename,
            content_disposition_type="attachment",
            stat_result=video.stat,  # never stat the path again: it may be gone by now
        )
        self.video = video

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # "Send this path" would reopen a file that may have been deleted meanwhile.
        extensions = dict(scope.get("extensions") or {})
        extensions.pop("http.response.pathsend", None)
        try:
            await super().__call__({**scope, "extensions": extensions}, receive, send)
        finally:  # HEAD and 416 never read the file
            self.video.close()

    @asynccontextmanager
    async def _open_file(self) -> AsyncIterator[anyio.AsyncFile[bytes]]:
        yield anyio.wrap_file(self.video.file)
