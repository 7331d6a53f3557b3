"""The storage the settings ask for (`VEORELAY_STORAGE`)."""

from __future__ import annotations

from veorelay.settings import Settings
from veorelay.storage.base import VideoStorage
from veorelay.storage.filesystem import FilesystemStorage


async def open_storage(settings: Settings) -> VideoStorage:
    """Filesystem storage in data_dir/videos, or the S3 bucket; close it with `aclose()`."""
    if settings.storage == "filesystem":
        return FilesystemStorage(settings.data_dir / "videos")
    from veorelay.storage.s3 import S3Storage  # the S3 client is only loaded when used

    assert settings.s3_bucket is not None  # Settings refuses s3 without a bucket
    secret = settings.s3_secret_access_key
    return await S3Storage.connect(
        settings.s3_bucket,
        spool=settings.data_dir / "spool",
        prefix=settings.s3_prefix,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=secret.get_secret_value() if secret else None,
        redirect_seconds=settings.s3_presigned_redirect_seconds,
    )


def storage_description(settings: Settings) -> str:
    """Where videos go, as the log may say it (never a credential)."""
    if settings.storage == "filesystem":
        return f"files in {(settings.data_dir / 'videos').resolve()}"
    where = settings.s3_endpoint_url or "AWS S3"
    return f"s3://{settings.s3_bucket}/{settings.s3_prefix.strip('/')} at {where}"
