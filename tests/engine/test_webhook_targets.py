"""At delivery time the host is resolved and every address checked, then exactly that
address is dialled (Host and TLS name kept)."""

from __future__ import annotations

import pytest

from veorelay.engine.webhooks import RefusedTarget, pinned_url, resolve


async def test_a_name_resolving_to_loopback_is_refused_at_delivery() -> None:
    with pytest.raises(RefusedTarget, match="VEORELAY_WEBHOOK_ALLOW_PRIVATE"):
        await resolve("localhost", 80, allow_private=False)
    assert await resolve("127.0.0.1", 80, allow_private=True) == "127.0.0.1"


async def test_an_unresolvable_name_is_refused() -> None:
    with pytest.raises(RefusedTarget, match="cannot resolve"):
        await resolve("no-such-host.invalid", 80, allow_private=True)


def test_the_url_is_pinned_to_the_checked_address() -> None:
    assert pinned_url("https://hooks.example.com/a?b=1", "93.184.216.34") == (
        "https://93.184.216.34:443/a?b=1",
        "hooks.example.com",
    )
    assert pinned_url("http://h.example:8080/x", "2001:db8::1") == (
        "http://[2001:db8::1]:8080/x",
        "h.example:8080",
    )
