"""Videos in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, GCS interop).

A verified spool file goes up as a multipart upload read from disk a part at a time, and counts
as stored only once the bucket reports its full size. Downloads are streamed with the client's
Range passed through, or answered with a presigned URL (`redirect_seconds`).
"""

from __future__ import annotations

import contextlib
import mimetypes
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from veorelay.core.ranges import ByteRange, resolve_range
from veorelay.storage.base import (
    VIDEO_KEYS,
    RangeNotSatisfiable,
    RedirectedVideo,
    StoredObject,
    StreamedVideo,
)

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

PART_SIZE = 8 * 1024 * 1024
CHUNK_SIZE = 1024 * 1024
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$")
_MISSING = {"404", "NoSuchKey", "NotFound"}


class StorageError(Exception):
    """The bucket did not confirm what we stored."""


class S3Storage:
    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        prefix: str = "",
        spool: Path,
        redirect_seconds: int = 0,
        part_size: int = PART_SIZE,
        stack: AsyncExitStack | None = None,
    ):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.redirect_seconds = redirect_seconds
        self.part_size = part_size
        self._spool = spool
        self._spool.mkdir(parents=True, exist_ok=True)
        self._stack = stack

    @classmethod
    async def connect(
        cls,
        bucket: str,
        *,
        spool: Path,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        redirect_seconds: int = 0,
        part_size: int = PART_SIZE,
    ) -> S3Storage:
        config = AioConfig(
            signature_version="s3v4",
            # Path-style and checksums only where required: what S3-compatible stores accept.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            connect_timeout=10,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
        )
        stack = AsyncExitStack()
        client = await stack.enter_async_context(
            get_session().create_client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                config=config,
            )
        )
        return cls(
            client,
            bucket,
            prefix=prefix,
            spool=spool,
            redirect_seconds=redirect_seconds,
            part_size=part_size,
            stack=stack,
        )

    def _full(self, key: str) -> str:
        if not _KEY.match(key) or ".." in key.split("/"):
            raise ValueError(f"invalid storage key {key!r}")
        return self.prefix + key

    async def put_file(self, key: str, source: Path) -> int:
        full = self._full(key)
        size = (await anyio.Path(source).stat()).st_size
        media_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        upload = await self.client.create_multipart_upload(
            Bucket=self.bucket, Key=full, ContentType=media_type
        )
        upload_id = upload["UploadId"]
        try:
            parts = await self._upload_parts(full, upload_id, source)
            await self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=full,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=full, UploadId=upload_id
                )
            raise
        stored = await self.size(key)
        if stored != size:
            await self.delete(key)
            raise StorageError(f"the bucket holds {stored} bytes of {key}, not {size}")
        return size

    async def _upload_parts(self, full: str, upload_id: str, source: Path) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        async with await anyio.open_file(source, "rb") as handle:
            while True:
                data = await handle.read(self.part_size)
                if not data and parts:
                    return parts
                number = len(parts) + 1
                answer = await self.client.upload_part(
                    Bucket=self.bucket, Key=full, UploadId=upload_id, PartNumber=number, Body=data
                )
                parts.append({"ETag": answer["ETag"], "PartNumber": number})
                if len(data) < self.part_size:
                    return parts

    async def size(self, key: str) -> int | None:
        head = await self._head(key)
        return None if head is None else int(head["ContentLength"])

    async def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return dict(await self.client.head_object(Bucket=self.bucket, Key=self._full(key)))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise

    async def open(
        self,
        key: str,
        byte_range: ByteRange | None = None,
        *,
        body: bool = True,
        filename: str | None = None,
        redirect: bool = True,
    ) -> StreamedVideo | RedirectedVideo | None:
        if self.redirect_seconds and redirect:
            return await self._presigned(key, filename)
        if not body:
            return await self._head_only(key, byte_range)
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": self._full(key)}
        if byte_range is not None:
            request["Range"] = byte_range.header()  # passed through as the client asked
        try:
            answer = await self.client.get_object(**request)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            if _code(exc) == "InvalidRange":
                size = await self.size(key)
                if size is None:
                    return None
                raise RangeNotSatisfiable(size) from None
            raise
        stream = answer["Body"]
        length = int(answer["ContentLength"])
        content_range = answer.get("ContentRange")
        if content_range:  # "bytes 10-99/1234"
            span, total = content_range.removeprefix("bytes ").split("/")
            first, last = (int(part) for part in span.split("-"))
            size = int(total)
        else:
            first, last, size = 0, length - 1, length
        modified = answer.get("LastModified")
        return StreamedVideo(
            size=size,
            first=first,
            last=last,
            partial=content_range is not None and byte_range is not None,
            etag=answer.get("ETag"),
            last_modified=modified.timestamp() if modified else None,
            chunks=stream.iter_chunks(CHUNK_SIZE),
            close=stream.aclose,
        )

    async def _head_only(self, key: str, byte_range: ByteRange | None) -> StreamedVideo | None:
        head = await self._head(key)
        if head is None:
            return None
        size = int(head["ContentLength"])
        span = resolve_range(byte_range, size)
        if span is None:
            raise RangeNotSatisfiable(size)
        modified = head.get("LastModified")
        return StreamedVideo(
            size=size,
            first=span[0],
            last=span[1],
            partial=byte_range is not None,
            etag=head.get("ETag"),
            last_modified=modified.timestamp() if modified else None,
            chunks=None,
            close=_nothing,
        )

    async def _presigned(self, key: str, filename: str | None) -> RedirectedVideo | None:
        if await self._head(key) is None:
            return None
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._full(key)}
        if filename is not None:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        url = await self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self.redirect_seconds
        )
        return RedirectedVideo(url)

    async def delete(self, key: str) -> None:
        await self.client.delete_object(Bucket=self.bucket, Key=self._full(key))

    async def objects(self, prefix: str = VIDEO_KEYS) -> AsyncIterator[StoredObject]:
        async for stored in self._list(self.prefix + prefix):
            yield stored

    async def _list(self, full_prefix: str) -> AsyncIterator[StoredObject]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=full_prefix
        )
        async for page in pages:
            for item in page.get("Contents", []):
                yield StoredObject(
                    key=item["Key"][len(self.prefix) :],
                    size=int(item["Size"]),
                    modified_at=item["LastModified"].timestamp(),
                )

    async def check(self) -> None:
        await self.client.head_bucket(Bucket=self.bucket)

    def spool_dir(self) -> Path:
        return self._spool

    async def aclose(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


async def _nothing() -> None:
    return None
