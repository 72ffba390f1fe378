"""Console pages read over HTTP (no browser): what each page shows of the resources it lists."""

from __future__ import annotations

from pathlib import Path

import httpx
import markupsafe

from conftest import LiveServer, unique

from openpersonalize.console.app import Console, when


def test_the_group_page_shows_each_filters_expression(console_server: LiveServer) -> None:
    personalize = console_server.client("personalize")
    group = personalize.create_dataset_group(name=unique("filters"))["datasetGroupArn"]
    schema_text = (Path(__file__).parent / "interactions_schema.json").read_text()
    schema = personalize.create_schema(name=unique("schema"), schema=schema_text)
    personalize.create_dataset(name=unique("ds"), datasetGroupArn=group, datasetType="Interactions",
                               schemaArn=schema["schemaArn"])
    expression = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")'
    personalize.create_filter(name=unique("watched"), datasetGroupArn=group, filterExpression=expression)
    with httpx.Client(base_url=console_server.url) as client:
        page = client.get("/console/group", params={"arn": group})
    assert page.status_code == 200
    assert str(markupsafe.escape(expression)) in page.text


def test_details_format_nested_records_and_their_times() -> None:
    console = Console(services=None, call=None, gate=None, host_allowed=None,  # type: ignore[arg-type]
                      requests_per_operation=None)  # type: ignore[arg-type]
    macros = console.env.get_template("_macros.html").module
    shown = str(macros.details({"name": "r", "latestRecommenderUpdate": {"status": "ACTIVE", "creationDateTime": 0.0}}))
    assert when(0.0) in shown and "creationDateTime" in shown
    assert "{" not in shown  # the update is a table of its own, not a dict's repr
