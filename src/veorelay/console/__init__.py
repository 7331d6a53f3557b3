"""The web console at /console: server-rendered pages for customers and the operator.

The pages call the same handlers and query functions as the APIs (api/, api/admin/), so the
console holds no business rule of its own. Security lives in `guard.py`: sessions, CSRF,
sign-in throttling; `render.py` adds the Content Security Policy to every page.
"""

from __future__ import annotations

from fastapi import APIRouter

from veorelay.console import customer, operator, signin, static, tokens, usage


def console_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for part in (signin, static, customer, tokens, usage, operator):
        router.include_router(part.router)
    return router
