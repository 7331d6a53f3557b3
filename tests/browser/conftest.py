"""Browser tests of the web console: Playwright for Python driving the system's Chromium
(scripts/chromium-up installs Debian's), against a real gateway and simulator on loopback.

Screenshots of each main page land in test-artifacts/console/ (VEORELAY_TEST_ARTIFACTS)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(scope="module")
def console_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One gateway (with an admin key) and simulator for a test module."""
    directory = tmp_path_factory.mktemp("console")
    simulator, simulator_url = start_simulator(directory)
    data_dir = directory / "data"
    env = gateway_env(data_dir, simulator_url) | {"VEORELAY_ADMIN_KEY": ADMIN_KEY}
    gateway = start_gateway(data_dir, env)
    yield gateway
    gateway.process.stop()
    simulator.stop()


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
