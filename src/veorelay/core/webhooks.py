"""Webhooks: which events a task's end raises, their payload, their signature, when to retry.

Events have the shape of OpenAI's video webhooks (`{"id": "evt_…", "object": "event",
"created_at", "type": "video.completed", "data": {"id": "video_…"}}`) and are signed as the
Standard Webhooks scheme says: HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}` with
the secret's bytes (`whsec_` + base64), sent as `webhook-signature: v1,<base64>`. The
`webhook-id` is the same on every attempt of one delivery, so a receiver can drop duplicates.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
from enum import StrEnum
from urllib.parse import urlsplit

from veorelay.core.lifecycle import TaskState
from veorelay.errors import InvalidRequest

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
# Standard Webhooks' schedule: after the first attempt, retry after these many seconds. The
# last retry comes about 27.6 hours after the first attempt; then the delivery has failed.
RETRY_DELAYS: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_URL_LENGTH = 2000


class EventType(StrEnum):
    VIDEO_COMPLETED = "video.completed"
    VIDEO_FAILED = "video.failed"


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # every retry used up, or the endpoint was disabled or deleted


EVENT_OF_STATE: dict[TaskState, EventType] = {
    TaskState.COMPLETED: EventType.VIDEO_COMPLETED,
    TaskState.FAILED: EventType.VIDEO_FAILED,
}


def event_body(event_id: str, event: EventType, task_id: str, created_at: float) -> str:
    """The JSON body sent for `event`, fixed once so every attempt sends the same bytes."""
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "created_at": int(created_at),
            "type": event.value,
            "data": {"id": task_id},
        },
        separators=(",", ":"),
    )


def secret_text(raw: bytes) -> str:
    """A signing secret as it is shown to its owner and given to verification libraries."""
    return SECRET_PREFIX + base64.b64encode(raw).decode()


def secret_hint(secret: str) -> str:
    """Enough of a secret to recognise it, too little to use it."""
    return f"{SECRET_PREFIX}…{secret[-4:]}"


def signature(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` value of one attempt (`v1,<base64 HMAC-SHA256>`)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets: list[str], message_id: str, timestamp: int, body: str) -> dict[str, str]:
    """The headers of one attempt; several secrets (a rotation in progress) sign side by side."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, message_id, timestamp, body) for s in secrets),
    }


def next_attempt_delay(attempts: int, time_scale: float) -> float | None:
    """Seconds to wait after the `attempts`-th failed attempt, or None: no retry is left."""
    if attempts < 1 or attempts > len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[attempts - 1] * time_scale


def should_disable(failing_since: float | None, now: float, disable_after: float) -> bool:
    """An endpoint that has failed every attempt for `disable_after` seconds is turned off."""
    return failing_since is not None and now - failing_since >= disable_after


def check_url(url: str) -> str:
    """An http(s) URL with a host and no credentials in it; else a 400."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidRequest(f"url is longer than {MAX_URL_LENGTH} characters.", param="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise InvalidRequest("url is not a valid URL.", param="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest("url must be an http:// or https:// URL with a host.", param="url")
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest("url must not contain a user name or password.", param="url")
    return url


def is_public_address(address: str) -> bool:
    """Whether `address` is a public unicast address (not loopback, private, link-local, …)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def host_of(url: str) -> str:
    hostname = urlsplit(url).hostname
    assert hostname is not None  # check_url made sure
    return hostname


_INWARD_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")


def check_target(url: str, allow_private: bool) -> str:
    """`url` if a webhook may be registered for it; a 400 for a malformed URL or one that
    plainly names a loopback or private host. (Names are resolved, and their addresses
    checked, when each delivery is sent: an API request makes no outside call.)"""
    check_url(url)
    if allow_private:
        return url
    host = host_of(url).lower().rstrip(".")
    try:
        inward = not is_public_address(host)
    except ValueError:  # a name, not an address
        inward = host == "localhost" or host.endswith(_INWARD_SUFFIXES)
    if inward:
        raise InvalidRequest(
            "url must not point at a loopback or private address (the operator can allow "
            "that with VEORELAY_WEBHOOK_ALLOW_PRIVATE).",
            param="url",
            code="webhook_target_refused",
        )
    return url
