"""Pages: Jinja2 templates (every value escaped) with the console's security headers."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from veorelay.core.pricing import micros_to_usd

# No inline script or style anywhere: everything comes from /console/static.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def usd(micros: int | None) -> str:
    """Dollars with cents, and up to four decimals where a price needs them ($0.0015)."""
    if micros is None:
        return "—"
    value = micros_to_usd(micros)
    whole, _, fraction = f"{abs(value):,.4f}".partition(".")
    return f"{'-' if value < 0 else ''}${whole}.{fraction.rstrip('0').ljust(2, '0')}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def when(timestamp: float | None) -> str:
    if not timestamp:
        return "—"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("veorelay.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(usd=usd, duration=duration, when=when)
    return env


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    session = getattr(request.state, "console_session", None)
    html = (
        environment()
        .get_template(template)
        .render(request=request, session=session, now=time.time(), **context)
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


_TITLES = {
    400: "That did not work",
    401: "Sign-in needed",
    403: "Not allowed",
    404: "Not found",
    409: "Not possible right now",
    429: "Slow down",
}


def wants_page(request: Request) -> bool:
    """A console request from a browser navigation (not the page's own fetch calls)."""
    return request.url.path.startswith("/console") and "text/html" in request.headers.get(
        "accept", ""
    )


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    title = _TITLES.get(status, "Something went wrong")
    return page(request, "error.html", status_code=status, title=title, message=message)
