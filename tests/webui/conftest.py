"""The web page in a real headless Chromium (Debian's, driven by Playwright) against one
running service with the OTLP receiver, the cost processors and the api extension."""
from __future__ import annotations

import os

import pytest

from tests.api.conftest import API_CONFIG
from tests.support.running import RunningService, start_service

CHROMIUM = os.environ.get("SPANLENS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]



@pytest.fixture(scope="session")
def web_service(tmp_path_factory, chdb_path) -> RunningService:
    rs = start_service(API_CONFIG, tmp_path_factory.mktemp("webui"), chdb_path)
    yield rs
    rs.stop()


@pytest.fixture(scope="module")
def browser():
    """Per module: Playwright's sync API holds an event loop on this thread while it runs,
    which later tests calling ``asyncio.run`` must not find."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()
