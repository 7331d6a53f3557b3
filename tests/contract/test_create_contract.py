"""Every parameter, precedence rule, limit and error of the spec documents, over HTTP.

One row per rule. Each row runs as JSON and as multipart/form-data (where the row can be said
in both), against a real gateway process whose engine is off: only the contract matters here.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.e2e.conftest import Gateway, gateway_env, start_gateway
from tests.helpers import png_bytes
from tests.unit.test_images import declared_png

FAST = "veo-3.1-fast-generate-preview"
PNG = png_bytes()
PNG_B64 = base64.b64encode(PNG).decode()
GIF = b"GIF89a" + b"\x00" * 64
TRUNCATED_PNG = png_bytes(640, 360)[:200]
BOMB_PNG = declared_png(13_400, 13_400)  # 179.6 million pixels declared in 100-odd bytes


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), "green").save(buffer, "JPEG")
    return buffer.getvalue()


def webp() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), "red").save(buffer, "WEBP")
    return buffer.getvalue()


@dataclass
class Row:
    name: str
    fields: dict[str, Any]
    files: list[tuple[str, bytes]] = field(default_factory=list)  # multipart only
    json_only: bool = False
    multipart_only: bool = False
    # accepted:
    seconds: str | None = None
    size: str | None = None
    resolution: str | None = None
    aspect_ratio: str | None = None
    # refused:
    status: int = 200
    code: str | None = None
    param: str | None = None
    echo: dict[str, Any] = field(default_factory=dict)


def ok(name: str, fields: dict[str, Any], seconds: str, size: str, **extra: Any) -> Row:
    resolution = {"720": "720p", "1080": "1080p", "2160": "4k"}[
        str(min(int(n) for n in size.split("x")))
    ]
    aspect = "16:9" if int(size.split("x")[0]) > int(size.split("x")[1]) else "9:16"
    return Row(
        name,
        fields,
        seconds=seconds,
        size=size,
        resolution=resolution,
        aspect_ratio=aspect,
        **extra,
    )


def bad(name: str, fields: dict[str, Any], code: str, param: str | None, **extra: Any) -> Row:
    return Row(name, fields, status=400, code=code, param=param, **extra)


ACCEPTED = [
    ok("defaults: 8 s, 720p, 16:9", {}, "8", "1280x720"),
    ok("seconds 4", {"seconds": "4"}, "4", "1280x720"),
    ok("seconds 6", {"seconds": "6"}, "6", "1280x720"),
    ok("seconds as a JSON integer (leniency)", {"seconds": 6}, "6", "1280x720", json_only=True),
    ok("duration wins over seconds", {"seconds": "4", "duration": "6"}, "6", "1280x720"),
    ok(
        "metadata.durationSeconds wins over duration",
        {"seconds": "8", "duration": "6", "metadata": {"durationSeconds": 4}},
        "4",
        "1280x720",
    ),
    ok("metadata as a JSON string", {"metadata": '{"durationSeconds": "6"}'}, "6", "1280x720"),
    ok("duration as a JSON integer (leniency)", {"duration": 4}, "4", "1280x720", json_only=True),
    ok("resolution in capitals", {"resolution": "1080P"}, "8", "1920x1080"),
    ok("4K in capitals, in metadata", {"metadata": {"resolution": "4K"}}, "8", "3840x2160"),
    ok("size with a capital X", {"size": "720X1280"}, "8", "720x1280"),
    ok(
        "seed as a JSON integer",
        {"seed": 42},
        "8",
        "1280x720",
        json_only=True,
        echo={"seed": 42},
    ),
    ok("size 720x1280", {"size": "720x1280"}, "8", "720x1280"),
    ok("size 1920x1080", {"size": "1920x1080"}, "8", "1920x1080"),
    ok("size 1080x1920", {"size": "1080x1920"}, "8", "1080x1920"),
    ok("size 3840x2160", {"size": "3840x2160"}, "8", "3840x2160"),
    ok("size 2160x3840", {"size": "2160x3840"}, "8", "2160x3840"),
    ok("resolution wins over size", {"size": "1280x720", "resolution": "1080p"}, "8", "1920x1080"),
    ok(
        "aspectRatio wins over size", {"size": "1920x1080", "aspectRatio": "9:16"}, "8", "1080x1920"
    ),
    ok(
        "metadata.resolution wins over resolution",
        {"resolution": "1080p", "metadata": {"resolution": "4k"}},
        "8",
        "3840x2160",
    ),
    ok(
        "metadata.aspectRatio wins over aspectRatio",
        {"aspectRatio": "16:9", "metadata": {"aspectRatio": "9:16"}},
        "8",
        "720x1280",
    ),
    ok(
        "4k + 9:16 reports 2160x3840", {"resolution": "4k", "aspectRatio": "9:16"}, "8", "2160x3840"
    ),
    ok(
        "the documents' 8 s 1080p portrait row",
        {"seconds": "8", "size": "1080x1920", "resolution": "1080p", "aspectRatio": "9:16"},
        "8",
        "1080x1920",
    ),
    ok(
        "the documents' 4K landscape row",
        {
            "seconds": "8",
            "duration": "8",
            "size": "3840x2160",
            "resolution": "4k",
            "aspectRatio": "16:9",
            "metadata": '{"durationSeconds":8,"resolution":"4k","aspectRatio":"16:9"}',
        },
        "8",
        "3840x2160",
    ),
    ok(
        "negativePrompt and seed are echoed",
        {"negativePrompt": "blurry, watermark", "seed": "88888"},
        "8",
        "1280x720",
        echo={"negative_prompt": "blurry, watermark", "seed": 88888},
    ),
    ok("image as raw base64", {"input_reference": PNG_B64}, "8", "1280x720"),
    ok(
        "image as a data: URL",
        {"input_reference": f"data:image/png;base64,{PNG_B64}"},
        "8",
        "1280x720",
    ),
    ok(
        "image as input_reference[image_url] data URL",
        {"input_reference[image_url]": f"data:image/png;base64,{PNG_B64}"},
        "8",
        "1280x720",
        multipart_only=True,
    ),
    ok(
        "image as {image_url} object",
        {"input_reference": {"image_url": f"data:image/png;base64,{PNG_B64}"}},
        "8",
        "1280x720",
        json_only=True,
    ),
    ok(
        "image as a PNG file part",
        {},
        "8",
        "1280x720",
        files=[("ref.png", PNG)],
        multipart_only=True,
    ),
    ok(
        "image as a WebP file part",
        {},
        "8",
        "1280x720",
        files=[("ref.webp", webp())],
        multipart_only=True,
    ),
    ok(
        "image as a JPEG file part, 4k",
        {"size": "3840x2160"},
        "8",
        "3840x2160",
        files=[("ref.jpg", jpeg())],
        multipart_only=True,
    ),
]

REFUSED = [
    bad("seconds 5", {"seconds": "5"}, "INVALID_ARGUMENT", "seconds"),
    bad("seconds 12 (OpenAI's Sora length)", {"seconds": "12"}, "INVALID_ARGUMENT", "seconds"),
    bad("seconds not a number", {"seconds": "eight"}, "INVALID_ARGUMENT", "seconds"),
    bad("seconds a float", {"seconds": 4.5}, "parse_request_failed", "seconds", json_only=True),
    bad("seconds a boolean", {"seconds": True}, "parse_request_failed", "seconds", json_only=True),
    bad("duration 3", {"duration": "3"}, "INVALID_ARGUMENT", "duration"),
    bad(
        "a bad seconds is refused even when duration wins",
        {"duration": "8", "seconds": "-1"},
        "INVALID_ARGUMENT",
        "seconds",
    ),
    bad(
        "a bad resolution is refused even when metadata wins",
        {"metadata": {"resolution": "4k"}, "resolution": "8k"},
        "INVALID_ARGUMENT",
        "resolution",
    ),
    bad(
        "metadata.durationSeconds 5",
        {"metadata": {"durationSeconds": 5}},
        "INVALID_ARGUMENT",
        "metadata.durationSeconds",
    ),
    bad("1080p needs 8 s", {"resolution": "1080p", "seconds": "4"}, "INVALID_ARGUMENT", "seconds"),
    bad("4k needs 8 s", {"size": "3840x2160", "seconds": "6"}, "INVALID_ARGUMENT", "seconds"),
    bad(
        "metadata 4k needs 8 s",
        {"metadata": {"resolution": "4k", "durationSeconds": 4}},
        "INVALID_ARGUMENT",
        "metadata.durationSeconds",
    ),
    bad(
        "1080p needs 8 s, named by the duration that won",
        {"size": "1920x1080", "seconds": "8", "duration": "6"},
        "INVALID_ARGUMENT",
        "duration",
    ),
    bad("seconds in superscript digits", {"seconds": "\u00b2"}, "INVALID_ARGUMENT", "seconds"),
    bad("seconds in Arabic-Indic digits", {"seconds": "\u0668"}, "INVALID_ARGUMENT", "seconds"),
    bad("seed in superscript digits", {"seed": "\u00b9\u00b2"}, "INVALID_ARGUMENT", "seed"),
    bad(
        "metadata.durationSeconds a float",
        {"metadata": {"durationSeconds": 8.0}},
        "parse_request_failed",
        "metadata.durationSeconds",
    ),
    bad(
        "metadata.durationSeconds a boolean",
        {"metadata": {"durationSeconds": True}},
        "parse_request_failed",
        "metadata.durationSeconds",
    ),
    bad(
        "metadata.aspectRatio unknown",
        {"metadata": {"aspectRatio": "4:3"}},
        "INVALID_ARGUMENT",
        "metadata.aspectRatio",
    ),
    bad("size not a string", {"size": 1280}, "parse_request_failed", "size", json_only=True),
    bad(
        "resolution not a string",
        {"resolution": 720},
        "parse_request_failed",
        "resolution",
        json_only=True,
    ),
    bad(
        "aspectRatio not a string",
        {"aspectRatio": 1.78},
        "parse_request_failed",
        "aspectRatio",
        json_only=True,
    ),
    bad("unknown size", {"size": "1792x1024"}, "INVALID_ARGUMENT", "size"),
    bad("size with an asterisk", {"size": "1280*720"}, "INVALID_ARGUMENT", "size"),
    bad("size with a multiplication sign", {"size": "1280\u00d7720"}, "INVALID_ARGUMENT", "size"),
    bad("unknown resolution", {"resolution": "8k"}, "INVALID_ARGUMENT", "resolution"),
    bad("unknown aspect ratio", {"aspectRatio": "1:1"}, "INVALID_ARGUMENT", "aspectRatio"),
    bad(
        "metadata.resolution unknown",
        {"metadata": {"resolution": "2k"}},
        "INVALID_ARGUMENT",
        "metadata.resolution",
    ),
    bad(
        "metadata not JSON", {"metadata": "{durationSeconds: 8"}, "parse_request_failed", "metadata"
    ),
    bad("metadata not an object", {"metadata": "[8]"}, "parse_request_failed", "metadata"),
    bad("generateAudio true", {"generateAudio": "true"}, "INVALID_ARGUMENT", "generateAudio"),
    bad(
        "generateAudio false",
        {"generateAudio": False},
        "INVALID_ARGUMENT",
        "generateAudio",
        json_only=True,
    ),
    bad(
        "generateAudio in metadata",
        {"metadata": {"generateAudio": True}},
        "INVALID_ARGUMENT",
        "generateAudio",
    ),
    bad("referenceImages", {"referenceImages": "[]"}, "INVALID_ARGUMENT", "referenceImages"),
    bad("lastFrame", {"lastFrame": PNG_B64}, "INVALID_ARGUMENT", "lastFrame"),
    bad("video extension", {"video": "video_123"}, "INVALID_ARGUMENT", "video"),
    bad("unknown model", {"model": "sora-2"}, "model_not_found", "model"),
    bad("model missing", {"model": None}, "missing_required_parameter", "model"),
    bad("prompt missing", {"prompt": None}, "missing_required_parameter", "prompt"),
    bad("prompt empty", {"prompt": "  "}, "INVALID_ARGUMENT", "prompt"),
    bad("prompt too long", {"prompt": "x" * 4001}, "INVALID_ARGUMENT", "prompt"),
    bad("prompt not a string", {"prompt": 7}, "parse_request_failed", "prompt", json_only=True),
    bad("prompt with a NUL character", {"prompt": "a\x00b"}, "INVALID_ARGUMENT", "prompt"),
    bad(
        "prompt with a lone surrogate",
        {"prompt": "a\ud800b"},
        "INVALID_ARGUMENT",
        "prompt",
        json_only=True,
    ),
    bad(
        "negativePrompt too long",
        {"negativePrompt": "x" * 2001},
        "INVALID_ARGUMENT",
        "negativePrompt",
    ),
    bad(
        "negativePrompt not a string",
        {"negativePrompt": ["blurry"]},
        "parse_request_failed",
        "negativePrompt",
        json_only=True,
    ),
    bad("seed negative", {"seed": "-5"}, "INVALID_ARGUMENT", "seed"),
    bad("seed too large", {"seed": "4294967296"}, "INVALID_ARGUMENT", "seed"),
    bad(
        "image by remote URL",
        {"input_reference": "https://example.com/a.png"},
        "INVALID_ARGUMENT",
        "input_reference",
    ),
    bad(
        "image by input_reference[image_url] URL",
        {"input_reference[image_url]": "https://example.com/a.png"},
        "INVALID_ARGUMENT",
        "input_reference",
        multipart_only=True,
    ),
    bad(
        "image by {image_url} remote URL",
        {"input_reference": {"image_url": "https://example.com/a.png"}},
        "INVALID_ARGUMENT",
        "input_reference",
        json_only=True,
    ),
    bad(
        "image as a data: URL without base64",
        {"input_reference": "data:image/png,abc"},
        "INVALID_ARGUMENT",
        "input_reference",
    ),
    bad("image under another name", {"image": PNG_B64}, "INVALID_ARGUMENT", "image"),
    bad("images list", {"images": [PNG_B64]}, "INVALID_ARGUMENT", "images", json_only=True),
    bad(
        "an image over 20 MB as base64 in JSON",
        {"input_reference": base64.b64encode(PNG + b"\x00" * (20 * 1024 * 1024)).decode()},
        "INVALID_ARGUMENT",
        "input_reference",
        json_only=True,
    ),
    bad(
        "image by file_id",
        {"input_reference": {"file_id": "file-abc"}},
        "INVALID_ARGUMENT",
        "input_reference",
        json_only=True,
    ),
    bad(
        "image by input_reference[file_id]",
        {"input_reference[file_id]": "file-abc"},
        "INVALID_ARGUMENT",
        "input_reference",
        multipart_only=True,
    ),
    bad(
        "two images",
        {"input_reference": PNG_B64},
        "INVALID_ARGUMENT",
        "input_reference",
        files=[("ref.png", PNG)],
        multipart_only=True,
    ),
    bad(
        "two image files",
        {},
        "INVALID_ARGUMENT",
        "input_reference",
        files=[("a.png", PNG), ("b.png", PNG)],
        multipart_only=True,
    ),
    bad(
        "a GIF",
        {"input_reference": base64.b64encode(GIF).decode()},
        "INVALID_ARGUMENT",
        "input_reference",
    ),
    bad(
        "a GIF file",
        {},
        "INVALID_ARGUMENT",
        "input_reference",
        files=[("a.gif", GIF)],
        multipart_only=True,
    ),
    bad(
        "a PNG that does not decode",
        {},
        "INVALID_ARGUMENT",
        "input_reference",
        files=[("broken.png", TRUNCATED_PNG)],
        multipart_only=True,
    ),
    bad(
        "a PNG declaring 13400x13400 pixels",
        {"input_reference": base64.b64encode(BOMB_PNG).decode()},
        "INVALID_ARGUMENT",
        "input_reference",
    ),
    bad(
        "a PNG file declaring 13400x13400 pixels",
        {},
        "INVALID_ARGUMENT",
        "input_reference",
        files=[("bomb.png", BOMB_PNG)],
        multipart_only=True,
    ),
    bad(
        "not base64", {"input_reference": "%%%not-base64%%%"}, "INVALID_ARGUMENT", "input_reference"
    ),
    bad(
        "an image over 20 MB",
        {},
        "INVALID_ARGUMENT",
        "input_reference",
        files=[("huge.png", PNG + b"\x00" * (20 * 1024 * 1024))],
        multipart_only=True,
    ),
]


def cases(rows: list[Row]) -> list[Any]:
    out = []
    for row in rows:
        for encoding in ("json", "multipart"):
            if (encoding == "json" and (row.multipart_only or row.files)) or (
                encoding == "multipart" and row.json_only
            ):
                continue
            out.append(pytest.param(row, encoding, id=f"{encoding}: {row.name}"))
    return out


def send(gateway: Gateway, token: str, row: Row, encoding: str) -> httpx.Response:
    fields = {"model": FAST, "prompt": "a contract", **row.fields}
    fields = {k: v for k, v in fields.items() if v is not None}
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{gateway.url}/v1/videos"
    if encoding == "json":  # json.dumps escapes to ASCII, so even a lone surrogate can be sent
        headers["Content-Type"] = "application/json"
        return httpx.post(url, content=json.dumps(fields), headers=headers, timeout=30)
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
    files = [("input_reference", (name, data)) for name, data in row.files]
    # httpx sends urlencoded without files; force multipart with an empty file list marker
    return httpx.post(url, data=form, files=files or {"": ("", b"")}, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, str]]:
    data_dir = tmp_path_factory.mktemp("contract") / "data"
    env = {**gateway_env(data_dir, simulator_url=None), "VEORELAY_ENGINE_ENABLED": "false"}
    gateway = start_gateway(data_dir, env)
    yield gateway, gateway.token("1000")[0]
    gateway.process.stop()


@pytest.fixture(scope="module")
def stranger(api: tuple[Gateway, str]) -> str:
    """A token of another account."""
    return api[0].token("1")[0]


def count(gateway: Gateway, token: str) -> int:
    return len(gateway.query("SELECT id FROM tasks"))


@pytest.mark.parametrize(("row", "encoding"), cases(ACCEPTED))
def test_accepted(api: tuple[Gateway, str], row: Row, encoding: str) -> None:
    gateway, token = api
    response = send(gateway, token, row, encoding)
    assert response.status_code == 200, response.text
    video = response.json()
    assert video["status"] == "queued"
    assert video["object"] == "video"
    assert video["task_id"] == video["id"]
    assert (video["seconds"], video["size"], video["resolution"], video["aspect_ratio"]) == (
        row.seconds,
        row.size,
        row.resolution,
        row.aspect_ratio,
    )
    for key, value in row.echo.items():
        assert video[key] == value


@pytest.mark.parametrize(("row", "encoding"), cases(REFUSED))
def test_refused(api: tuple[Gateway, str], row: Row, encoding: str) -> None:
    gateway, token = api
    before = count(gateway, token)
    balance_before = gateway.query("SELECT balance_micros FROM accounts")
    response = send(gateway, token, row, encoding)
    assert response.status_code == row.status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["code"], error["param"]) == (row.code, row.param)
    assert error["type"] == "invalid_request_error"
    assert count(gateway, token) == before  # nothing written
    assert gateway.query("SELECT balance_micros FROM accounts") == balance_before


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("application/json", b"{not json", 400, "parse_request_failed"),
        ("application/json", b"[1, 2]", 400, "parse_request_failed"),
        ("text/plain", b"make me a video", 415, "unsupported_media_type"),
        ("multipart/form-data; boundary=x", b"--x\r\nbroken", 400, "parse_request_failed"),
    ],
)
def test_unreadable_bodies(
    api: tuple[Gateway, str], content_type: str, body: bytes, status: int, code: str
) -> None:
    gateway, token = api
    response = httpx.post(
        f"{gateway.url}/v1/videos",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    ("query", "code", "param"),
    [
        ("limit=0", "INVALID_ARGUMENT", "limit"),
        ("limit=101", "INVALID_ARGUMENT", "limit"),
        ("limit=ten", "parse_request_failed", "limit"),
        ("order=sideways", "INVALID_ARGUMENT", "order"),
    ],
)
def test_list_parameters(api: tuple[Gateway, str], query: str, code: str, param: str) -> None:
    gateway, token = api
    response = httpx.get(
        f"{gateway.url}/v1/videos?{query}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 400
    assert (response.json()["error"]["code"], response.json()["error"]["param"]) == (code, param)


@pytest.mark.parametrize("encoding", ["json", "multipart", "chunked"])
def test_oversized_bodies_are_refused_with_413(api: tuple[Gateway, str], encoding: str) -> None:
    gateway, token = api
    before = count(gateway, token)
    huge = PNG + b"\x00" * (40 * 1024 * 1024)
    headers = {"Authorization": f"Bearer {token}"}
    if encoding == "json":
        body = {"model": FAST, "prompt": "x", "input_reference": base64.b64encode(huge).decode()}
        response = httpx.post(f"{gateway.url}/v1/videos", json=body, headers=headers, timeout=60)
    elif encoding == "chunked":  # no Content-Length: counted as it arrives

        def chunks() -> Iterator[bytes]:
            for _ in range(40):
                yield b"\x00" * (1024 * 1024)

        response = httpx.post(
            f"{gateway.url}/v1/videos",
            content=chunks(),
            timeout=60,
            headers={**headers, "Content-Type": "application/json"},
        )
    else:
        response = httpx.post(
            f"{gateway.url}/v1/videos",
            data={"model": FAST, "prompt": "x"},
            files={"input_reference": ("big.png", huge)},
            headers=headers,
            timeout=60,
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert count(gateway, token) == before


def test_unknown_query_parameters_are_ignored(api: tuple[Gateway, str]) -> None:
    gateway, token = api  # LiteLLM adds ?video_id= to content requests
    response = httpx.get(
        f"{gateway.url}/v1/videos/video_nope/content?video_id=video_nope",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 404


def test_insufficient_balance(api: tuple[Gateway, str]) -> None:
    gateway, _ = api
    poor = gateway.token("0.29")[0]
    response = send(gateway, poor, ok("x", {}, "8", "1280x720"), "json")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "insufficient_quota"


def test_openapi_describes_both_bodies(api: tuple[Gateway, str]) -> None:
    gateway, _ = api
    spec = httpx.get(f"{gateway.url}/openapi.json").json()
    content = spec["paths"]["/v1/videos"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "multipart/form-data"}
    for schema in content.values():
        assert set(schema["schema"]["required"]) == {"model", "prompt"}
        assert {
            "seconds",
            "duration",
            "size",
            "resolution",
            "aspectRatio",
            "metadata",
            "negativePrompt",
            "seed",
            "input_reference",
        } <= set(schema["schema"]["properties"])
    assert set(spec["paths"]) >= {
        "/v1/videos",
        "/v1/videos/{video_id}",
        "/v1/videos/{video_id}/content",
        "/v1/video/generations/{task_id}",
    }
    schemes = spec["components"]["securitySchemes"]
    assert schemes["token"] == schemes["adminKey"] | {
        "description": schemes["token"]["description"]
    }
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"]  # validation errors are 400s
            if path != "/health":
                expected = "adminKey" if path.startswith("/admin/") else "token"
                assert operation["security"] == [{expected: []}], (method, path)
                assert "authorization" not in {p["name"] for p in operation.get("parameters", [])}


@pytest.mark.parametrize(
    ("files", "data", "code", "param"),
    [
        ({"picture": ("a.png", PNG)}, {}, "INVALID_ARGUMENT", "picture"),
        (
            {"input_reference": ("a.png", PNG)},
            {"seconds": ["4", "6"]},
            "parse_request_failed",
            "seconds",
        ),
    ],
    ids=["a file under another name", "a field given twice"],
)
def test_odd_multipart_forms(
    api: tuple[Gateway, str], files: dict[str, Any], data: dict[str, Any], code: str, param: str
) -> None:
    gateway, token = api
    before = count(gateway, token)
    response = httpx.post(
        f"{gateway.url}/v1/videos",
        data={"model": FAST, "prompt": "x", **data},
        files=files,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert (response.json()["error"]["code"], response.json()["error"]["param"]) == (code, param)
    assert count(gateway, token) == before


@pytest.mark.parametrize(
    "path",
    [
        "/v1/videos/%F0%9F%8E%AC",
        "/v1/videos/video_0123/content",
        "/v1/video/generations/not-a-task",
    ],
)
def test_malformed_ids_are_unknown(api: tuple[Gateway, str], path: str) -> None:
    gateway, token = api
    response = httpx.get(f"{gateway.url}{path}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert error["param"] == ("task_id" if "generations" in path else "video_id")


def test_an_empty_or_malformed_after_cursor(api: tuple[Gateway, str]) -> None:
    gateway, token = api
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(2):
        send(gateway, token, ok("x", {}, "8", "1280x720"), "json")
    first = httpx.get(f"{gateway.url}/v1/videos?limit=2", headers=headers).json()
    assert len(first["data"]) == 2
    empty_cursor = httpx.get(f"{gateway.url}/v1/videos?limit=2&after=", headers=headers).json()
    assert [v["id"] for v in empty_cursor["data"]] == [v["id"] for v in first["data"]]
    unknown_cursor = httpx.get(f"{gateway.url}/v1/videos?after=video_nope", headers=headers)
    assert unknown_cursor.status_code == 200
    assert unknown_cursor.json()["data"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/v1/videos/video_%00",
        "/v1/videos?after=video_%00",
        "/v1/video/generations/%00",
        "/admin/api/tokens/tok_%00",
        "/admin/api/usage?after=%00",
    ],
)
def test_nul_characters_in_the_url_are_refused(api: tuple[Gateway, str], path: str) -> None:
    gateway, token = api  # PostgreSQL cannot store NUL in text: it would otherwise be a 500
    response = httpx.get(f"{gateway.url}{path}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("method", "path", "authorization", "status", "code"),
    [
        ("GET", "/v1/videos", None, 401, "missing_api_key"),
        ("GET", "/v1/videos", "Bearer sk-vr-not-a-token", 401, "invalid_api_key"),
        ("GET", "/v1/videos", "Basic dXNlcjpwYXNz", 401, "invalid_api_key"),
        ("GET", "/v1/videos/{queued}", "own", 200, None),
        ("GET", "/v1/videos/{queued}", "other", 404, "not_found"),
        ("GET", "/v1/video/generations/{queued}", "other", 404, "not_found"),
        ("GET", "/v1/videos/{queued}/content", "own", 409, "video_not_ready"),
        ("GET", "/v1/videos/{queued}/content", "other", 404, "not_found"),
        ("DELETE", "/v1/videos/{queued}", "other", 404, "not_found"),
        ("GET", "/v1/videos/video_" + "0" * 32, "own", 404, "not_found"),
        ("PUT", "/v1/videos", "own", 405, "method_not_allowed"),
        ("GET", "/v1/nothing-here", "own", 404, "not_found"),
    ],
)
def test_error_table(
    api: tuple[Gateway, str],
    stranger: str,
    method: str,
    path: str,
    authorization: str | None,
    status: int,
    code: str | None,
) -> None:
    """The documented errors of the read side, each in the one error shape."""
    gateway, token = api
    queued = send(gateway, token, ok("x", {}, "8", "1280x720"), "json").json()["id"]
    secrets = {"own": f"Bearer {token}", "other": f"Bearer {stranger}"}
    headers = {}
    if authorization is not None:
        headers["Authorization"] = secrets.get(authorization, authorization)
    response = httpx.request(method, gateway.url + path.format(queued=queued), headers=headers)
    assert response.status_code == status, response.text
    if code is not None:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["code"] == code


def nested(depth: int) -> str:
    """A JSON object `depth` levels deep, written out (json.dumps itself would recurse)."""
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize(
    ("encoding", "body", "param"),
    [
        ("json", "[" * 1000 + "]" * 1000, None),
        ("json", '{"model": "m", "prompt": "p", "x": ' + nested(1000) + "}", None),
        ("json", '{"model": "m", "prompt": "p", "metadata": ' + nested(1000) + "}", None),
        ("json", json.dumps({"model": FAST, "prompt": "p", "metadata": nested(1000)}), "metadata"),
        ("json", json.dumps({"model": FAST, "prompt": "p", "metadata": nested(33)}), "metadata"),
        ("multipart", nested(1000), "metadata"),
        ("multipart", "[" * 100_000, "metadata"),
    ],
    ids=[
        "a bare array",
        "an extra field",
        "metadata object",
        "metadata string",
        "metadata string 33 deep",
        "multipart metadata",
        "multipart metadata unclosed",
    ],
)
def test_deeply_nested_json_is_refused(
    api: tuple[Gateway, str], encoding: str, body: str, param: str | None
) -> None:
    """Issue 13: JSON nested ~1000 deep raised RecursionError, a 500."""
    gateway, token = api
    before = count(gateway, token)
    headers = {"Authorization": f"Bearer {token}"}
    if encoding == "json":
        headers["Content-Type"] = "application/json"
        response = httpx.post(f"{gateway.url}/v1/videos", content=body, headers=headers)
    else:
        form = {"model": FAST, "prompt": "p", "metadata": body}
        response = httpx.post(
            f"{gateway.url}/v1/videos", data=form, files={"": ("", b"")}, headers=headers
        )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("parse_request_failed", param)
    assert count(gateway, token) == before
    assert "Traceback" not in gateway.process.log()


def test_json_nested_within_the_cap_is_read(api: tuple[Gateway, str]) -> None:
    gateway, token = api
    body = {"model": FAST, "prompt": "p", "metadata": json.loads(nested(30)), "seconds": "4"}
    response = httpx.post(
        f"{gateway.url}/v1/videos", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["seconds"] == "4"


def multipart_body(*parts: tuple[str, bytes], closed: bool = True) -> bytes:
    body = b"".join(
        b'--b0undary\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (name.encode(), value)
        for name, value in parts
    )
    return body + (b"--b0undary--\r\n" if closed else b"")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (multipart_body(("model", FAST.encode()), ("prompt", b"ok"), closed=False), None),
        (
            multipart_body(("model", FAST.encode()), ("prompt", b"ok"))[:-20],  # cut in a part
            None,
        ),
        (multipart_body(("model", FAST.encode()), ("prompt", b"caf\xe9 \xff\xfe")), "prompt"),
        (multipart_body(("model", FAST.encode()), ("prompt", b"a"), ("seed", b"\xc3")), "seed"),
    ],
    ids=["no closing boundary", "cut inside the last part", "latin-1 prompt", "broken seed"],
)
def test_malformed_multipart_is_refused(
    api: tuple[Gateway, str], body: bytes, param: str | None
) -> None:
    """Issue 13: these were read as if whole and valid (Starlette falls back to latin-1)."""
    gateway, token = api
    before = count(gateway, token)
    response = httpx.post(
        f"{gateway.url}/v1/videos",
        content=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "multipart/form-data; boundary=b0undary",
        },
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("parse_request_failed", param)
    assert count(gateway, token) == before


def test_well_formed_multipart_with_utf8_text_is_read(api: tuple[Gateway, str]) -> None:
    gateway, token = api
    prompt = "caf\u00e9 \u00d7 \U0001f3ac"
    body = multipart_body(("model", FAST.encode()), ("prompt", prompt.encode()))
    response = httpx.post(
        f"{gateway.url}/v1/videos",
        content=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "multipart/form-data; boundary=b0undary",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["prompt"] == prompt
