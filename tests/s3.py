"""A real S3-compatible server on loopback (moto's server mode) and buckets on it."""

from __future__ import annotations

import uuid
from typing import Any

import boto3

# moto accepts any credentials; the gateway is given these as an operator would give real ones.
ACCESS_KEY_ID = "AKIAVEORELAYTEST0000"
SECRET_ACCESS_KEY = "veorelay-test-secret-never-logged"
REGION = "us-east-1"


def s3_client(endpoint_url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


def new_bucket(endpoint_url: str) -> str:
    name = f"veorelay-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint_url).create_bucket(Bucket=name)
    return name


def s3_env(endpoint_url: str, bucket: str, prefix: str = "") -> dict[str, str]:
    """The gateway's VEORELAY_* settings for that bucket."""
    return {
        "VEORELAY_STORAGE": "s3",
        "VEORELAY_S3_BUCKET": bucket,
        "VEORELAY_S3_PREFIX": prefix,
        "VEORELAY_S3_ENDPOINT_URL": endpoint_url,
        "VEORELAY_S3_REGION": REGION,
        "VEORELAY_S3_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "VEORELAY_S3_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    }


def object_keys(endpoint_url: str, bucket: str) -> list[str]:
    listed = s3_client(endpoint_url).list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))
