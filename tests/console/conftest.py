"""Browser fixtures: Debian's chromium driven by Playwright (never ``playwright install``), one console server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from conftest import LiveServer
from console_fixtures import ARGS, CHROMIUM, SCRIPT_ITEM, install_chromium
from openpersonalize.demo.generator import generate_vod


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    install_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("console"), env={"OPENPERSONALIZE_WORKER_THREADS": "2"})
    live.start()
    yield live
    live.stop()


@pytest.fixture()
def page(browser: Browser, console_server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(base_url=console_server.url, viewport={"width": 1200, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    dialogs: list[str] = []
    opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    yield opened
    context.close()
    assert dialogs == []  # no script from data ever ran


@pytest.fixture(scope="session")
def interactions_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated VOD interactions (USER_ID, ITEM_ID, EVENT_TYPE, TIMESTAMP); the most popular item's id is a
    script tag, so it shows up in recommendations and must render as text."""
    data = generate_vod(users=150, items=200, interactions=6000, seed=7).interactions
    frame = data.select("USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP")
    top = frame["ITEM_ID"].value_counts().sort("count", descending=True)["ITEM_ID"][0]
    frame = frame.with_columns(pl.when(pl.col("ITEM_ID") == top).then(pl.lit(SCRIPT_ITEM)).otherwise(pl.col("ITEM_ID")).alias("ITEM_ID"))
    path = tmp_path_factory.mktemp("csv") / "interactions.csv"
    frame.write_csv(path)
    return path


