"""The streamed reader of inline (base64) Vertex videos: any chunking, escapes, 50 MB flat."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import tracemalloc
from collections.abc import Iterator

import pytest

from veorelay.upstream.inline import InlineVideoError, InlineVideoReader

VIDEO = os.urandom(30_000) + b"\xfb\xff\xfe" * 1000  # bytes whose base64 has "+" and "/"


def operation(*videos: bytes, escape_slashes: bool = False, extra: str = "") -> bytes:
    body = {
        "name": "projects/p/locations/us-central1/publishers/google/models/m/operations/1",
        "done": True,
        "response": {
            "@type": "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse",
            "videos": [
                {"bytesBase64Encoded": base64.b64encode(v).decode(), "mimeType": "video/mp4"}
                for v in videos
            ],
            "raiMediaFilteredCount": 0,
        },
    }
    text = json.dumps(body)
    if escape_slashes:  # what PHP and some Java encoders send
        text = text.replace("/", "\\/")
    return (text[:-1] + extra + "}").encode()


def read(doc: bytes, sizes: Iterator[int], wanted: int | None = 0) -> tuple[bytes, object]:
    reader = InlineVideoReader(wanted)
    out = bytearray()
    at = 0
    while at < len(doc):
        size = next(sizes)
        for piece in reader.feed(doc[at : at + size]):
            out += piece
        at += size
    return bytes(out), reader.rest()


def every(size: int) -> Iterator[int]:
    while True:
        yield size


def jittered(seed: int) -> Iterator[int]:
    rng = random.Random(seed)
    while True:
        yield rng.choice([1, 2, 3, 5, 7, 4096, 65_537])


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 6, 7, 64, 1000, 1 << 20])
def test_any_chunk_size_gives_the_same_bytes(size: int) -> None:
    video, rest = read(operation(VIDEO), every(size))
    assert video == VIDEO
    assert isinstance(rest, dict)
    assert rest["response"]["videos"] == [{"bytesBase64Encoded": "", "mimeType": "video/mp4"}]
    assert rest["done"] is True


@pytest.mark.parametrize("seed", range(5))
def test_escaped_slashes_cut_anywhere_are_undone(seed: int) -> None:
    doc = operation(VIDEO, escape_slashes=True)
    assert b"\\/" in doc
    video, rest = read(doc, jittered(seed))
    assert video == VIDEO
    assert isinstance(rest, dict)
    assert rest["name"].endswith("/operations/1")


def test_unicode_escapes_and_escaped_newlines_are_read_as_json_means_them() -> None:
    encoded = base64.b64encode(b"\x00\x01hello world\xff").decode()
    mangled = encoded[:4] + "\\n" + encoded[4:8].replace("A", "\\u0041") + encoded[8:-1] + "\\u003d"
    doc = ('{"response": {"videos": [{"bytesBase64Encoded": "' + mangled + '"}]}}').encode()
    for size in (1, 3, 5, 1000):
        assert read(doc, every(size))[0] == b"\x00\x01hello world\xff"


def test_the_wanted_video_is_picked_and_the_others_skipped() -> None:
    first, second = b"first video", b"second, longer video"
    assert read(operation(first, second), every(3), wanted=1)[0] == second
    assert read(operation(first, second), every(3), wanted=0)[0] == first
    assert read(operation(first, second), every(3), wanted=None)[0] == b""


def test_unpadded_and_url_safe_base64_are_accepted() -> None:
    data = b"\xfb\xff\xfe\x01"
    encoded = base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    doc = ('{"response": {"videos": [{"bytesBase64Encoded": "' + encoded + '"}]}}').encode()
    assert read(doc, every(2))[0] == data


def test_strings_elsewhere_are_not_videos() -> None:
    doc = json.dumps(
        {
            "metadata": {"bytesBase64Encoded": "bm90IGEgdmlkZW8="},
            "response": {"note": "bytesBase64Encoded", "videos": [{"gcsUri": "gs://b/o.mp4"}]},
            "name": 'quote \\" and "bytesBase64Encoded": "x"',
        }
    ).encode()
    reader = InlineVideoReader()
    assert reader.feed(doc) == []
    assert reader.seen == 0
    assert reader.rest() == json.loads(doc)


def test_seen_counts_a_video_as_soon_as_it_begins() -> None:
    doc = operation(VIDEO)
    start = doc.index(b"bytesBase64Encoded") + len(b'bytesBase64Encoded": "') + 10
    reader = InlineVideoReader(wanted=None)
    reader.feed(doc[:start])
    assert reader.seen == 1
    assert not reader.finished


def test_a_truncated_document_is_not_mistaken_for_a_finished_one() -> None:
    doc = operation(VIDEO)
    reader = InlineVideoReader()
    reader.feed(doc[: len(doc) // 2])
    assert not reader.finished
    with pytest.raises(InlineVideoError):
        reader.rest()


@pytest.mark.parametrize("content", ["abc$", 'ab\\"c', "abcd\\u00e9", "QUJD=QUJD", "A", "abc\\u00"])
def test_corrupt_base64_is_an_error(content: str) -> None:
    doc = ('{"response": {"videos": [{"bytesBase64Encoded": "' + content + '"}]}}').encode()
    with pytest.raises(InlineVideoError):
        read(doc, every(1))


def test_a_document_bloated_outside_its_videos_is_refused() -> None:
    doc = json.dumps({"name": "x" * 5000, "done": True}).encode()
    reader = InlineVideoReader(max_rest=4096)
    with pytest.raises(InlineVideoError):
        reader.feed(doc)


def test_a_50_mb_video_streams_through_in_little_memory() -> None:
    """50 MB of video (~67 MB of base64) in 64 KiB network chunks; nothing holds it whole."""
    piece, pieces = 3 * 21_846, 763  # 65,538 bytes a piece (a multiple of 3): 50.0 MB
    rng = random.Random(8)
    head = b'{"name": "projects/p/operations/9", "done": true, "response": {"videos": [{"'
    head += b'mimeType": "video/mp4", "bytesBase64Encoded": "'
    tail = b'"}], "raiMediaFilteredCount": 0}}'

    def network() -> Iterator[bytes]:
        pending = head
        for _ in range(pieces):
            pending += base64.b64encode(rng.randbytes(piece))
            while len(pending) >= 65_536:
                yield pending[:65_536]
                pending = pending[65_536:]
        yield pending + tail

    expected = hashlib.sha256()
    replay = random.Random(8)
    for _ in range(pieces):
        expected.update(replay.randbytes(piece))

    got, total = hashlib.sha256(), 0
    reader = InlineVideoReader()
    tracemalloc.start()
    try:
        for chunk in network():
            for decoded in reader.feed(chunk):
                got.update(decoded)
                total += len(decoded)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == piece * pieces
    assert got.hexdigest() == expected.hexdigest()
    assert reader.finished
    assert reader.rest()["response"]["videos"][0]["bytesBase64Encoded"] == ""
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes"
