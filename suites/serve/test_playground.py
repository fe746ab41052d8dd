"""The playground page in headless Chromium (Debian's ``chromium`` package, via Playwright).

Playwright's own browser download does not work here, so the system binary is launched
through ``executable_path``; without it these tests skip (CI installs it with apt-get).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from routelet.intents import LABELS
from suites.serve.fakes import EXPLODE

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the dev extra (playwright)")
expect = sync_api.expect
expect.set_options(timeout=10_000)

pytestmark = [pytest.mark.serve, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000  # also expect()'s, set above


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM}: apt-get install -y chromium")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def requested() -> list[str]:
    """Every URL the page fixture's page requests, in order."""
    return []


@pytest.fixture
def page(browser: Any, live_url: str, requested: list[str]) -> Iterator[Any]:
    """A fresh page showing the playground."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_url}/")
    yield page
    context.close()


def _route(page: Any, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")


# Assertions go through locators and `expect`, never string evaluation: the page's CSP
# forbids eval, and the tests run under that CSP like a user's browser does.


def test_typed_command_shows_intent(page: Any) -> None:
    """Typing a command and pressing Enter shows the predicted intent."""
    _route(page, "remember that my locker is 12")
    expect(page.locator("#intent")).to_have_text("memory")


def test_typing_routes_without_submit(page: Any) -> None:
    """Typing alone (no Enter) routes the command after a short pause."""
    page.locator("#text").press_sequentially("play jazz")
    expect(page.locator("#intent")).to_have_text("integration")


def test_distribution_has_one_bar_per_intent(page: Any) -> None:
    """The distribution shows one labelled bar per intent, in Intent order."""
    _route(page, "click the ok button")
    expect(page.locator("#bars .label")).to_have_text(list(LABELS))


def test_top_bar_width_matches_confidence(page: Any) -> None:
    """The predicted intent's bar is as wide as its confidence (90% for the fake router)."""
    _route(page, "click the ok button")
    expect(page.locator("#bars .top .fill")).to_have_attribute("style", "width: 90%;")


def test_confidence_is_shown(page: Any) -> None:
    """The confidence is shown as a percentage."""
    _route(page, "click the ok button")
    expect(page.locator("#confidence")).to_have_text("90.0%")


def test_deferral_is_flagged(page: Any) -> None:
    """A deferred prediction shows the `deferred` badge."""
    _route(page, "flarbo venti quix")
    expect(page.locator("#intent")).to_have_text("none")
    expect(page.locator("#deferred")).to_be_visible()


def test_confident_prediction_has_no_deferral_badge(page: Any) -> None:
    """A confident routable prediction hides the `deferred` badge."""
    _route(page, "play jazz")
    expect(page.locator("#intent")).to_have_text("integration")
    expect(page.locator("#deferred")).to_be_hidden()


def test_example_chip_routes_its_text(page: Any) -> None:
    """Clicking an example fills the box with it and routes it."""
    chip = page.locator("#examples button").first
    chip.click()
    expect(page.locator("#text")).to_have_value(chip.text_content())
    expect(page.locator("#intent")).not_to_be_empty()


def test_server_error_is_shown(page: Any) -> None:
    """An error answer shows the server's message."""
    _route(page, f"please {EXPLODE}")
    expect(page.locator("#error")).to_contain_text("router failed")


def test_page_shows_model_name(page: Any) -> None:
    """The header names the served model (from GET /healthz)."""
    expect(page.locator("#model")).to_have_text("fake-router")


def test_page_requests_only_its_own_server(page: Any, live_url: str, requested: list[str]) -> None:
    """Loading and using the page contacts no origin but the server (no CDN)."""
    _route(page, "play jazz")
    expect(page.locator("#intent")).to_have_text("integration")
    assert requested and all(url.startswith(f"{live_url}/") for url in requested)
