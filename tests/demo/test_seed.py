"""The demo `make run` seeds: through the public API, it ends with a campaign that answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpersonalize.demo.seed import FILTER, seed


def test_seeded_demo_answers_the_readme_snippet(server: Any, runtime: Any, personalize: Any, tmp_path: Path) -> None:
    campaign = seed(server.port, tmp_path)
    assert personalize.describe_campaign(campaignArn=campaign)["campaign"]["status"] == "ACTIVE"
    answer = runtime.get_recommendations(campaignArn=campaign, userId="u1", numResults=10)
    assert len(answer["itemList"]) == 10 and answer["recommendationId"].startswith("RID-")
    filters = {f["name"]: f["filterArn"] for f in personalize.list_filters()["Filters"]}
    filtered = runtime.get_recommendations(campaignArn=campaign, userId="u1", numResults=10, filterArn=filters[FILTER])
    assert len(filtered["itemList"]) == 10
