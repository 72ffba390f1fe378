"""The whole hands-on path in a real browser, as in Personalize's console: create a group, define the schema,
upload a CSV, train, read the metrics chart, launch a campaign, get recommendations, send an event and see the
list change, delete everything."""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from console_fixtures import SCRIPT_ITEM, shoot, unlabelled_fields
from conftest import unique

TRAINING_SECONDS = 90_000  # ms: a small User-Personalization training takes seconds; a slow CI gets margin


def _reload_until(page: Page, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in page.content():
        assert time.monotonic() < deadline, f"{text!r} did not appear"
        time.sleep(0.5)
        page.reload()


def test_hands_on_path(page: Page, interactions_csv: Path) -> None:
    name = unique("movies")
    page.goto("/")
    shoot(page, "01-home")
    assert unlabelled_fields(page) == []
    page.get_by_label("Name", exact=False).first.fill(name)
    page.get_by_role("button", name="Create dataset group").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    group_url = page.url

    page.get_by_role("link", name="create a schema").click()
    expect(page.locator("#schema-check")).to_contain_text("Valid schema for a INTERACTIONS dataset")
    page.locator("#schema-json").fill('{"type": "record", "name": "Interactions", "fields": []}')
    expect(page.locator("#schema-check")).to_contain_text("InvalidInputException")
    page.locator("#schema-json").fill((Path(__file__).parent / "interactions_schema.json").read_text())
    expect(page.locator("#schema-check")).to_contain_text("Valid schema")
    page.get_by_label("Name", exact=True).fill(f"{name}-schema")
    shoot(page, "02-schema")
    assert unlabelled_fields(page) == []
    page.get_by_role("button", name="Create schema").click()

    page.goto(group_url)
    shoot(page, "03-group")
    assert unlabelled_fields(page) == []
    page.get_by_label("Dataset type").select_option("Interactions")
    page.locator("#ds-name").fill(f"{name}-interactions")
    page.get_by_role("button", name="Create dataset").click()
    page.get_by_label("CSV file from your computer").set_input_files(str(interactions_csv))
    page.get_by_role("button", name="Start import").click()
    expect(page.locator("#imports")).to_contain_text("ACTIVE", timeout=60_000)
    page.reload()
    expect(page.get_by_text("Cold (fewer than")).to_be_visible()
    shoot(page, "04-dataset")
    assert unlabelled_fields(page) == []

    page.goto(group_url)
    page.locator("#tracker-name").fill(f"{name}-tracker")
    page.get_by_role("button", name="Create event tracker").click()
    page.goto(group_url)
    page.get_by_role("link", name="Create a solution…").click()
    page.locator("#solution-name").fill(f"{name}-up")
    page.get_by_label(re.compile(r"\baws-user-personalization USER_PERSONALIZATION")).check()
    shoot(page, "05-solution-new")
    assert unlabelled_fields(page) == []
    page.get_by_role("button", name="Create solution").click()
    page.get_by_role("button", name="Create solution version (train)").click()
    expect(page.get_by_role("heading", name="Offline metrics")).to_be_visible(timeout=TRAINING_SECONDS)
    chart = page.get_by_role("img", name="offline metrics")
    expect(chart).to_contain_text("normalized_discounted_cumulative_gain_at_25")
    shoot(page, "06-version")

    page.get_by_label("Campaign name").fill(f"{name}-campaign")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.locator("h1 .status")).to_have_text("ACTIVE", timeout=60_000)
    assert unlabelled_fields(page) == []
    page.get_by_label("User id").fill("u1")
    # 25 results: the most popular item is in u1's list, not necessarily in its top 10, which the user's own
    # items may fill (the repeat model's choice)
    page.get_by_label("Number of results").fill("25")
    page.get_by_role("button", name="Get recommendations").click()
    items = page.locator("#answer ol.items li code")
    expect(items.first).to_be_visible()
    assert SCRIPT_ITEM in items.all_inner_texts()  # the script tag is text, and no dialog opened (fixture)
    last = items.all_inner_texts()[-1]
    page.get_by_label("Item id of the event").fill(last)
    page.get_by_label("Event type").fill("watch")
    page.get_by_role("button", name=re.compile("^Send event")).click()
    expect(page.get_by_role("heading", name="After the event")).to_be_visible()
    before = page.locator("#answer .cols > div").nth(0).locator("li code").all_inner_texts()
    after = page.locator("#answer .cols > div").nth(1).locator("li code").all_inner_texts()
    assert before != after
    shoot(page, "07-campaign")

    page.get_by_role("button", name=re.compile("^Delete campaign")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    _delete_everything(page, group_url, name)


def _delete_everything(page: Page, group_url: str, name: str) -> None:
    """The group's resources, in AWS's order (campaign first; the group last), waiting out DELETE PENDING."""
    page.goto(group_url)
    _reload_until_gone(page, f"{name}-campaign")
    page.get_by_role("link", name=f"{name}-up").click()
    page.get_by_role("button", name=re.compile("^Delete solution")).click()
    page.get_by_role("button", name=re.compile(f"^Delete event tracker {name}")).click()
    _reload_until_gone(page, f"{name}-up")
    _reload_until_gone(page, f"{name}-tracker")
    page.get_by_role("link", name="Interactions").click()
    page.get_by_role("button", name=re.compile("^Delete dataset")).click()
    _reload_until_gone(page, f"{name}-interactions")
    page.get_by_role("button", name=re.compile("^Delete dataset group")).click()
    expect(page.get_by_role("heading", name="Dataset groups")).to_be_visible()
    _reload_until_gone(page, name)


def _reload_until_gone(page: Page, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while page.get_by_text(text, exact=True).count():
        assert time.monotonic() < deadline, f"{text!r} is still listed"
        time.sleep(0.5)
        page.reload()
