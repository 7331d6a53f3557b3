"""The operator in the console: add a channel, top up an account, change a price, and see
revenue and cost move; every change lands in the audit log (console and admin API)."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, expect

from tests.browser.conftest import ADMIN_KEY, customer, new_page, screenshot, sign_in
from tests.e2e.conftest import UPSTREAM_KEY, Gateway


def _complete_one_video(gateway: Gateway, secret: str) -> None:
    client = gateway.client(secret)
    video = client.videos.create_and_poll(
        model="veo-3.1-fast-generate-preview", prompt="a red kite", seconds="4"
    )
    assert video.status == "completed", video.error


def _chart_bars(page: object) -> list[str]:
    return page.locator("#money-chart rect").evaluate_all(  # type: ignore[attr-defined]
        "rects => rects.filter(r => +r.getAttribute('height') > 0).map(r => r.textContent)"
    )


def test_operator_adds_a_channel_tops_up_reprices_and_sees_revenue_change(
    browser: Browser, console_gateway: Gateway
) -> None:
    secret, account_id = customer(console_gateway, "3")
    _complete_one_video(console_gateway, secret)  # $0.30 at the default price
    context, page = new_page(browser, console_gateway)
    sign_in(page, ADMIN_KEY, operator=True)
    expect(page.locator("[data-test=revenue]")).to_have_text("$0.30")
    bars_before = _chart_bars(page)
    assert any("revenue: $0.30" in bar for bar in bars_before)
    screenshot(page, "admin-overview")

    page.goto("/console/admin/channels")
    page.get_by_label("Name", exact=True).fill("second-pool")
    page.get_by_label("Kind").select_option("gemini")
    page.get_by_label("Base URL").fill(console_gateway.env["VEORELAY_GEMINI_BASE_URL"])
    page.get_by_label("Credentials").fill(UPSTREAM_KEY)
    page.get_by_role("button", name="Add channel").click()
    expect(page.get_by_text("Done: added.")).to_be_visible()
    row = page.locator("tr[data-channel=second-pool]")
    expect(row).to_contain_text("gemini")
    row.get_by_role("button", name="Test").click()
    expect(page.get_by_text("Done: test ok.")).to_be_visible()
    expect(page.locator("tr[data-channel=second-pool] .badge")).to_have_text("healthy")
    assert UPSTREAM_KEY not in page.content()
    screenshot(page, "admin-channels")

    page.goto(f"/console/admin/accounts/{account_id}")
    expect(page.locator("[data-test=balance]")).to_have_text("$2.70")
    page.get_by_label("Top-up amount").fill("25")
    page.get_by_label("Note", exact=True).fill("invoice 42")
    page.get_by_role("button", name="Top up").click()
    expect(page.locator("[data-test=balance]")).to_have_text("$27.70")
    expect(page.locator("td", has_text="invoice 42")).to_be_visible()
    assert console_gateway.balance(account_id) == 27_700_000
    screenshot(page, "admin-account")

    page.goto("/console/admin/prices")
    price_row = page.locator("tr[data-model='veo-3.1-fast-generate-preview']")
    price_row.get_by_label("Per-call price of veo-3.1-fast-generate-preview").fill("0.5")
    price_row.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Done: saved.")).to_be_visible()
    screenshot(page, "admin-prices")

    _complete_one_video(console_gateway, secret)  # $0.50 now (the price cache is 5 s at most)
    page.goto("/console/admin")
    expect(page.locator("[data-test=revenue]")).to_have_text("$0.80")
    assert _chart_bars(page) != bars_before
    assert any("revenue: $0.80" in bar for bar in _chart_bars(page))

    page.goto(f"/console/admin/usage?account={account_id}")
    expect(page.locator("tbody tr")).to_have_count(2)
    with page.expect_download() as waiting:
        page.get_by_role("link", name="Export CSV").click()
    exported = waiting.value.path().read_text().splitlines()
    assert "upstream_cost_usd" in exported[0].split(",")
    assert len(exported) == 3

    page.goto("/console/admin/audit")
    for action in ("channel.create", "account.top_up", "model.patch"):
        expect(page.locator("tr", has_text=action).first).to_contain_text("console")
    screenshot(page, "admin-audit")
    audit = httpx.get(
        f"{console_gateway.url}/admin/api/audit",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    ).json()["data"]
    top_up = next(row for row in audit if row["action"] == "account.top_up")
    assert top_up["actor"] == "console"
    assert top_up["target"] == account_id
    assert top_up["before"]["balance_micros"] == 2_700_000
    assert top_up["after"]["balance_micros"] == 27_700_000
    patch = next(row for row in audit if row["action"] == "model.patch")
    assert patch["before"]["per_call_usd"] == "0.300000"
    assert patch["after"]["per_call_usd"] == "0.500000"
    created = next(row for row in audit if row["action"] == "channel.create")
    assert created["target"] == "second-pool" or created["after"]["name"] == "second-pool"
    assert UPSTREAM_KEY not in str(audit)
    context.close()


def test_admin_api_changes_are_audited_as_admin_api(console_gateway: Gateway) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    made = httpx.post(
        f"{console_gateway.url}/admin/api/accounts",
        json={"name": "audited", "balance_usd": "1"},
        headers=headers,
    ).json()
    rows = httpx.get(
        f"{console_gateway.url}/admin/api/audit", params={"action": "account."}, headers=headers
    ).json()["data"]
    mine = [row for row in rows if row["target"] == made["id"]]
    assert [(row["action"], row["actor"]) for row in mine] == [("account.create", "admin-api")]
    assert mine[0]["before"] is None
    assert mine[0]["after"]["balance_micros"] == 1_000_000


def test_codes_made_by_the_operator_are_redeemed_by_a_customer(
    browser: Browser, console_gateway: Gateway
) -> None:
    operator, page = new_page(browser, console_gateway)
    sign_in(page, ADMIN_KEY, operator=True)
    page.goto("/console/admin/codes")
    page.get_by_label("Amount per code").fill("2.5")
    page.get_by_label("Number of codes").fill("2")
    page.get_by_role("button", name="Create codes").click()
    first, second = page.locator("#new-codes").inner_text().split()
    page.goto("/console/admin/codes")  # shown once
    assert first not in page.content()
    expect(page.locator("tbody tr")).to_have_count(2)
    page.locator("tbody tr").filter(has_text="open").first.get_by_role(
        "button", name="Revoke"
    ).click()
    expect(page.get_by_text("Done: revoked.")).to_be_visible()

    secret, account_id = customer(console_gateway, "0")
    context, shopper = new_page(browser, console_gateway)
    sign_in(shopper, secret)
    redeemed = []
    for code in (first, second):
        shopper.goto("/console/usage")
        shopper.get_by_label("Redemption code").fill(code)
        shopper.get_by_role("button", name="Redeem").click()
        if shopper.get_by_text("Code redeemed: $2.50").is_visible():
            redeemed.append(code)
        else:
            expect(shopper.locator(".error")).to_be_visible()
    assert len(redeemed) == 1  # the other one was revoked
    assert console_gateway.balance(account_id) == 2_500_000
    context.close()
    operator.close()
