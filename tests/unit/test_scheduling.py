"""The fair planner and the channel vocabulary, without servers."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from veorelay.core.channels import quota_day_start, upstream_cost
from veorelay.core.models import Resolution
from veorelay.core.scheduling import Candidate, ChannelSlot, plan, take_turns

FAST = "veo-3.1-fast-generate-preview"


def queue(account: str, n: int, start: float = 0.0) -> list[Candidate]:
    return [Candidate(f"{account}{i}", account, FAST, "default", start + i) for i in range(n)]


def slot(cid: str, **fields: object) -> ChannelSlot:
    return ChannelSlot(id=cid, models=frozenset({FAST}), groups=None, **fields)  # type: ignore[arg-type]


def test_a_single_task_is_not_starved_by_another_accounts_burst() -> None:
    burst = queue("a", 100)
    late = Candidate("b0", "b", FAST, "default", 1000.0)  # queued long after the burst
    chosen = plan([*burst, late], [slot("c", max_concurrent=3)])
    assert [a.task_id for a in chosen] == ["a0", "b0", "a1"]  # b in the first round


def test_accounts_take_turns_oldest_first_within_each() -> None:
    order = take_turns(queue("a", 3) + queue("b", 2, start=0.5), {"a": 0, "b": 0})
    assert [c.task_id for c in order] == ["a0", "b0", "a1", "b1", "a2"]


def test_an_account_with_work_in_flight_goes_after_idle_ones() -> None:
    order = take_turns(queue("a", 1) + queue("b", 1, start=5), {"a": 4})
    assert [c.task_id for c in order] == ["b0", "a0"]


def test_every_limit_caps_the_plan() -> None:
    assert len(plan(queue("a", 10), [slot("c", max_concurrent=5, in_flight=3)])) == 2
    assert len(plan(queue("a", 10), [slot("c", rpm=4, submits_last_minute=1)])) == 3
    assert len(plan(queue("a", 10), [slot("c", rpd=100, submits_today=99)])) == 1
    assert plan(queue("a", 10), [slot("c", max_concurrent=0)]) == []


def test_priority_first_then_load_relative_to_weight() -> None:
    high = slot("high", priority=1, max_concurrent=1)
    low_heavy = slot("heavy", weight=3)
    low_light = slot("light", weight=1)
    chosen = plan(queue("a", 5), [high, low_heavy, low_light])
    counts = {cid: [a.channel_id for a in chosen].count(cid) for cid in ("high", "heavy", "light")}
    assert counts["high"] == 1  # full after one
    assert counts["heavy"] > counts["light"]  # weight 3 takes more of the rest


def test_models_and_groups_restrict_channels() -> None:
    vip_only = ChannelSlot("vip", frozenset({FAST}), frozenset({"vip"}))
    other_model = ChannelSlot("std", frozenset({"veo-3.1-generate-preview"}), None)
    assert plan(queue("a", 2), [vip_only, other_model]) == []
    vip = [Candidate("v", "a", FAST, "vip", 0.0)]
    assert [a.channel_id for a in plan(vip, [vip_only, other_model])] == ["vip"]


def test_quota_days_start_at_midnight_pacific() -> None:
    pacific = ZoneInfo("America/Los_Angeles")
    noon = dt.datetime(2026, 12, 2, 12, 0, tzinfo=pacific).timestamp()
    start = dt.datetime.fromtimestamp(quota_day_start(noon), pacific)
    assert (start.date(), start.hour, start.minute) == (dt.date(2026, 12, 2), 0, 0)


def test_upstream_cost_is_per_second_of_the_resolution() -> None:
    costs = {Resolution.P720: 150_000, Resolution.K4: 350_000}
    assert upstream_cost(costs, Resolution.P720, 8) == 1_200_000
    assert upstream_cost(costs, Resolution.P1080, 8) == 0  # unknown: not guessed
