"""The usage limits of a token and of its account (pure; the clock is an argument)."""

from __future__ import annotations

import pytest

from veorelay.core.access import TokenPolicy, Usage, check_usage
from veorelay.errors import RateLimited

NOW = 1_000_000.0


def check(policy: TokenPolicy, token: Usage = Usage(), account: Usage = Usage()) -> None:
    check_usage(
        policy,
        token=token,
        account=account,
        spent_micros=0,
        price_micros=300_000,
        retry_in_flight_after=30.0,
        now=NOW,
    )


def test_account_rpm_counts_the_last_minute_of_all_its_tokens() -> None:
    policy = TokenPolicy(account_rpm_limit=2)
    check(policy, account=Usage(recent_creates=[NOW - 61, NOW - 70, NOW - 5]))
    with pytest.raises(RateLimited) as refused:
        check(policy, account=Usage(recent_creates=[NOW - 50, NOW - 5]))
    assert refused.value.code == "rpm_limit_exceeded"
    assert refused.value.message == "This account may create 2 videos a minute."
    assert refused.value.retry_after == pytest.approx(10.0)


def test_account_in_flight_limit_is_its_own() -> None:
    policy = TokenPolicy(max_in_flight=5, account_max_in_flight=2)
    check(policy, token=Usage(in_flight=1), account=Usage(in_flight=1))
    with pytest.raises(RateLimited) as refused:
        check(policy, token=Usage(in_flight=1), account=Usage(in_flight=2))
    assert (refused.value.code, refused.value.retry_after) == ("too_many_in_flight", 30.0)
    assert "This account may have 2 videos" in refused.value.message


def test_the_token_limit_is_named_first() -> None:
    policy = TokenPolicy(rpm_limit=1, account_rpm_limit=1)
    with pytest.raises(RateLimited) as refused:
        check(policy, token=Usage(recent_creates=[NOW - 1]), account=Usage([NOW - 1]))
    assert refused.value.message.startswith("This token may")


def test_no_account_limits_means_none_checked() -> None:
    assert not TokenPolicy(rpm_limit=1, max_in_flight=1).has_account_limits
    check(TokenPolicy(), account=Usage(recent_creates=[NOW] * 1000, in_flight=1000))
