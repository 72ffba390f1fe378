"""CreateDatasetExportJob / DescribeDatasetExportJob / ListDatasetExportJobs through boto3 (spec §2.4)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import unique, wait_for

ROLE = "arn:aws:iam::123456789012:role/personalize"
NAMESPACE = "com.amazonaws.personalize.schema"
INTERACTIONS_FIELDS = [
    {"name": "USER_ID", "type": "string"},
    {"name": "ITEM_ID", "type": "string"},
    {"name": "TIMESTAMP", "type": "long"},
    {"name": "EVENT_TYPE", "type": "string"},
]
USERS_FIELDS = [
    {"name": "USER_ID", "type": "string"},
    {"name": "AGE", "type": "int"},
    {"name": "PLAN", "type": ["null", "string"], "categorical": True},
]
BULK_INTERACTIONS = [
    {"USER_ID": f"u{n % 10}", "ITEM_ID": f"i{n % 50}", "TIMESTAMP": str(1_700_000_000 + n), "EVENT_TYPE": "click"}
    for n in range(1000)  # Personalize's minimum per interactions import
]
BULK_USERS = [{"USER_ID": f"u{n}", "AGE": str(20 + n), "PLAN": "free" if n % 2 else ""} for n in range(10)]


# ---- helpers shared with test_deletion_jobs.py ------------------------------------------------------------


@dataclass
class Group:
    arn: str
    interactions: str
    users: str
    tracking_id: str


def _schema(personalize: Any, name: str, fields: list[dict[str, Any]]) -> str:
    text = json.dumps({"type": "record", "name": name, "namespace": NAMESPACE, "fields": fields, "version": "1.0"})
    return str(personalize.create_schema(name=unique(name.lower()), schema=text)["schemaArn"])


def _dataset(personalize: Any, group_arn: str, kind: str, schema_arn: str) -> str:
    arn = personalize.create_dataset(
        name=unique(kind.lower()), datasetGroupArn=group_arn, datasetType=kind, schemaArn=schema_arn
    )["datasetArn"]
    assert wait_for(lambda: personalize.describe_dataset(datasetArn=arn)["dataset"])["status"] == "ACTIVE"
    return str(arn)


def make_group(personalize: Any) -> Group:
    """An ACTIVE custom dataset group with Interactions and Users datasets and an event tracker."""
    group = personalize.create_dataset_group(name=unique("grp"))["datasetGroupArn"]
    assert wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])["status"] == "ACTIVE"
    interactions = _dataset(personalize, group, "Interactions", _schema(personalize, "Interactions", INTERACTIONS_FIELDS))
    users = _dataset(personalize, group, "Users", _schema(personalize, "Users", USERS_FIELDS))
    tracker = personalize.create_event_tracker(name=unique("trk"), datasetGroupArn=group)
    described = wait_for(lambda: personalize.describe_event_tracker(eventTrackerArn=tracker["eventTrackerArn"])["eventTracker"])
    assert described["status"] == "ACTIVE"
    return Group(group, interactions, users, tracker["trackingId"])


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def import_rows(personalize: Any, dataset_arn: str, path: Path, rows: list[dict[str, str]]) -> None:
    """A FULL bulk import of ``rows`` from a local CSV (file:// extension), waited for."""
    job = personalize.create_dataset_import_job(
        jobName=unique("imp"), datasetArn=dataset_arn, dataSource={"dataLocation": f"file://{write_csv(path, rows)}"},
        roleArn=ROLE,
    )["datasetImportJobArn"]
    done = wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
    assert done["status"] == "ACTIVE", done.get("failureReason")


def put_events(events: Any, group: Group, user: str, items: list[str], start: int) -> None:
    event_list = [{"eventType": "click", "itemId": item, "sentAt": start + n} for n, item in enumerate(items)]
    events.put_events(trackingId=group.tracking_id, userId=user, sessionId=f"s-{user}", eventList=event_list)


def export(personalize: Any, dataset_arn: str, path: str, mode: str | None = None) -> dict[str, Any]:
    """Run an export job to the end; its final DescribeDatasetExportJob body."""
    extra = {"ingestionMode": mode} if mode else {}
    arn = personalize.create_dataset_export_job(
        jobName=unique("exp"), datasetArn=dataset_arn, roleArn=ROLE, jobOutput={"s3DataDestination": {"path": path}},
        **extra,
    )["datasetExportJobArn"]
    return dict(wait_for(lambda: personalize.describe_dataset_export_job(datasetExportJobArn=arn)["datasetExportJob"]))


def read_local_export(path: Path, job: dict[str, Any]) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) of every part an export job wrote under ``path``."""
    parts = sorted((path / job["jobName"]).glob("part-*.csv"))
    assert parts, f"no parts under {path / job['jobName']}"
    return _parse_parts([p.read_text() for p in parts])


def _parse_parts(texts: list[str]) -> tuple[list[str], list[dict[str, str]]]:
    header: list[str] = []
    rows: list[dict[str, str]] = []
    for text in texts:
        reader = csv.DictReader(io.StringIO(text))
        header = list(reader.fieldnames or [])
        rows += list(reader)
    return header, rows


def as_set(rows: list[dict[str, str]], *columns: str) -> set[tuple[str, ...]]:
    return {tuple(row[c] for c in columns) for row in rows}


# ---- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loaded(personalize: Any, events: Any, tmp_path_factory: pytest.TempPathFactory) -> Group:
    """Bulk rows (imports) and PUT rows (events/records APIs) in both datasets."""
    group = make_group(personalize)
    inputs = tmp_path_factory.mktemp("export-inputs")
    import_rows(personalize, group.interactions, inputs / "interactions.csv", BULK_INTERACTIONS)
    import_rows(personalize, group.users, inputs / "users.csv", BULK_USERS)
    put_events(events, group, "u0", ["i1", "i2"], 1_800_000_000)
    put_events(events, group, "u-put", ["i3"], 1_800_000_100)
    events.put_users(
        datasetArn=group.users,
        users=[
            {"userId": "u1", "properties": json.dumps({"age": 99, "plan": "gold"})},
            {"userId": "u-put", "properties": json.dumps({"age": 40})},
        ],
    )
    return group


# ---- what gets exported ----------------------------------------------------------------------------------


def test_users_export_per_ingestion_mode(personalize: Any, loaded: Group, tmp_path: Path) -> None:
    bulk = export(personalize, loaded.users, f"{tmp_path}/", "BULK")
    assert bulk["status"] == "ACTIVE", bulk.get("failureReason")
    header, rows = read_local_export(tmp_path, bulk)
    assert header == ["USER_ID", "AGE", "PLAN"]  # the schema's fields, in schema order
    assert as_set(rows, "USER_ID", "AGE", "PLAN") == {(r["USER_ID"], r["AGE"], r["PLAN"]) for r in BULK_USERS}

    put = export(personalize, loaded.users, f"file://{tmp_path}/", "PUT")
    assert as_set(read_local_export(tmp_path, put)[1], "USER_ID", "AGE", "PLAN") == {("u1", "99", "gold"), ("u-put", "40", "")}

    both = export(personalize, loaded.users, f"{tmp_path}/", "ALL")
    _, rows = read_local_export(tmp_path, both)
    ages = {r["USER_ID"]: r["AGE"] for r in rows}
    assert len(rows) == len(ages) == 11  # the latest record per user id, once each
    assert ages["u1"] == "99" and ages["u2"] == "22" and ages["u-put"] == "40"


def test_interactions_export_keeps_every_interaction(personalize: Any, loaded: Group, tmp_path: Path) -> None:
    both = export(personalize, loaded.interactions, f"{tmp_path}/", "ALL")
    assert both["status"] == "ACTIVE", both.get("failureReason")
    header, rows = read_local_export(tmp_path, both)
    assert header == ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"]
    assert len(rows) == len(BULK_INTERACTIONS) + 3
    assert ("u0", "i1", "1800000000") in as_set(rows, "USER_ID", "ITEM_ID", "TIMESTAMP")

    default = export(personalize, loaded.interactions, f"{tmp_path}/")
    assert default["ingestionMode"] == "PUT"  # the documented default
    _, rows = read_local_export(tmp_path, default)
    assert as_set(rows, "USER_ID", "ITEM_ID", "TIMESTAMP") == {
        ("u0", "i1", "1800000000"), ("u0", "i2", "1800000001"), ("u-put", "i3", "1800000100"),
    }


def test_export_to_s3(personalize: Any, loaded: Group, s3: Any) -> None:
    bucket = unique("exports")
    s3.create_bucket(Bucket=bucket)
    job = export(personalize, loaded.users, f"s3://{bucket}/runs/", "ALL")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [f"runs/{job['jobName']}/part-00000.csv"]
    body = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read().decode()
    header, rows = _parse_parts([body])
    assert header == ["USER_ID", "AGE", "PLAN"] and len(rows) == 11


def test_describe_has_the_wire_shape(personalize: Any, loaded: Group, tmp_path: Path) -> None:
    job = export(personalize, loaded.users, f"{tmp_path}/out/", "BULK")
    assert job["datasetExportJobArn"] == f"arn:aws:personalize:us-east-1:123456789012:dataset-export-job/{job['jobName']}"
    assert job["datasetArn"] == loaded.users and job["roleArn"] == ROLE and job["ingestionMode"] == "BULK"
    assert job["jobOutput"] == {"s3DataDestination": {"path": f"{tmp_path}/out/"}}
    assert job["lastUpdatedDateTime"] >= job["creationDateTime"]
    assert "failureReason" not in job


# ---- failures ----------------------------------------------------------------------------------------------


def test_unwritable_destination_fails_the_job(personalize: Any, loaded: Group, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    job = export(personalize, loaded.users, f"{blocker}/sub/", "ALL")
    assert job["status"] == "CREATE FAILED"
    assert job["failureReason"] == f"Could not write {blocker}/sub/{job['jobName']}/part-00000.csv: Not a directory"


def test_missing_bucket_fails_the_job(personalize: Any, loaded: Group, s3: Any) -> None:
    job = export(personalize, loaded.users, f"s3://{unique('no-such-bucket')}/x/", "ALL")
    assert job["status"] == "CREATE FAILED"
    assert "NoSuchBucket" in job["failureReason"] and job["jobName"] in job["failureReason"]


def _error(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def export_kwargs(dataset_arn: str, path: str = "/tmp/exports/") -> dict[str, Any]:
    return {"jobName": unique("bad"), "datasetArn": dataset_arn, "roleArn": ROLE,
            "jobOutput": {"s3DataDestination": {"path": path}}}


def test_bad_requests_are_refused(personalize: Any, loaded: Group) -> None:
    create = personalize.create_dataset_export_job
    missing = loaded.users.replace("/USERS", "/ITEMS")
    assert _error(create, **export_kwargs(missing)) == ("ResourceNotFoundException", f"Could not find dataset with ARN {missing}.")
    code, message = _error(create, **export_kwargs(loaded.users, "https://example.com/out/"))
    assert code == "InvalidInputException" and "cannot be written" in message and "jobOutput.s3DataDestination.path" in message
    code, message = _error(create, **export_kwargs(loaded.users, "relative/dir/"))
    assert code == "InvalidInputException" and "relative/dir/" in message
    code, message = _error(create, ingestionMode="BOTH", **export_kwargs(loaded.users))
    assert code == "InvalidInputException" and "ingestionMode" in message and "BULK, PUT, ALL" in message
    kwargs = export_kwargs(loaded.users)
    create(**kwargs)
    code, message = _error(create, **kwargs)
    assert code == "ResourceAlreadyExistsException" and kwargs["jobName"] in message
    unknown = "arn:aws:personalize:us-east-1:123456789012:dataset-export-job/nope"
    code, message = _error(personalize.describe_dataset_export_job, datasetExportJobArn=unknown)
    assert code == "ResourceNotFoundException" and unknown in message


def test_actions_datasets_cannot_be_exported(personalize: Any, loaded: Group) -> None:
    fields = [{"name": "ACTION_ID", "type": "string"}, {"name": "CATEGORY", "type": "string", "categorical": True}]
    actions = _dataset(personalize, loaded.arn, "Actions", _schema(personalize, "Actions", fields))
    code, message = _error(personalize.create_dataset_export_job, **export_kwargs(actions))
    assert code == "InvalidInputException" and "ACTIONS" in message and "cannot be exported" in message


# ---- listing -------------------------------------------------------------------------------------------


def test_list_by_dataset_newest_first_with_pages(personalize: Any, loaded: Group, tmp_path: Path) -> None:
    group = make_group(personalize)
    first = export(personalize, group.users, f"{tmp_path}/")
    second = export(personalize, group.users, f"{tmp_path}/")
    listed = personalize.list_dataset_export_jobs(datasetArn=group.users)["datasetExportJobs"]
    assert [j["datasetExportJobArn"] for j in listed] == [second["datasetExportJobArn"], first["datasetExportJobArn"]]
    assert set(listed[0]) == {"datasetExportJobArn", "jobName", "status", "creationDateTime", "lastUpdatedDateTime"}
    page = personalize.list_dataset_export_jobs(datasetArn=group.users, maxResults=1)
    assert len(page["datasetExportJobs"]) == 1 and page["nextToken"]
    rest = personalize.list_dataset_export_jobs(datasetArn=group.users, maxResults=1, nextToken=page["nextToken"])
    assert rest["datasetExportJobs"][0]["datasetExportJobArn"] == first["datasetExportJobArn"]
    assert "nextToken" not in rest
    everything = personalize.list_dataset_export_jobs()["datasetExportJobs"]
    assert {first["datasetExportJobArn"], second["datasetExportJobArn"]} <= {j["datasetExportJobArn"] for j in everything}
