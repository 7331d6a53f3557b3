"""What the console refuses: forged forms, a customer on operator pages or another account's
video, script in a prompt, a stolen cookie after sign-out, and password guessing."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.browser.conftest import ADMIN_KEY, customer, new_page, screenshot, sign_in
from tests.e2e.conftest import Gateway

HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


def _csrf(page: object) -> str:
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")  # type: ignore[attr-defined]
    assert token
    return str(token)


def test_forms_without_the_session_csrf_token_are_refused(
    browser: Browser, console_gateway: Gateway
) -> None:
    secret, account_id = customer(console_gateway, "2")
    context, page = new_page(browser, console_gateway)
    sign_in(page, secret)
    page.goto("/console/tokens")
    form = {"name": "forged", "group": "default", "billing_mode": "per_request"}
    for forged in ({}, {"csrf_token": "not-the-token"}):
        answer = page.request.post("/console/tokens", form=form | forged)
        assert answer.status == 403
        assert answer.json()["error"]["code"] == "csrf_failed"
    assert console_gateway.query("SELECT name FROM tokens WHERE account_id = ?", account_id) == [
        ("test",)
    ]
    allowed = page.request.post("/console/tokens", form=form | {"csrf_token": _csrf(page)})
    assert allowed.status == 200
    context.close()

    operator, admin_page = new_page(browser, console_gateway)
    sign_in(admin_page, ADMIN_KEY, operator=True)
    admin_page.goto(f"/console/admin/accounts/{account_id}")
    answer = admin_page.request.post(
        f"/console/admin/accounts/{account_id}/top-up", form={"amount_usd": "1000"}
    )
    assert answer.status == 403
    assert console_gateway.balance(account_id) == 2_000_000
    operator.close()


def test_a_customer_reaches_neither_operator_pages_nor_other_accounts(
    browser: Browser, console_gateway: Gateway
) -> None:
    secret, _ = customer(console_gateway, "2")
    other_secret, _ = customer(console_gateway, "2")
    theirs = console_gateway.client(other_secret).videos.create(
        model="veo-3.1-fast-generate-preview", prompt="private", seconds="4"
    )
    context, page = new_page(browser, console_gateway)
    sign_in(page, secret)
    for path in ("/console/admin", "/console/admin/accounts", "/console/admin/audit"):
        assert page.goto(path).status == 403  # type: ignore[union-attr]
    expect(page.get_by_text("These pages are the operator's.")).to_be_visible()
    csrf = _csrf(page)
    answer = page.request.post(
        "/console/admin/channels/env-gemini/disable", form={"csrf_token": csrf}
    )
    assert answer.status == 403
    for path in (f"/console/videos/{theirs.id}", f"/console/videos/{theirs.id}/content"):
        assert page.goto(path).status == 404  # type: ignore[union-attr]
    assert (
        page.request.post(f"/console/videos/{theirs.id}/delete", form={"csrf_token": csrf}).status
        == 404
    )
    assert console_gateway.client(other_secret).videos.retrieve(theirs.id).id == theirs.id
    context.close()


def test_a_prompt_with_markup_is_shown_as_text(browser: Browser, console_gateway: Gateway) -> None:
    secret, _ = customer(console_gateway, "2")
    video = console_gateway.client(secret).videos.create(
        model="veo-3.1-fast-generate-preview", prompt=HOSTILE, seconds="4"
    )
    context, page = new_page(browser, console_gateway)
    sign_in(page, secret)
    for path in ("/console/videos", f"/console/videos/{video.id}"):
        response = page.goto(path)
        assert response is not None
        assert "script-src 'self'" in response.headers["content-security-policy"]
        expect(page.locator(".prompt").first).to_have_text(HOSTILE)
        assert page.evaluate("() => window.pwned") is None
        assert page.locator("img[src=x]").count() == 0
    context.close()


def test_session_cookie_is_locked_down_and_dies_at_sign_out(
    browser: Browser, console_gateway: Gateway
) -> None:
    context, page = new_page(browser, console_gateway)
    sign_in(page, ADMIN_KEY, operator=True)
    (cookie,) = [c for c in context.cookies() if c["name"] == "veorelay_console"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/console"
    stored = page.evaluate("() => JSON.stringify({...localStorage, ...sessionStorage})")
    assert ADMIN_KEY not in stored + str(context.cookies()) + page.url
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/sign-in")

    thief, stolen = new_page(browser, console_gateway)
    thief.add_cookies([cookie])
    stolen.goto("/console/admin")
    assert stolen.url.endswith("/console/sign-in")
    thief.close()
    context.close()


def test_sign_in_guessing_is_throttled(browser: Browser, console_gateway: Gateway) -> None:
    """Last in this module: it locks this loopback address out of this gateway's sign-in."""
    context, page = new_page(browser, console_gateway)
    page.goto("/console/sign-in")
    screenshot(page, "sign-in")
    statuses = []
    for attempt in range(11):
        page.goto("/console/sign-in")
        page.get_by_label("Secret").fill(f"sk-vr-guess-{attempt}")
        with page.expect_response(re.compile(r".*/console/sign-in$")) as answer:
            page.get_by_role("button", name="Sign in").click()
        statuses.append(answer.value.status)
    assert statuses == [401] * 10 + [429]
    expect(page.get_by_text("Too many failed sign-ins")).to_be_visible()
    secret, _ = customer(console_gateway)
    page.goto("/console/sign-in")  # even the right secret waits out the lockout
    page.get_by_label("Secret").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Too many failed sign-ins")).to_be_visible()
    context.close()
