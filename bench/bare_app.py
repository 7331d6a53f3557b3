"""The status-poll reference: a bare ASGI app answering a Video-sized JSON, served by uvicorn
with the options `veorelay serve` uses (uvicorn's defaults for loop and HTTP, so uvloop and
httptools when installed; access log off). Run as `python bench/bare_app.py PORT`."""

from __future__ import annotations

import json
import sys
from typing import Any

import uvicorn

# The size and shape of the gateway's Video object (about 440 bytes).
BODY = json.dumps(
    {
        "id": "video_1e3d818dbca7184a16736f27578d84dd",
        "task_id": "video_1e3d818dbca7184a16736f27578d84dd",
        "object": "video",
        "model": "veo-3.1-fast-generate-preview",
        "status": "completed",
        "progress": 100,
        "created_at": 1796246739,
        "completed_at": 1796246741,
        "expires_at": 1796851541,
        "seconds": "8",
        "size": "1920x1080",
        "resolution": "1080p",
        "aspect_ratio": "16:9",
        "prompt": "bench",
        "negative_prompt": None,
        "seed": None,
        "remixed_from_video_id": None,
        "error": None,
        "status_detail": None,
    },
    separators=(",", ":"),
).encode()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def main() -> None:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
