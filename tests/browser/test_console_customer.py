"""A customer in the console: sign in with a token, create videos (text and image), watch
them complete, play and download them, make a token, read usage."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import customer, new_page, screenshot, sign_in
from tests.e2e.conftest import Gateway
from tests.helpers import png_bytes


def _create_from_form(page: Page, prompt: str, size: str, image: bytes | None = None) -> str:
    page.goto("/console/create")
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.get_by_label("Size").select_option(size)
    page.get_by_label("Duration").select_option("4")
    expect(page.locator("#price")).to_have_text("$0.30")  # veo-3.1-fast, per request
    if image is not None:
        page.set_input_files(
            "#image-input", files=[{"name": "first.png", "mimeType": "image/png", "buffer": image}]
        )
        expect(page.locator("#image-preview")).to_be_visible()
    page.get_by_role("button", name="Create video").click()
    page.wait_for_url("**/console/videos/video_*")
    return page.url.rsplit("/", 1)[1]


def _watch_until_playable(page: Page, width: int, height: int) -> None:
    """The page's own polling swaps the progress bar for a <video> once completed; the
    browser must then load real media of the right size and a positive duration."""
    player = page.locator("#player-video")
    expect(player).to_be_attached(timeout=120_000)
    page.wait_for_function(
        "() => { const v = document.querySelector('#player-video');"
        " return v && v.readyState >= 1 && v.duration > 0; }",
        timeout=60_000,
    )
    duration, shown_width, shown_height = page.evaluate(
        "() => { const v = document.querySelector('#player-video');"
        " return [v.duration, v.videoWidth, v.videoHeight]; }"
    )
    assert 3.5 < duration < 4.5
    assert (shown_width, shown_height) == (width, height)


def test_customer_creates_watches_downloads_and_makes_a_token(
    browser: Browser, console_gateway: Gateway
) -> None:
    secret, account_id = customer(console_gateway, "5")
    context, page = new_page(browser, console_gateway)
    sign_in(page, secret)
    expect(page.locator("[data-test=balance]")).to_have_text("$5.00")
    expect(page.get_by_text("No videos yet")).to_be_visible()

    text_id = _create_from_form(page, "A lighthouse at dawn, slow aerial pan", "1280x720")
    expect(page.locator("#prompt")).to_have_text("A lighthouse at dawn, slow aerial pan")
    _watch_until_playable(page, 1280, 720)
    screenshot(page, "video")
    with page.expect_download() as waiting:
        page.get_by_role("link", name="Download MP4").click()
    downloaded = waiting.value.path().read_bytes()
    assert downloaded[4:8] == b"ftyp"
    assert len(downloaded) > 10_000

    image_id = _create_from_form(
        page, "The blue square comes alive", "720x1280", image=png_bytes(720, 1280)
    )
    assert image_id != text_id
    _watch_until_playable(page, 720, 1280)
    has_image = console_gateway.query("SELECT has_image FROM tasks WHERE id = ?", image_id)
    assert has_image == [(1,)] or has_image == [(True,)]

    page.goto("/console/videos")
    expect(page.locator("article.video-card")).to_have_count(2)
    expect(page.locator("article.video-card video")).to_have_count(2)
    poster = page.locator("article.video-card video").first.get_attribute("poster")
    assert poster is not None
    thumbnail = page.request.get(poster)  # the session's cookie, no secret in the URL
    assert thumbnail.status == 200
    assert thumbnail.headers["content-type"] == "image/webp"
    screenshot(page, "videos")
    page.goto("/console/dashboard")
    expect(page.locator("[data-test=balance]")).to_have_text("$4.40")  # two videos at $0.30
    screenshot(page, "dashboard")

    page.goto("/console/tokens")
    expect(page).to_have_title("Tokens · veorelay console")
    page.get_by_label("Name", exact=True).fill("ci-robot")
    page.get_by_label("Billing mode").select_option("pay_as_you_go_priority")
    page.get_by_role("button", name="Create token").click()
    new_secret = page.locator("#new-secret").inner_text()
    assert new_secret.startswith("sk-vr-")
    screenshot(page, "tokens")
    me = httpx.get(
        f"{console_gateway.url}/v1/me", headers={"Authorization": f"Bearer {new_secret}"}
    )
    assert me.status_code == 200
    assert me.json()["account"]["id"] == account_id
    assert me.json()["token"]["billing_mode"] == "pay_as_you_go_priority"
    page.goto("/console/tokens")  # shown once: never again
    expect(page.locator("#new-secret")).to_have_count(0)
    assert new_secret not in page.content()
    expect(page.locator("tr", has_text="ci-robot")).to_be_visible()

    page.goto("/console/usage")
    expect(page.locator("tbody tr")).to_have_count(2)
    screenshot(page, "usage")
    with page.expect_download() as waiting:
        page.get_by_role("link", name="Export CSV").click()
    lines = waiting.value.path().read_text().splitlines()
    assert lines[0].startswith("id,created_at,model")
    assert {line.split(",")[0] for line in lines[1:]} == {text_id, image_id}

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/sign-in")
    page.goto("/console/dashboard")
    page.wait_for_url("**/console/sign-in")
    context.close()

    # On a phone, in the system's dark mode: nothing wider than the screen, dark colours.
    phone = browser.new_context(
        base_url=console_gateway.url, viewport={"width": 390, "height": 844}, color_scheme="dark"
    )
    page = phone.new_page()
    sign_in(page, secret)
    for path, name in (("/console/dashboard", "phone-dashboard"), ("/console/videos", None)):
        page.goto(path)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(16, 19, 24)"
        if name:
            screenshot(page, name)
    phone.close()


def test_a_console_login_signs_in_as_its_token_and_nothing_more(
    browser: Browser, console_gateway: Gateway
) -> None:
    secret, account_id = customer(console_gateway, "1")
    context, page = new_page(browser, console_gateway)
    sign_in(page, secret)
    page.goto("/console/tokens")
    page.get_by_label("Login username").fill("editor@example.com")
    page.get_by_label("Login password").fill("correct horse battery")
    page.get_by_role("button", name="Create login").click()
    expect(page.locator("td", has_text="editor@example.com")).to_be_visible()
    (stored,) = console_gateway.query("SELECT password_hash FROM console_logins")
    assert "correct horse battery" not in str(stored)
    context.close()

    context, page = new_page(browser, console_gateway)
    page.goto("/console/sign-in")
    page.get_by_label("Username", exact=False).fill("editor@example.com")
    page.get_by_label("Secret").fill("wrong password, sorry")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("That username or password was not accepted.")).to_be_visible()
    page.get_by_label("Username", exact=False).fill("editor@example.com")
    page.get_by_label("Secret").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/dashboard")
    expect(page.locator("[data-test=balance]")).to_have_text("$1.00")
    # It is a console sign-in only: the password is no API token.
    answer = httpx.get(
        f"{console_gateway.url}/v1/me",
        headers={"Authorization": "Bearer correct horse battery"},
    )
    assert answer.status_code == 401
    assert console_gateway.query(
        "SELECT account_id FROM console_logins WHERE username = 'editor@example.com'"
    ) == [(account_id,)]
    context.close()
