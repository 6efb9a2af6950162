"""A real server with committed demo data, and headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from bellyfed.demo.world import DemoSize
from bellyfed.dynamo.tables import create_tables
from tests.conftest import free_port, seeded_app

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Chromium's own background traffic is refused on this closed network; keep it quiet.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
SCREENSHOTS = (
    Path(os.environ.get("SCREENSHOT_DIR", "")) if os.environ.get("SCREENSHOT_DIR") else None
)


@dataclass(frozen=True)
class LiveServer:
    url: str
    database_url: str
    app: Flask  # to run the worker's tasks against the same database


@pytest.fixture(scope="session")
def live_server(aws_endpoint: str) -> Iterator[LiveServer]:
    """The app on its own database with demo data, served over HTTP from a thread."""
    with seeded_app("bellyfed_browser", aws_endpoint, DemoSize(restaurants=60, users=60)) as (
        app,
        url,
    ):
        with app.app_context():  # the sessions table, when these tests run on their own
            create_tables()
        server = make_server("127.0.0.1", free_port(), app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield LiveServer(f"http://127.0.0.1:{server.server_port}", url, app)
        finally:
            server.shutdown()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(params=[(1280, 900), (390, 844)], ids=["desktop", "phone"])
def page(request: pytest.FixtureRequest, chromium: Browser) -> Iterator[Page]:
    width, height = request.param
    context = chromium.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()
    assert errors == [], errors  # no script errors, no CSP violations


def shot(page: Page, name: str) -> None:
    """Save a screenshot when SCREENSHOT_DIR is set (to look at what we built)."""
    if SCREENSHOTS is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        width = page.viewport_size["width"] if page.viewport_size else 0
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
