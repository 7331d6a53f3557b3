"""Browser tests of the web console: Playwright for Python driving the system's Chromium
(scripts/chromium-up installs Debian's), against a real gateway and simulator on loopback.

Screenshots of each main page land in test-artifacts/console/ (VEORELAY_TEST_ARTIFACTS)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.e2e.conftest import Gateway, gateway_env, start_gateway, start_simulator

ADMIN_KEY = "console-admin-key-0123456789abcdef"
CHROMIUM = os.environ.get("VEORELAY_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("VEORELAY_TEST_ARTIFACTS", "test-artifacts")) / "console"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def console_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One simulator for every console test module: it keeps no state a test depends on."""
    process, url = start_simulator(tmp_path_factory.mktemp("console-simulator"))
    yield url
    process.stop()


@pytest.fixture(scope="module")
def console_gateway(
    console_simulator: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """A gateway with an admin key per test module: the modules' revenue and sign-in
    throttles stay their own."""
    data_dir = tmp_path_factory.mktemp("console") / "data"
    env = gateway_env(data_dir, console_simulator) | {"VEORELAY_ADMIN_KEY": ADMIN_KEY}
    gateway = start_gateway(data_dir, env)
    yield gateway
    gateway.process.stop()


def new_page(browser: Browser, gateway: Gateway) -> tuple[BrowserContext, Page]:
    context = browser.new_context(base_url=gateway.url, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    return context, page


def sign_in(page: Page, secret: str, *, operator: bool = False) -> None:
    page.goto("/console/sign-in")
    if operator:
        page.get_by_label("Admin key (operator)").check()
    page.get_by_label("Secret").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/admin" if operator else "**/console/dashboard")


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def customer(gateway: Gateway, balance: str = "10") -> tuple[str, str]:
    """(secret, account id) of a new account with one token, made through the admin API
    (quicker than the CLI that Gateway.token runs, and the console tests have a key)."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    account = httpx.post(
        f"{gateway.url}/admin/api/accounts",
        json={"name": "customer", "balance_usd": balance},
        headers=headers,
    )
    account.raise_for_status()
    token = httpx.post(
        f"{gateway.url}/admin/api/tokens",
        json={"account_id": account.json()["id"], "name": "test"},
        headers=headers,
    )
    token.raise_for_status()
    return token.json()["secret"], account.json()["id"]
