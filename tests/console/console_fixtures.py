"""Browser fixtures: Debian's chromium driven by Playwright (never ``playwright install``), a console server, and
screenshots of each main page under tests/artifacts/screenshots (ignored by git) to look at."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from conftest import LiveServer
from openpersonalize.demo.generator import generate_vod

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
SCRIPT_ITEM = "<script>alert(1)</script>"  # an item id that must render as text


def _install_chromium() -> None:
    """Debian's chromium package, installed with apt when missing (CI runs as root on a clean machine)."""
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail("The browser tests need /usr/bin/chromium: apt-get install chromium (as root).")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    _install_chromium()
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


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


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


def unlabelled_fields(page: Page) -> list[str]:
    """Visible form fields without a label (a <label for>, a wrapping label or aria-label)."""
    result: Any = page.evaluate("""() => Array.from(document.querySelectorAll('input, select, textarea'))
        .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
        .map(e => e.name || e.id)""")
    return list(result)
