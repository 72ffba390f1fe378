"""CreateDataDeletionJob / DescribeDataDeletionJob / ListDataDeletionJobs through boto3 (spec §2.4)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import LiveServer, s3_env, unique, wait_for
from test_export_jobs import (
    BULK_INTERACTIONS,
    BULK_USERS,
    ROLE,
    Group,
    export,
    export_kwargs,
    import_rows,
    make_group,
    put_events,
    read_local_export,
    write_csv,
)


def _loaded_group(personalize: Any, events: Any, inputs: Path) -> Group:
    """A fresh group (deletions mutate it): 1000 bulk interactions of u0..u9, 10 bulk users, some PUT rows."""
    group = make_group(personalize)
    import_rows(personalize, group.interactions, inputs / "interactions.csv", BULK_INTERACTIONS)
    import_rows(personalize, group.users, inputs / "users.csv", BULK_USERS)
    put_events(events, group, "u1", ["i7", "i8"], 1_800_000_000)
    put_events(events, group, "u5", ["i9"], 1_800_000_010)
    events.put_users(datasetArn=group.users, users=[{"userId": "u1", "properties": json.dumps({"age": 77})}])
    return group


def delete_users(personalize: Any, group: Group, location: str) -> dict[str, Any]:
    """Run a data deletion job to the end; its final DescribeDataDeletionJob body."""
    arn = personalize.create_data_deletion_job(
        jobName=unique("del"), datasetGroupArn=group.arn, dataSource={"dataLocation": location}, roleArn=ROLE
    )["dataDeletionJobArn"]
    return dict(wait_for(lambda: personalize.describe_data_deletion_job(dataDeletionJobArn=arn)["dataDeletionJob"]))


def _remaining_users(personalize: Any, dataset_arn: str, out: Path) -> dict[str, int]:
    """USER_ID → number of rows left in the dataset, bulk and PUT (via an ALL export)."""
    job = export(personalize, dataset_arn, f"{out}/", "ALL")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    counts: dict[str, int] = {}
    for row in read_local_export(out, job)[1]:
        counts[row["USER_ID"]] = counts.get(row["USER_ID"], 0) + 1
    return counts


def test_deletes_users_from_every_dataset_bulk_and_put(personalize: Any, events: Any, tmp_path: Path) -> None:
    group = _loaded_group(personalize, events, tmp_path / "in")
    job = delete_users(personalize, group, str(write_csv(tmp_path / "gone.csv", [{"USER_ID": "u1"}, {"USER_ID": "u5"}])))
    assert job["status"] == "COMPLETED", job.get("failureReason")
    # bulk interactions: 100 each; PUT interactions: 2 + 1; bulk users: 1 each; PUT users: u1 once
    assert job["numDeleted"] == 100 + 100 + 3 + 2 + 1
    interactions = _remaining_users(personalize, group.interactions, tmp_path / "out")
    assert "u1" not in interactions and "u5" not in interactions
    assert interactions == {f"u{n}": 100 for n in range(10) if n not in (1, 5)}
    users = _remaining_users(personalize, group.users, tmp_path / "out")
    assert set(users) == {f"u{n}" for n in range(10)} - {"u1", "u5"}


def test_folder_input_on_s3_is_read_recursively(personalize: Any, events: Any, s3: Any, tmp_path: Path) -> None:
    group = _loaded_group(personalize, events, tmp_path / "in")
    bucket = unique("deletions")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="req/a.csv", Body=b"USER_ID\nu2\n")
    s3.put_object(Bucket=bucket, Key="req/nested/b.csv", Body=b"USER_ID\nu3\nu2\n")
    s3.put_object(Bucket=bucket, Key="req/notes.txt", Body=b"not,a,csv\n")  # not a .csv: ignored
    job = delete_users(personalize, group, f"s3://{bucket}/req/")
    assert job["status"] == "COMPLETED", job.get("failureReason")
    assert job["numDeleted"] == 100 + 100 + 1 + 1
    assert set(_remaining_users(personalize, group.users, tmp_path / "out")) == {f"u{n}" for n in range(10)} - {"u2", "u3"}


def test_unknown_users_delete_nothing(personalize: Any, events: Any, tmp_path: Path) -> None:
    group = make_group(personalize)
    job = delete_users(personalize, group, f"file://{write_csv(tmp_path / 'x.csv', [{'USER_ID': 'nobody'}])}")
    assert (job["status"], job["numDeleted"]) == ("COMPLETED", 0)


@pytest.fixture(scope="module")
def empty_group(personalize: Any) -> Group:
    return make_group(personalize)


def test_bad_input_fails_the_job_with_a_reason(personalize: Any, empty_group: Group, tmp_path: Path) -> None:
    wrong = write_csv(tmp_path / "wrong.csv", [{"USER_ID": "u1", "ITEM_ID": "i1"}])
    job = delete_users(personalize, empty_group, str(wrong))
    assert job["status"] == "FAILED"
    assert job["failureReason"] == f"{wrong}: the input CSV must have exactly one column, USER_ID; found ['USER_ID', 'ITEM_ID']."
    assert "numDeleted" not in job

    long = tmp_path / "long.csv"
    long.write_text(f"USER_ID\nu1\n\n{'u' * 257}\n")  # the blank line is skipped and still counts as row 2
    job = delete_users(personalize, empty_group, str(long))
    assert job["status"] == "FAILED" and "row 3, column USER_ID" in job["failureReason"]

    job = delete_users(personalize, empty_group, str(tmp_path / "missing.csv"))
    assert job["status"] == "FAILED" and "does not exist" in job["failureReason"]

    (tmp_path / "empty-folder").mkdir()
    job = delete_users(personalize, empty_group, f"{tmp_path}/empty-folder/")
    assert job["status"] == "FAILED" and "No CSV files" in job["failureReason"]


def _error(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def _create_kwargs(group_arn: str, location: str = "/tmp/users.csv") -> dict[str, Any]:
    return {"jobName": unique("del"), "datasetGroupArn": group_arn, "dataSource": {"dataLocation": location}, "roleArn": ROLE}


def test_bad_requests_are_refused(personalize: Any, empty_group: Group) -> None:
    create = personalize.create_data_deletion_job
    missing = "arn:aws:personalize:us-east-1:123456789012:dataset-group/nope"
    assert _error(create, **_create_kwargs(missing)) == ("ResourceNotFoundException", f"Could not find dataset group with ARN {missing}.")
    code, message = _error(create, **_create_kwargs(empty_group.arn, "relative.csv"))
    assert code == "InvalidInputException" and "relative.csv" in message
    code, message = _error(create, **{**_create_kwargs(empty_group.arn), "roleArn": "not-a-role"})
    assert code == "InvalidInputException" and "roleArn" in message
    unknown = "arn:aws:personalize:us-east-1:123456789012:data-deletion-job/nope"
    code, message = _error(personalize.describe_data_deletion_job, dataDeletionJobArn=unknown)
    assert code == "ResourceNotFoundException" and unknown in message


def test_describe_shape_and_list_newest_first(personalize: Any, empty_group: Group, tmp_path: Path) -> None:
    location = str(write_csv(tmp_path / "u.csv", [{"USER_ID": "u1"}]))
    first = delete_users(personalize, empty_group, location)
    second = delete_users(personalize, empty_group, location)
    assert second["dataDeletionJobArn"] == f"arn:aws:personalize:us-east-1:123456789012:data-deletion-job/{second['jobName']}"
    assert second["datasetGroupArn"] == empty_group.arn and second["roleArn"] == ROLE
    assert second["dataSource"] == {"dataLocation": location} and second["numDeleted"] == 0
    listed = personalize.list_data_deletion_jobs(datasetGroupArn=empty_group.arn)["dataDeletionJobs"]
    arns = [j["dataDeletionJobArn"] for j in listed]
    assert arns.index(second["dataDeletionJobArn"]) < arns.index(first["dataDeletionJobArn"])
    assert {"dataDeletionJobArn", "datasetGroupArn", "jobName", "status", "creationDateTime"} <= set(listed[0])
    page = personalize.list_data_deletion_jobs(datasetGroupArn=empty_group.arn, maxResults=1)
    assert len(page["dataDeletionJobs"]) == 1 and page["nextToken"]
    code, _ = _error(personalize.list_data_deletion_jobs, nextToken="garbage")
    assert code == "InvalidNextTokenException"


@pytest.fixture()
def paused(tmp_path: Path, s3_server: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two servers over one data directory: ``running`` has a worker, ``idle`` none (jobs stay queued)."""
    running = LiveServer(tmp_path / "data", env=s3_env(s3_server))
    idle = LiveServer(tmp_path / "data", env={**s3_env(s3_server), "OPENPERSONALIZE_WORKER_THREADS": "0"})
    yield running, idle
    running.stop()
    idle.stop()


def test_pending_quotas_of_exports_and_deletions(paused: tuple[LiveServer, LiveServer], tmp_path: Path) -> None:
    # One test for both quotas: each server start costs seconds, and the setup (ACTIVE datasets) is shared.
    running, idle = paused
    running.start()
    group, other = make_group(running.client("personalize")), make_group(running.client("personalize"))
    running.stop()
    idle.start()
    client = idle.client("personalize")
    exports = [client.create_dataset_export_job(**export_kwargs(group.users, f"{tmp_path}/out/")) for _ in range(5)]
    code, message = _error(client.create_dataset_export_job, **export_kwargs(other.users))
    assert (code, message) == ("LimitExceededException", "More than 5 resources with PENDING or IN_PROGRESS status.")
    job = client.describe_dataset_export_job(datasetExportJobArn=exports[0]["datasetExportJobArn"])["datasetExportJob"]
    assert job["status"] == "CREATE PENDING"

    location = str(write_csv(tmp_path / "u.csv", [{"USER_ID": "u1"}]))
    deletions = [client.create_data_deletion_job(**_create_kwargs(group.arn, location)) for _ in range(5)]
    code, message = _error(client.create_data_deletion_job, **_create_kwargs(group.arn, location))
    assert code == "LimitExceededException" and group.arn in message and "5 data deletion jobs with PENDING status" in message
    client.create_data_deletion_job(**_create_kwargs(other.arn, location))  # the quota is per dataset group
    job = client.describe_data_deletion_job(dataDeletionJobArn=deletions[0]["dataDeletionJobArn"])["dataDeletionJob"]
    assert job["status"] == "PENDING"
