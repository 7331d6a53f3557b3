"""The pure rules behind downloads from a remote store and retention."""

from __future__ import annotations

import pytest

from veorelay.core.ranges import ByteRange, parse_range, resolve_range
from veorelay.core.retention import KeyFamilies, Listed, is_expired, orphans


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        ("bytes=10-99", ByteRange(10, 99)),
        ("bytes=10-", ByteRange(10, None)),
        ("bytes=-16", ByteRange(None, 16)),
        (" bytes = 0 - 0 ", ByteRange(0, 0)),
        (None, None),
        ("bytes=0-1,5-6", None),  # several ranges: the whole video
        ("bytes=9-3", None),  # invalid: ignored, as RFC 9110 says
        ("bytes=-", None),
        ("items=0-5", None),
    ],
)
def test_one_range_is_parsed_and_anything_else_means_the_whole_video(
    header: str | None, parsed: ByteRange | None
) -> None:
    assert parse_range(header) == parsed
    if parsed is not None:
        assert parse_range(parsed.header()) == parsed  # what is passed on to the store


@pytest.mark.parametrize(
    ("asked", "span"),
    [
        (None, (0, 999)),
        (ByteRange(10, 99), (10, 99)),
        (ByteRange(990, 5000), (990, 999)),
        (ByteRange(None, 16), (984, 999)),
        (ByteRange(None, 5000), (0, 999)),
        (ByteRange(1000, None), None),
        (ByteRange(None, 0), None),
    ],
)
def test_a_range_resolves_against_the_size(
    asked: ByteRange | None, span: tuple[int, int] | None
) -> None:
    assert resolve_range(asked, 1000) == span


def test_expiry_is_inclusive_and_unset_never_expires() -> None:
    assert is_expired(100.0, 100.0)
    assert not is_expired(100.0, 99.9)
    assert not is_expired(None, 1e12)


def test_a_key_belongs_to_the_task_whose_key_prefixes_it() -> None:
    families = KeyFamilies(["videos/ab/video_1-aa.mp4", "v/x.mp4"])
    assert families.owns("videos/ab/video_1-aa.mp4")
    assert families.owns("videos/ab/video_1-aa.mp4.thumb.jpg")
    assert families.owns("v/x.mp4.sprite.jpg")
    assert not families.owns("videos/ab/video_1-ab.mp4")
    assert not families.owns("videos/ab/video_1")
    assert not KeyFamilies([]).owns("videos/ab/video_1-aa.mp4")


def test_only_unowned_keys_older_than_the_cutoff_are_orphans() -> None:
    families = KeyFamilies(["videos/a.mp4"])
    listed = [
        Listed("videos/a.mp4.thumb.jpg", 10.0),
        Listed("videos/b.mp4", 10.0),
        Listed("videos/c.mp4", 50.0),  # too young to judge
    ]
    assert orphans(listed, families, older_than=20.0) == ["videos/b.mp4"]
