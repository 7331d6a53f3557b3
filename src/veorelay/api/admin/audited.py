"""The audit trail of operator changes: a decorator on each admin handler that changes
something. The admin API, the web console and the CLI all call these handlers, so every
change is recorded once, whichever door it came through (`ACTOR` says which)."""

from __future__ import annotations

import contextvars
import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from veorelay.db import audit, signals
from veorelay.errors import NotFound
from veorelay.services import Services

ACTOR: contextvars.ContextVar[str] = contextvars.ContextVar("audit_actor", default="cli")
# Answers that carry a secret shown once; the trail keeps that they were made, not the secret.
_NEVER_RECORDED = frozenset({"secret", "signing_secret", "codes", "api_key", "credentials"})

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])
Loader = Callable[[Services, str], Awaitable[Any]]


def audited(
    action: str, target: str | None = None, load: Loader | None = None
) -> Callable[[Handler], Handler]:
    """Record `action` on the argument named `target`, with the state `load` finds before
    the change and the handler's answer after it."""

    def wrap(handler: Handler) -> Handler:
        signature = inspect.signature(handler, eval_str=True)

        @functools.wraps(handler)
        async def run(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs).arguments
            services: Services = bound["services"]
            key = None if target is None else str(bound[target])
            before = None
            if load is not None and key is not None:
                try:
                    before = _as_dict(await load(services, key))
                except NotFound:
                    before = None  # the handler answers the 404 itself
            answer = await handler(*args, **kwargs)
            after = _as_dict(answer)
            async with services.db.write() as conn:
                await audit.record(
                    conn,
                    actor=ACTOR.get(),
                    action=action,
                    target=key or _id_of(after),
                    before=_recordable(before),
                    after=_recordable(after),
                    now=time.time(),
                )
                await signals.notify(conn, signals.CHANGES)  # other processes' caches
            services.forget_cached()  # this process's, at once (and on SQLite)
            return answer

        run.__signature__ = signature  # type: ignore[attr-defined]  # FastAPI reads it
        return run  # type: ignore[return-value]

    return wrap


def _as_dict(answer: Any) -> dict[str, Any]:
    """Handlers answer a dict or a pydantic model; the trail keeps plain JSON either way."""
    if isinstance(answer, BaseModel):
        return answer.model_dump(mode="json")
    return dict(answer)


def _id_of(answer: dict[str, Any]) -> str | None:
    if isinstance(answer.get("token"), dict):
        answer = answer["token"]
    for key in ("id", "batch_id", "name"):
        if isinstance(answer.get(key), str):
            return str(answer[key])
    return None


def _recordable(state: dict[str, Any] | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {k: v for k, v in state.items() if k not in _NEVER_RECORDED and k != "events"}
