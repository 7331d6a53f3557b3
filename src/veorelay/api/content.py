"""Send a stored video: a local file already open (Range, HEAD and a 200 of the whole file, read
from the handle the storage opened, so a delete in the middle never cuts the answer short), a
remote store's stream (its Range answer relayed), or a redirect to a presigned URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.utils import formatdate

import anyio
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from veorelay.storage.base import OpenedVideo, StoredVideo, StreamedVideo


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


class VideoStreamResponse(StreamingResponse):
    """A video (or a range of it) relayed from a remote store as it arrives."""

    def __init__(self, video: StreamedVideo, filename: str, media_type: str = "video/mp4"):
        headers = {
            "accept-ranges": "bytes",
            "content-length": str(video.last - video.first + 1),
            "content-disposition": f'attachment; filename="{filename}"',
        }
        if video.partial:
            headers["content-range"] = f"bytes {video.first}-{video.last}/{video.size}"
        if video.etag:
            headers["etag"] = video.etag
        if video.last_modified is not None:
            headers["last-modified"] = formatdate(video.last_modified, usegmt=True)
        super().__init__(
            video.chunks or _no_chunks(),
            status_code=206 if video.partial else 200,
            media_type=media_type,
            headers=headers,
        )
        self.video = video

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:  # also when the client goes away mid-answer
            await self.video.close()


async def _no_chunks() -> AsyncIterator[bytes]:
    return
    yield


def video_response(video: StoredVideo, filename: str, media_type: str = "video/mp4") -> Response:
    """The answer for a stored file: the local file, the relayed stream, or a redirect."""
    if isinstance(video, OpenedVideo):
        return VideoFileResponse(video, filename, media_type=media_type)
    if isinstance(video, StreamedVideo):
        return VideoStreamResponse(video, filename, media_type)
    return RedirectResponse(video.url, status_code=302)


def range_not_satisfiable(size: int) -> Response:
    return Response(status_code=416, headers={"content-range": f"bytes */{size}"})
