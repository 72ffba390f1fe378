"""Metric attributions over boto3 (spec §2.11): the resource, and the reports it publishes.

BULK reports are written by the live server's import job. PUT reports are published on a 15-minute schedule, so
that test drives the scheduler function itself with an explicit ``now`` — in this process, on the live server's
metadata store and data directory (as an ``openpersonalize worker`` process on the same host would).
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from _postgres import store_url
from conftest import LiveServer, unique, wait_for
from test_campaigns import POPULARITY, deploy, solution, train

from openpersonalize.config import Settings
from openpersonalize.services import Services
from openpersonalize.data.metadata import Store
from openpersonalize.data.recommendations import FLUSH_SECONDS
from openpersonalize.data.store import DataStore
from openpersonalize.jobs import attribution

ROLE = "arn:aws:iam::123456789012:role/personalize"
NAMESPACE = "com.amazonaws.personalize.schema"
OPT_STR: list[str] = ["null", "string"]
HEADER = ["METRIC_NAME", "EVENT_TYPE", "VALUE", "MATH_FUNCTION", "EVENT_ATTRIBUTION_SOURCE", "TIMESTAMP"]
INTERACTIONS_FIELDS = [
    {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"}, {"name": "TIMESTAMP", "type": "long"},
    {"name": "EVENT_TYPE", "type": "string"}, {"name": "EVENT_VALUE", "type": ["null", "float"]},
    {"name": "RECOMMENDATION_ID", "type": OPT_STR}, {"name": "EVENT_ATTRIBUTION_SOURCE", "type": OPT_STR},
]
ITEMS_FIELDS = [
    {"name": "ITEM_ID", "type": "string"}, {"name": "PRICE", "type": ["null", "float"]},
    {"name": "GENRES", "type": "string", "categorical": True},
]
PRICES = {"i1": 10.0, "i2": 2.5, "i3": 100.0}
METRICS = [
    {"eventType": "click", "metricName": "CLICKS", "expression": "SAMPLECOUNT()"},
    {"eventType": "click", "metricName": "CLICK_VALUE", "expression": "SUM(Interactions.EVENT_VALUE)"},
    {"eventType": "buy", "metricName": "REVENUE", "expression": "SUM(Items.PRICE)"},
]


@dataclass
class Group:
    arn: str
    interactions: str
    items: str
    tracking_id: str
    attribution: str
    output: Path


def _schema(personalize: Any, name: str, fields: list[dict[str, Any]]) -> str:
    text = json.dumps({"type": "record", "name": name, "namespace": NAMESPACE, "fields": fields, "version": "1.0"})
    return str(personalize.create_schema(name=unique(name.lower()), schema=text)["schemaArn"])


def _dataset(personalize: Any, group_arn: str, kind: str, fields: list[dict[str, Any]]) -> str:
    arn = personalize.create_dataset(
        name=unique(kind.lower()), datasetGroupArn=group_arn, datasetType=kind, schemaArn=_schema(personalize, kind, fields)
    )["datasetArn"]
    assert wait_for(lambda: personalize.describe_dataset(datasetArn=arn)["dataset"])["status"] == "ACTIVE"
    return str(arn)


def _group(personalize: Any, interactions_fields: list[dict[str, Any]] = INTERACTIONS_FIELDS) -> tuple[str, str]:
    group = personalize.create_dataset_group(name=unique("ma-dg"))["datasetGroupArn"]
    assert wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])["status"] == "ACTIVE"
    return str(group), _dataset(personalize, group, "Interactions", interactions_fields)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return f"file://{path}"


def _import(personalize: Any, dataset: str, location: str, mode: str = "FULL", publish: bool = False) -> dict[str, Any]:
    job = personalize.create_dataset_import_job(
        jobName=unique("ma-imp"), datasetArn=dataset, dataSource={"dataLocation": location}, roleArn=ROLE,
        importMode=mode, publishAttributionMetricsToS3=publish,
    )["datasetImportJobArn"]
    done = wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
    assert done["status"] == "ACTIVE", done.get("failureReason")
    return dict(done)


def _create(personalize: Any, group_arn: str, path: str, metrics: list[dict[str, str]] = METRICS) -> str:
    arn = personalize.create_metric_attribution(
        name=unique("ma"), datasetGroupArn=group_arn, metrics=metrics,
        metricsOutputConfig={"s3DataDestination": {"path": path}, "roleArn": ROLE},
    )["metricAttributionArn"]
    assert wait_for(lambda: personalize.describe_metric_attribution(metricAttributionArn=arn)["metricAttribution"])["status"] == "ACTIVE"
    return str(arn)


@pytest.fixture(scope="module")
def group(personalize: Any, tmp_path_factory: pytest.TempPathFactory) -> Group:
    """Interactions + Items (with prices) + an event tracker + a metric attribution publishing to a local folder."""
    group_arn, interactions = _group(personalize)
    items = _dataset(personalize, group_arn, "Items", ITEMS_FIELDS)
    folder = tmp_path_factory.mktemp("ma")
    rows = [{"ITEM_ID": item, "PRICE": price, "GENRES": "g"} for item, price in PRICES.items()]
    _import(personalize, items, _write_csv(folder / "inputs" / "items.csv", rows))
    tracker = personalize.create_event_tracker(name=unique("ma-trk"), datasetGroupArn=group_arn)
    wait_for(lambda: personalize.describe_event_tracker(eventTrackerArn=tracker["eventTrackerArn"])["eventTracker"])
    output = folder / "reports"
    return Group(group_arn, interactions, items, tracker["trackingId"], _create(personalize, group_arn, f"{output}/"), output)


@pytest.fixture()
def worker_services(server: LiveServer) -> Iterator[Services]:
    """The live server's metadata store and data directory, opened by this process (a second worker's view)."""
    settings = Settings(data_dir=server.data_dir, local_paths=(Path(tempfile.gettempdir()),))
    services = Services(settings=settings, store=Store(store_url(settings.data_dir)), data=DataStore(server.data_dir))
    yield services
    services.data.events.close()


def error_of(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def read_reports(folder: Path, method: str) -> list[tuple[Path, list[str], list[dict[str, str]]]]:
    out = []
    for path in sorted(folder.glob(f"AggregatedAttributionMetrics - {method} - *.csv")):
        reader = csv.DictReader(io.StringIO(path.read_text()))
        out.append((path, list(reader.fieldnames or []), list(reader)))
    return out


def values(rows: list[dict[str, str]]) -> dict[tuple[str, str], float]:
    """(metric, source) → value, summed over windows."""
    totals: dict[tuple[str, str], float] = {}
    for row in rows:
        key = (row["METRIC_NAME"], row["EVENT_ATTRIBUTION_SOURCE"])
        totals[key] = totals.get(key, 0.0) + float(row["VALUE"])
    return totals


# ---- the resource --------------------------------------------------------------------------------------------


def test_describe_list_and_metrics(personalize: Any, group: Group) -> None:
    described = personalize.describe_metric_attribution(metricAttributionArn=group.attribution)["metricAttribution"]
    assert described["metricAttributionArn"] == group.attribution
    assert described["metricAttributionArn"].startswith("arn:aws:personalize:us-east-1:123456789012:metric-attribution/")
    assert described["datasetGroupArn"] == group.arn
    assert described["metricsOutputConfig"] == {"s3DataDestination": {"path": f"{group.output}/"}, "roleArn": ROLE}
    assert described["status"] == "ACTIVE" and "failureReason" not in described
    listed = personalize.list_metric_attributions(datasetGroupArn=group.arn)["metricAttributions"]
    assert [m["metricAttributionArn"] for m in listed] == [group.attribution]
    assert set(listed[0]) == {"name", "metricAttributionArn", "status", "creationDateTime", "lastUpdatedDateTime"}
    assert personalize.list_metric_attribution_metrics(metricAttributionArn=group.attribution)["metrics"] == METRICS
    first = personalize.list_metric_attribution_metrics(metricAttributionArn=group.attribution, maxResults=2)
    rest = personalize.list_metric_attribution_metrics(metricAttributionArn=group.attribution, nextToken=first["nextToken"])
    assert first["metrics"] + rest["metrics"] == METRICS and "nextToken" not in rest


def test_one_per_dataset_group(personalize: Any, group: Group) -> None:
    code, message = error_of(
        personalize.create_metric_attribution, name=unique("ma2"), datasetGroupArn=group.arn, metrics=METRICS[:1],
        metricsOutputConfig={"roleArn": ROLE},
    )
    assert code == "ResourceAlreadyExistsException" and group.attribution in message


@pytest.mark.parametrize(
    ("metric", "needle"),
    [
        ({"expression": "SUM(Items.COLOR)"}, "no column 'COLOR'"),
        ({"expression": "SUM(Items.GENRES)"}, "Items.GENRES, which is of type string"),
        ({"expression": "SUM(Interactions.USER_ID)"}, "Interactions.USER_ID, which is of type string"),
        ({"expression": "SUM(Users.AGE)"}, "dataset 'Users'"),
        ({"expression": "COUNT(*)"}, "is not a metric expression"),
        ({"expression": "SAMPLECOUNT(EVENT_VALUE)"}, "is not a metric expression"),
    ],
)
def test_bad_expressions_name_the_problem(personalize: Any, group: Group, metric: dict[str, str], needle: str) -> None:
    bad = {"eventType": "click", "metricName": "BAD", **metric}
    code, message = error_of(
        personalize.create_metric_attribution, name=unique("ma-bad"), datasetGroupArn=group.arn, metrics=[bad],
        metricsOutputConfig={"roleArn": ROLE},
    )
    assert code == "InvalidInputException"
    assert needle in message and ("BAD" in message or metric["expression"] in message)


def test_metric_list_rules(personalize: Any, group: Group) -> None:
    output = {"roleArn": ROLE}
    many = [{"eventType": "click", "metricName": f"M{n}", "expression": "SAMPLECOUNT()"} for n in range(11)]
    code, message = error_of(personalize.create_metric_attribution, name=unique("ma"), datasetGroupArn=group.arn, metrics=many, metricsOutputConfig=output)
    assert code == "InvalidInputException" and "'metrics'" in message and "10" in message
    twice = [METRICS[0], {**METRICS[1], "metricName": "CLICKS"}]
    code, message = error_of(personalize.create_metric_attribution, name=unique("ma"), datasetGroupArn=group.arn, metrics=twice, metricsOutputConfig=output)
    assert code == "InvalidInputException" and "'CLICKS' is used twice" in message


@pytest.mark.parametrize(
    ("path", "needle"), [("https://example.com/reports/", "cannot be written"), ("ftp://host/x", "regular expression pattern")]
)
def test_output_path_must_be_writable(personalize: Any, group: Group, path: str, needle: str) -> None:
    code, message = error_of(
        personalize.create_metric_attribution, name=unique("ma"), datasetGroupArn=group.arn, metrics=METRICS[:1],
        metricsOutputConfig={"roleArn": ROLE, "s3DataDestination": {"path": path}},
    )
    assert code == "InvalidInputException" and "metricsOutputConfig.s3DataDestination.path" in message and needle in message


def test_group_needs_interactions_with_event_type(personalize: Any) -> None:
    no_type = [f for f in INTERACTIONS_FIELDS if f["name"] != "EVENT_TYPE"]
    group_arn, _ = _group(personalize, no_type)
    code, message = error_of(
        personalize.create_metric_attribution, name=unique("ma"), datasetGroupArn=group_arn, metrics=METRICS[:1],
        metricsOutputConfig={"roleArn": ROLE},
    )
    assert code == "InvalidInputException" and "EVENT_TYPE" in message and group_arn in message
    code, _ = error_of(
        personalize.create_metric_attribution, name=unique("ma"), datasetGroupArn=group_arn.replace("ma-dg", "nope"),
        metrics=METRICS[:1], metricsOutputConfig={"roleArn": ROLE},
    )
    assert code == "ResourceNotFoundException"


def test_update_delete_lifecycle(personalize: Any, tmp_path: Path) -> None:
    group_arn, _ = _group(personalize)
    arn = _create(personalize, group_arn, f"{tmp_path}/", METRICS[:2])
    names = lambda: [m["metricName"] for m in personalize.list_metric_attribution_metrics(metricAttributionArn=arn)["metrics"]]  # noqa: E731
    watch = {"eventType": "watch", "metricName": "WATCHES", "expression": "samplecount()"}
    personalize.update_metric_attribution(metricAttributionArn=arn, addMetrics=[watch], removeMetrics=["CLICKS"])
    assert names() == ["CLICK_VALUE", "WATCHES"]
    # removing and re-adding a name in one call replaces the metric
    replaced = {**watch, "eventType": "view"}
    personalize.update_metric_attribution(metricAttributionArn=arn, addMetrics=[replaced], removeMetrics=["WATCHES"])
    assert personalize.list_metric_attribution_metrics(metricAttributionArn=arn)["metrics"][-1] == replaced
    code, message = error_of(personalize.update_metric_attribution, metricAttributionArn=arn, addMetrics=[METRICS[1]])
    assert code == "ResourceAlreadyExistsException" and "CLICK_VALUE" in message
    code, message = error_of(personalize.update_metric_attribution, metricAttributionArn=arn, removeMetrics=["NOPE"])
    assert code == "InvalidInputException" and "'NOPE'" in message
    code, message = error_of(personalize.update_metric_attribution, metricAttributionArn=arn, addMetrics=[METRICS[2]])
    assert code == "InvalidInputException" and "no Items dataset" in message
    code, message = error_of(personalize.update_metric_attribution, metricAttributionArn=arn)
    assert code == "InvalidInputException" and "addMetrics" in message
    code, message = error_of(personalize.update_metric_attribution, addMetrics=[watch])
    assert code == "InvalidInputException" and "metricAttributionArn" in message
    personalize.update_metric_attribution(metricAttributionArn=arn, metricsOutputConfig={"roleArn": ROLE})
    described = personalize.describe_metric_attribution(metricAttributionArn=arn)["metricAttribution"]
    assert described["metricsOutputConfig"] == {"roleArn": ROLE}

    personalize.delete_metric_attribution(metricAttributionArn=arn)
    code, _ = error_of(personalize.update_metric_attribution, metricAttributionArn=arn, removeMetrics=["CLICK_VALUE"])
    assert code in ("ResourceInUseException", "ResourceNotFoundException")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and personalize.list_metric_attributions(datasetGroupArn=group_arn)["metricAttributions"]:
        time.sleep(0.05)
    code, _ = error_of(personalize.describe_metric_attribution, metricAttributionArn=arn)
    assert code == "ResourceNotFoundException"
    code, _ = error_of(personalize.delete_metric_attribution, metricAttributionArn=arn)
    assert code == "ResourceNotFoundException"
    _create(personalize, group_arn, f"{tmp_path}/", METRICS[:1])  # the group may have one again


# ---- reports -------------------------------------------------------------------------------------------------


def test_put_report_per_source(personalize: Any, events: Any, group: Group, worker_services: Services) -> None:
    """Two sources via PutEvents → the PUT report's SUM / SAMPLECOUNT per source match what was sent."""
    sent = time.time()
    sessions = {
        "campaign-A": [("click", "i1", 1.0), ("click", "i2", 2.0), ("buy", "i1", None), ("buy", "i3", None)],
        "campaign-B": [("click", "i3", 5.0), ("buy", "i2", None)],
    }
    for source, evs in sessions.items():
        event_list = [
            {"eventType": t, "itemId": item, "sentAt": sent, "metricAttribution": {"eventAttributionSource": source},
             **({"eventValue": v} if v is not None else {})}
            for t, item, v in evs
        ]
        events.put_events(trackingId=group.tracking_id, userId=unique("u"), sessionId=unique("s"), eventList=event_list)
    # eventAttributionSource wins over recommendationId; neither (or an unknown recommendation) → undefined
    events.put_events(trackingId=group.tracking_id, userId="u-x", sessionId="s-x", eventList=[
        {"eventType": "click", "itemId": "i1", "sentAt": sent, "recommendationId": "RID-unknown", "eventValue": 7.0},
        {"eventType": "click", "itemId": "i1", "sentAt": sent, "recommendationId": "RID-x",
         "metricAttribution": {"eventAttributionSource": "campaign-B"}},
        {"eventType": "watch", "itemId": "i1", "sentAt": sent},
    ])
    now = sent + 2 * attribution.WINDOW_SECONDS
    written = attribution.publish_put_reports(worker_services, now=now)
    mine = [w for w in written if w.startswith(str(group.output))]
    assert len(mine) == 1
    (path, header, rows), = read_reports(group.output, "PUT")
    assert str(path) == mine[0] and header == HEADER
    assert values(rows) == {
        ("CLICKS", "campaign-A"): 2.0, ("CLICKS", "campaign-B"): 2.0, ("CLICKS", "SOURCE_NAME_UNDEFINED"): 1.0,
        ("CLICK_VALUE", "campaign-A"): 3.0, ("CLICK_VALUE", "campaign-B"): 5.0, ("CLICK_VALUE", "SOURCE_NAME_UNDEFINED"): 7.0,
        ("REVENUE", "campaign-A"): 110.0, ("REVENUE", "campaign-B"): 2.5,
    }
    window = int(sent) // 900 * 900
    assert {row["TIMESTAMP"] for row in rows} == {str(window)}
    assert {(r["METRIC_NAME"], r["EVENT_TYPE"], r["MATH_FUNCTION"]) for r in rows} == {
        ("CLICKS", "click", "samplecount"), ("CLICK_VALUE", "click", "sum"), ("REVENUE", "buy", "sum"),
    }
    # the same windows are never reported twice; before the interval nothing is published at all
    assert [w for w in attribution.publish_put_reports(worker_services, now=now + 60) if w.startswith(str(group.output))] == []
    later = [w for w in attribution.publish_put_reports(worker_services, now=now + 1800) if w.startswith(str(group.output))]
    assert later == [] and len(read_reports(group.output, "PUT")) == 1  # no new events: no empty file


def test_bulk_report_for_the_import_job(personalize: Any, group: Group, tmp_path: Path) -> None:
    """publishAttributionMetricsToS3 → a BULK report of exactly that job's rows, local and on S3."""
    base = 1_700_000_100  # a window start (divisible by 900)
    first = [
        {"USER_ID": "u1", "ITEM_ID": "i1", "TIMESTAMP": base + 1, "EVENT_TYPE": "click", "EVENT_VALUE": 2.0, "RECOMMENDATION_ID": "", "EVENT_ATTRIBUTION_SOURCE": "A"},
        {"USER_ID": "u2", "ITEM_ID": "i3", "TIMESTAMP": base + 2, "EVENT_TYPE": "buy", "EVENT_VALUE": "", "RECOMMENDATION_ID": "RID-1", "EVENT_ATTRIBUTION_SOURCE": "B"},
        {"USER_ID": "u3", "ITEM_ID": "i2", "TIMESTAMP": base + 901, "EVENT_TYPE": "click", "EVENT_VALUE": 4.0, "RECOMMENDATION_ID": "", "EVENT_ATTRIBUTION_SOURCE": ""},
    ]
    job = _import(personalize, group.interactions, _write_csv(tmp_path / "bulk1.csv", first), publish=True)
    assert job["publishAttributionMetricsToS3"] is True
    (path, header, rows), = read_reports(group.output, "BULK")
    assert header == HEADER and re.fullmatch(r"AggregatedAttributionMetrics - BULK - \d{13}\.csv", path.name)
    assert abs(int(path.name.split(" - ")[2][:-4]) / 1000 - job["creationDateTime"].timestamp()) < 0.01
    assert sorted((r["METRIC_NAME"], r["EVENT_ATTRIBUTION_SOURCE"], r["VALUE"], r["TIMESTAMP"]) for r in rows) == sorted([
        ("CLICKS", "A", "1.0", str(base)), ("CLICKS", "SOURCE_NAME_UNDEFINED", "1.0", str(base + 900)),
        ("CLICK_VALUE", "A", "2.0", str(base)), ("CLICK_VALUE", "SOURCE_NAME_UNDEFINED", "4.0", str(base + 900)),
        ("REVENUE", "B", "100.0", str(base)),
    ])
    attribution_stays_clean(personalize, group)


def test_bulk_report_to_s3_counts_only_that_job(personalize: Any, group: Group, s3: Any, tmp_path: Path) -> None:
    bucket = unique("ma-bucket")
    s3.create_bucket(Bucket=bucket)
    personalize.update_metric_attribution(
        metricAttributionArn=group.attribution,
        metricsOutputConfig={"roleArn": ROLE, "s3DataDestination": {"path": f"s3://{bucket}/reports/"}},
    )
    try:
        base = 1_700_100_000
        rows = [{"USER_ID": "u9", "ITEM_ID": "i2", "TIMESTAMP": base, "EVENT_TYPE": "buy", "EVENT_VALUE": "", "RECOMMENDATION_ID": "", "EVENT_ATTRIBUTION_SOURCE": "C"}] * 3
        location = _write_csv(tmp_path / "bulk2.csv", rows)
        _import(personalize, group.interactions, location, mode="INCREMENTAL", publish=True)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="reports/")["Contents"]]
        assert len(keys) == 1 and keys[0].startswith("reports/AggregatedAttributionMetrics - BULK - ")
        text = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read().decode()
        assert text.splitlines() == [",".join(HEADER), f"REVENUE,buy,7.5,sum,C,{base // 900 * 900}"]
    finally:
        personalize.update_metric_attribution(
            metricAttributionArn=group.attribution,
            metricsOutputConfig={"roleArn": ROLE, "s3DataDestination": {"path": f"{group.output}/"}},
        )
    attribution_stays_clean(personalize, group)


def test_publish_needs_a_destination(personalize: Any, group: Group, tmp_path: Path) -> None:
    location = _write_csv(tmp_path / "items.csv", [{"ITEM_ID": "i9", "PRICE": 1.0, "GENRES": "g"}])
    code, message = error_of(
        personalize.create_dataset_import_job, jobName=unique("ma-imp"), datasetArn=group.items,
        dataSource={"dataLocation": location}, roleArn=ROLE, publishAttributionMetricsToS3=True,
    )
    assert code == "InvalidInputException" and "Interactions imports only" in message
    bare_group, interactions = _group(personalize)
    code, message = error_of(
        personalize.create_dataset_import_job, jobName=unique("ma-imp"), datasetArn=interactions,
        dataSource={"dataLocation": location}, roleArn=ROLE, publishAttributionMetricsToS3=True,
    )
    assert code == "InvalidInputException" and bare_group in message and "CreateMetricAttribution" in message


def test_unwritable_destination_is_reported_on_the_attribution(personalize: Any, tmp_path: Path) -> None:
    group_arn, interactions = _group(personalize)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the report folder should be")
    arn = _create(personalize, group_arn, f"{blocker}/", METRICS[:1])
    rows = [{"USER_ID": "u", "ITEM_ID": "i", "TIMESTAMP": 1_700_000_000, "EVENT_TYPE": "click", "EVENT_VALUE": 1.0,
             "RECOMMENDATION_ID": "", "EVENT_ATTRIBUTION_SOURCE": ""}]
    job = _import(personalize, interactions, _write_csv(tmp_path / "in.csv", rows), publish=True)
    assert job["status"] == "ACTIVE"  # the rows landed; the report failure belongs to the attribution
    described = personalize.describe_metric_attribution(metricAttributionArn=arn)["metricAttribution"]
    assert described["status"] == "ACTIVE"
    assert "BULK metrics report could not be published" in described["failureReason"] and str(blocker) in described["failureReason"]


def attribution_stays_clean(personalize: Any, group: Group) -> None:
    described = personalize.describe_metric_attribution(metricAttributionArn=group.attribution)["metricAttribution"]
    assert "failureReason" not in described, described["failureReason"]


def test_at_most_100_sources_the_most_frequent() -> None:
    import polars as pl

    sources = [f"s{n:03d}" for n in range(105) for _ in range(1 + (n < 100))]  # s000..s099 twice, s100..s104 once
    frame = pl.DataFrame({
        "ITEM_ID": ["i"] * len(sources), "TIMESTAMP": [1_700_000_100] * len(sources),
        "EVENT_TYPE": ["click"] * len(sources), "EVENT_ATTRIBUTION_SOURCE": sources,
    })
    report = attribution.aggregate(frame, None, METRICS[:1])
    assert report.height == 100 and set(report["EVENT_ATTRIBUTION_SOURCE"]) == {f"s{n:03d}" for n in range(100)}
    assert set(report["VALUE"]) == {2.0}


def test_recommendation_ids_survive_a_restart(tmp_path: Path) -> None:
    """An event naming a recommendationId made before the server was killed is still credited to its campaign."""
    live = LiveServer(tmp_path / "server")
    live.start()
    try:
        personalize, runtime, events = (live.client(s) for s in ("personalize", "personalize-runtime", "personalize-events"))
        group_arn, interactions = _group(personalize)
        rows = [
            {"USER_ID": f"u{u}", "ITEM_ID": f"i{(u * 7 + k) % 60}", "TIMESTAMP": 1_700_000_000 + k, "EVENT_TYPE": "click",
             "EVENT_VALUE": "", "RECOMMENDATION_ID": "", "EVENT_ATTRIBUTION_SOURCE": ""}
            for u in range(40) for k in range(8)
        ]
        _import(personalize, interactions, _write_csv(tmp_path / "interactions.csv", rows))
        output = tmp_path / "reports"
        _create(personalize, group_arn, f"{output}/", METRICS[:1])
        campaign = deploy(personalize, train(personalize, solution(personalize, group_arn, POPULARITY)))
        rid = runtime.get_recommendations(campaignArn=campaign, userId="u1")["recommendationId"]
        time.sleep(5 * FLUSH_SECONDS)  # the background write, not the shutdown, must have kept it
        live.kill()
        live.start()
        tracker = personalize.create_event_tracker(name=unique("ma-trk"), datasetGroupArn=group_arn)["eventTrackerArn"]
        tracking_id = wait_for(lambda: personalize.describe_event_tracker(eventTrackerArn=tracker)["eventTracker"])["trackingId"]
        sent = time.time()
        events.put_events(trackingId=tracking_id, userId="u1", sessionId="s1",
                          eventList=[{"eventType": "click", "itemId": "i1", "sentAt": sent, "recommendationId": rid}])
        settings = Settings(data_dir=live.data_dir, local_paths=(Path(tempfile.gettempdir()),))
        worker = Services(settings=settings, store=Store(store_url(settings.data_dir)), data=DataStore(live.data_dir))
        assert attribution.publish_put_reports(worker, now=sent + 2 * attribution.WINDOW_SECONDS)
        (_, _, report), = read_reports(output, "PUT")
        assert [(r["METRIC_NAME"], r["EVENT_ATTRIBUTION_SOURCE"], r["VALUE"]) for r in report] == [("CLICKS", campaign, "1.0")]
    finally:
        live.stop()
