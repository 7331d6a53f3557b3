"""Bearer-token authentication, with a short in-process cache so a status poll is one query."""

from __future__ import annotations

import time

from veorelay.db import accounts
from veorelay.db.accounts import TokenIdentity
from veorelay.db.database import Database
from veorelay.errors import AuthenticationFailed

CACHE_SECONDS = 10.0
BEARER_HINT = "Send Authorization: Bearer <token>."


class TokenCache:
    """Token lookups by secret. A change to a token (disable, limits) applies within `ttl`."""

    def __init__(self, ttl: float = CACHE_SECONDS, max_entries: int = 10_000):
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[str, tuple[TokenIdentity, float]] = {}

    def clear(self) -> None:
        self._entries.clear()

    async def authenticate(self, db: Database, authorization: str | None) -> TokenIdentity:
        """The token an `Authorization: Bearer <token>` header names."""
        return await self.identify(db, _bearer(authorization), BEARER_HINT)

    async def identify(self, db: Database, secret: str, hint: str) -> TokenIdentity:
        """The token `secret` is; `hint` says how to send one, in the 401 if it is none."""
        now = time.monotonic()
        cached = self._entries.get(secret)
        if cached is not None and cached[1] > now:  # (ttl 0: never cached)
            return cached[0]
        async with db.read() as conn:
            identity = await accounts.find_token(conn, secret)
        if identity is None:
            raise AuthenticationFailed(f"Invalid API token. {hint}")
        if self._ttl > 0:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[secret] = (identity, now + self._ttl)
        return identity


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise AuthenticationFailed(
            "Missing API token. Send Authorization: Bearer <token>.", code="missing_api_key"
        )
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise AuthenticationFailed(
            "Invalid Authorization header. Send Authorization: Bearer <token>."
        )
    return secret.strip()
