"""The operator's API under /admin/api, authenticated with VEORELAY_ADMIN_KEY (never a token).

Money goes in as USD (`"10.50"` or a number, exact to the micro-dollar) and comes out as both
`*_micros` (integers, exact) and `*_usd` (strings). The CLI's operator commands call these
same handlers, so the two cannot disagree.
"""

from fastapi import APIRouter

from veorelay.api.admin import accounts, audit, catalog, channels, tokens, usage, webhooks

router = APIRouter()
for part in (accounts, tokens, catalog, channels, usage, webhooks, audit):
    router.include_router(part.router)

__all__ = ["accounts", "audit", "catalog", "channels", "router", "tokens", "usage", "webhooks"]
