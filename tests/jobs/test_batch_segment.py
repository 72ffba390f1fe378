"""Batch segment jobs through boto3 (spec §2.10, §8.2): Item-Affinity and Item-Attribute-Affinity segments from
JSON Lines, ``usersList`` out, user filters, per-line errors, the per-file query limit, create rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import unique, wait_for
from test_campaigns import POPULARITY, ServingGroup, make_serving_group, solution, train
from test_datasets import error_of

ROLE = "arn:aws:iam::123456789012:role/batch"
PREFIX = "arn:aws:personalize:::recipe/"
ITEM_AFFINITY, ATTRIBUTE_AFFINITY = PREFIX + "aws-item-affinity", PREFIX + "aws-item-attribute-affinity"


@pytest.fixture(scope="module")
def group(personalize: Any, tmp_path_factory: pytest.TempPathFactory) -> ServingGroup:
    return make_serving_group(personalize, tmp_path_factory.mktemp("segments"))


@pytest.fixture(scope="module")
def versions(personalize: Any, group: ServingGroup) -> dict[str, str]:
    recipes = {"items": ITEM_AFFINITY, "attributes": ATTRIBUTE_AFFINITY}
    return {key: train(personalize, solution(personalize, group.arn, recipe)) for key, recipe in recipes.items()}


def _write(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def _kwargs(version: str, source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"jobName": unique("bsj"), "solutionVersionArn": version, "roleArn": ROLE,
            "jobInput": {"s3DataSource": {"path": source}}, "jobOutput": {"s3DataDestination": {"path": target}}, **extra}


def _run(personalize: Any, version: str, source: str, target: str, **extra: Any) -> dict[str, Any]:
    arn = personalize.create_batch_segment_job(**_kwargs(version, source, target, **extra))["batchSegmentJobArn"]
    return wait_for(lambda: personalize.describe_batch_segment_job(batchSegmentJobArn=arn)["batchSegmentJob"], timeout=120)


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _watchers(group: ServingGroup, item: str) -> set[str]:
    frame = group.data.interactions
    return set(frame.filter(frame["ITEM_ID"] == item)["USER_ID"].to_list())


def test_item_affinity_segments(personalize: Any, group: ServingGroup, versions: dict[str, str], tmp_path: Path) -> None:
    popular = group.data.interactions["ITEM_ID"].value_counts(sort=True)["ITEM_ID"].to_list()[:2]
    source = _write(tmp_path / "items.json", [{"itemId": popular[0]}, {"itemId": "never-seen"}, {"itemId": popular[1]}])
    job = _run(personalize, versions["items"], str(source), f"{tmp_path}/out/", numResults=30)
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert job["numResults"] == 30 and job["solutionVersionArn"] == versions["items"]
    first, unknown, third = _read(tmp_path / "out" / "items.json.out")
    users = first["output"]["usersList"]
    assert first["input"] == {"itemId": popular[0]} and first["error"] is None
    assert len(users) == 30 == len(set(users))
    assert len(set(users) & _watchers(group, popular[0])) >= 10  # the item's own audience ranks high
    assert unknown["output"] is None and "never-seen" in unknown["error"]
    assert len(third["output"]["usersList"]) == 30
    listed = personalize.list_batch_segment_jobs(solutionVersionArn=versions["items"])["batchSegmentJobs"]
    assert [j["batchSegmentJobArn"] for j in listed] == [job["batchSegmentJobArn"]]


def test_attribute_affinity_segments_echo_the_expression(personalize: Any, group: ServingGroup,
                                                         versions: dict[str, str], tmp_path: Path) -> None:
    lines = [{"itemAttributes": 'ITEMS.GENRES = "Family"'}, {"itemAttributes": "ITEMS.GENRES > 3"}]
    source = _write(tmp_path / "attrs.json", lines)
    job = _run(personalize, versions["attributes"], str(source), f"{tmp_path}/out/", numResults=15)
    assert job["status"] == "ACTIVE", job.get("failureReason")
    good, bad = _read(tmp_path / "out" / "attrs.json.out")
    assert good["input"] == {"itemAttributes": 'ITEMS.GENRES = "Family"'}  # as the service writes it
    assert len(good["output"]["usersList"]) == 15
    assert "expected '='" in bad["error"]


def test_user_filter_with_values(personalize: Any, group: ServingGroup, versions: dict[str, str], tmp_path: Path) -> None:
    expression = "EXCLUDE UserID WHERE Interactions.ITEM_ID IN ($ITEMS)"
    arn = personalize.create_filter(name=unique("ufl"), datasetGroupArn=group.arn, filterExpression=expression)["filterArn"]
    assert wait_for(lambda: personalize.describe_filter(filterArn=arn)["filter"])["status"] == "ACTIVE"
    item = group.data.interactions["ITEM_ID"].value_counts(sort=True)["ITEM_ID"][0]
    source = _write(tmp_path / "in.json", [{"itemId": item, "filterValues": {"ITEMS": f'"{item}"'}}, {"itemId": item}])
    job = _run(personalize, versions["items"], str(source), f"{tmp_path}/out/", filterArn=arn, numResults=20)
    assert job["status"] == "ACTIVE", job.get("failureReason")
    filtered, unfiltered = _read(tmp_path / "out" / "in.json.out")
    watchers = _watchers(group, item)
    assert not set(filtered["output"]["usersList"]) & watchers  # those who watched it are excluded
    assert set(unfiltered["output"]["usersList"]) & watchers  # an EXCLUDE without its value is skipped


def test_query_limit_per_file_fails_the_job(personalize: Any, versions: dict[str, str], tmp_path: Path) -> None:
    source = _write(tmp_path / "many.json", [{"itemAttributes": 'ITEMS.GENRES = "Family"'}] * 11)
    job = _run(personalize, versions["attributes"], str(source), f"{tmp_path}/out/")
    assert job["status"] == "CREATE FAILED" and "at most 10" in job["failureReason"]


def test_s3_in_and_out(personalize: Any, group: ServingGroup, versions: dict[str, str], s3: Any) -> None:
    bucket = unique("segments")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="q/items.json", Body=b'{"itemId": "i1"}\n')
    job = _run(personalize, versions["items"], f"s3://{bucket}/q/items.json", f"s3://{bucket}/out")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    line = json.loads(s3.get_object(Bucket=bucket, Key="out/items.json.out")["Body"].read())
    assert len(line["output"]["usersList"]) == 25  # the default numResults


def test_create_rules(personalize: Any, group: ServingGroup, versions: dict[str, str]) -> None:
    create = personalize.create_batch_segment_job
    popular = train(personalize, solution(personalize, group.arn, POPULARITY))
    code, message = error_of(create, **_kwargs(popular, "s3://b/in/", "s3://b/out/"))
    assert code == "InvalidInputException" and "USER_SEGMENTATION" in message
    code, message = error_of(create, **_kwargs(versions["items"], "s3://b/in/", "s3://b/out/", numResults=5_000_001))
    assert code == "InvalidInputException" and "5000000" in message
    item_filter = personalize.create_filter(name=unique("ifl"), datasetGroupArn=group.arn,
                                            filterExpression='EXCLUDE ItemID WHERE Items.GENRES IN ("Family")')["filterArn"]
    wait_for(lambda: personalize.describe_filter(filterArn=item_filter)["filter"])
    code, message = error_of(create, **_kwargs(versions["items"], "s3://b/in/", "s3://b/out/", filterArn=item_filter))
    assert code == "InvalidInputException" and "UserID" in message
    code, message = error_of(create, **_kwargs(versions["items"], "s3://b/in/", "http://example.com/out/"))
    assert code == "InvalidInputException" and "cannot be written" in message
    code, _ = error_of(personalize.describe_batch_segment_job,
                       batchSegmentJobArn=group.arn.replace("dataset-group", "batch-segment-job"))
    assert code == "ResourceNotFoundException"
