"""The console's own CSS and JavaScript, served from the package (no build step)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response

from veorelay.errors import NotFound

router = APIRouter(prefix="/console")
_TYPES = {"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8"}


@cache
def _asset(name: str) -> bytes | None:
    path = files("veorelay.console").joinpath("static", name)
    return path.read_bytes() if path.is_file() else None


@router.get("/static/{name}")
async def asset(name: str) -> Response:
    kind = name.rpartition(".")[2]
    body = _asset(name) if kind in _TYPES and "/" not in name else None
    if body is None:
        raise NotFound(f"No console file {name!r}.")
    return Response(
        body,
        media_type=_TYPES[kind],
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )
