"""Batch inference jobs through boto3 (spec §2.10, §8.1): JSON Lines in, ``<input>.out`` out, from and to local
folders and S3, per recipe type, with filters and per-line errors; the create-time rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import unique, wait_for
from test_campaigns import POPULARITY, RANKING, SIMS, UP, ServingGroup, deploy, make_serving_group, solution, train
from test_datasets import error_of

ROLE = "arn:aws:iam::123456789012:role/batch"
AFFINITY = "arn:aws:personalize:::recipe/aws-item-affinity"


@pytest.fixture(scope="module")
def group(personalize: Any, tmp_path_factory: pytest.TempPathFactory) -> ServingGroup:
    return make_serving_group(personalize, tmp_path_factory.mktemp("batch"))


@pytest.fixture(scope="module")
def versions(personalize: Any, group: ServingGroup) -> dict[str, str]:
    recipes = {"up": UP, "sims": SIMS, "popular": POPULARITY, "ranking": RANKING}
    return {key: train(personalize, solution(personalize, group.arn, recipe)) for key, recipe in recipes.items()}


def _users(group: ServingGroup, count: int) -> list[str]:
    return [str(u) for u in group.data.interactions["USER_ID"].unique(maintain_order=True)[:count]]


def _write(path: Path, lines: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def _run(personalize: Any, version: str, source: str, target: str, **kwargs: Any) -> dict[str, Any]:
    arn = personalize.create_batch_inference_job(
        jobName=unique("bij"), solutionVersionArn=version, roleArn=ROLE,
        jobInput={"s3DataSource": {"path": source}}, jobOutput={"s3DataDestination": {"path": target}}, **kwargs,
    )["batchInferenceJobArn"]
    return wait_for(lambda: personalize.describe_batch_inference_job(batchInferenceJobArn=arn)["batchInferenceJob"],
                    timeout=120)


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_user_personalization_local_with_per_line_errors(personalize: Any, group: ServingGroup,
                                                         versions: dict[str, str], tmp_path: Path) -> None:
    users = _users(group, 3)
    lines = [{"userId": u} for u in users] + ["not json", {"itemId": "i1"}, {"userId": "nobody-knows-me"}]
    source = _write(tmp_path / "in" / "users.json", lines)
    job = _run(personalize, versions["up"], str(source), f"{tmp_path}/out/", numResults=7)
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert job["numResults"] == 7 and job["batchInferenceJobMode"] == "BATCH_INFERENCE"
    assert job["jobInput"] == {"s3DataSource": {"path": str(source)}}
    out = _read(tmp_path / "out" / "users.json.out")
    assert len(out) == len(lines)  # one output line per input line, in order
    for user, line in zip(users, out[:3], strict=True):
        assert line["input"] == {"userId": user} and line["error"] is None
        items, scores = line["output"]["recommendedItems"], line["output"]["scores"]
        assert len(items) == 7 == len(set(items)) == len(scores)
        assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    assert out[3]["input"] == "not json" and "not valid JSON" in out[3]["error"] and out[3]["output"] is None
    assert "userId must be a string" in out[4]["error"]
    assert out[5]["error"] is None and len(out[5]["output"]["recommendedItems"]) == 7  # unknown user: popular items
    listed = personalize.list_batch_inference_jobs(solutionVersionArn=versions["up"])["batchInferenceJobs"]
    assert listed[0]["batchInferenceJobArn"] == job["batchInferenceJobArn"] and listed[0]["status"] == "ACTIVE"
    assert set(listed[0]) <= {"batchInferenceJobArn", "jobName", "status", "creationDateTime", "lastUpdatedDateTime",
                              "failureReason", "solutionVersionArn", "batchInferenceJobMode"}


def test_related_items_from_an_s3_folder(personalize: Any, group: ServingGroup, versions: dict[str, str],
                                         s3: Any) -> None:
    bucket = unique("batch")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="in/a.json", Body=b'{"itemId": "i1"}\n{"itemId": "i2"}\n')
    s3.put_object(Bucket=bucket, Key="in/b.json", Body=b'{"itemId": "no-such-item"}\n')
    job = _run(personalize, versions["sims"], f"s3://{bucket}/in/", f"s3://{bucket}/out/", numResults=5)
    assert job["status"] == "ACTIVE", job.get("failureReason")
    first = [json.loads(x) for x in s3.get_object(Bucket=bucket, Key="out/a.json.out")["Body"].read().splitlines()]
    assert [line["input"] for line in first] == [{"itemId": "i1"}, {"itemId": "i2"}]
    for line in first:
        items = line["output"]["recommendedItems"]
        assert len(items) == 5 and line["input"]["itemId"] not in items and "scores" not in line["output"]
    second = json.loads(s3.get_object(Bucket=bucket, Key="out/b.json.out")["Body"].read())
    assert second["error"] is None and len(second["output"]["recommendedItems"]) == 5  # unknown item: popular


def test_popularity_is_the_same_for_everyone(personalize: Any, group: ServingGroup, versions: dict[str, str],
                                             tmp_path: Path) -> None:
    source = _write(tmp_path / "in.json", [{"userId": u} for u in _users(group, 4)])
    job = _run(personalize, versions["popular"], str(source), f"file://{tmp_path}/out/")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    out = _read(tmp_path / "out" / "in.json.out")
    lists = {tuple(line["output"]["recommendedItems"]) for line in out}
    assert len(lists) == 1 and len(next(iter(lists))) == 25 and "scores" not in out[0]["output"]


def test_personalized_ranking_reorders_the_list(personalize: Any, group: ServingGroup, versions: dict[str, str],
                                                tmp_path: Path) -> None:
    user = _users(group, 1)[0]
    wanted = ["i5", "i40", "i77", "i120", "not-an-item"]
    source = _write(tmp_path / "in.json", [{"userId": user, "itemList": wanted}, {"userId": user}])
    job = _run(personalize, versions["ranking"], str(source), f"{tmp_path}/out/")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    ranked, bad = _read(tmp_path / "out" / "in.json.out")
    items, scores = ranked["output"]["recommendedItems"], ranked["output"]["scores"]
    assert sorted(items) == sorted(wanted) and items[-1] == "not-an-item" and scores[-1] is None
    assert scores[:-1] == sorted(scores[:-1], reverse=True) and abs(sum(scores[:-1]) - 1) < 1e-3
    assert "itemList must be a non-empty list" in bad["error"]


def test_filter_values_per_line(personalize: Any, group: ServingGroup, versions: dict[str, str], tmp_path: Path) -> None:
    arn = personalize.create_filter(name=unique("flt"), datasetGroupArn=group.arn,
                                    filterExpression="INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)")["filterArn"]
    assert wait_for(lambda: personalize.describe_filter(filterArn=arn)["filter"])["status"] == "ACTIVE"
    user = _users(group, 1)[0]
    lines = [{"userId": user, "filterValues": {"GENRES": '"Family"'}},
             {"userId": user, "filterValues": {"GENRES": '"Documentary","Comedy"'}},
             {"userId": user}, {"userId": user, "filterValues": {"GENRES": "unquoted"}}]
    source = _write(tmp_path / "in.json", lines)
    job = _run(personalize, versions["up"], str(source), f"{tmp_path}/out/", filterArn=arn, numResults=10)
    assert job["status"] == "ACTIVE", job.get("failureReason") and job["filterArn"] == arn
    out = _read(tmp_path / "out" / "in.json.out")
    genres = dict(zip(group.data.items["ITEM_ID"].to_list(), group.data.items["GENRES"].to_list(), strict=True))
    for line, allowed in ((out[0], {"Family"}), (out[1], {"Documentary", "Comedy"})):
        items = line["output"]["recommendedItems"]
        assert items and all(set(genres[i].split("|")) & allowed for i in items)
    assert "$GENRES" in out[2]["error"]  # an INCLUDE placeholder without a value is this line's error
    assert "GENRES" in out[3]["error"]


def test_exploration_config_gives_slots_to_young_items(personalize: Any, group: ServingGroup,
                                                       versions: dict[str, str], tmp_path: Path) -> None:
    users = _users(group, 20)
    source = _write(tmp_path / "in.json", [{"userId": u} for u in users])
    plain = _run(personalize, versions["up"], str(source), f"{tmp_path}/plain/", numResults=10)
    explored = _run(personalize, versions["up"], str(source), f"{tmp_path}/explored/", numResults=10,
                    batchInferenceJobConfig={"itemExplorationConfig": {"explorationWeight": "1",
                                                                       "explorationItemAgeCutOff": "3650"}})
    assert plain["status"] == explored["status"] == "ACTIVE", explored.get("failureReason")
    assert explored["batchInferenceJobConfig"]["itemExplorationConfig"]["explorationWeight"] == "1"
    before = _read(tmp_path / "plain" / "in.json.out")
    after = _read(tmp_path / "explored" / "in.json.out")
    changed = sum(a["output"]["recommendedItems"] != b["output"]["recommendedItems"] for a, b in zip(after, before, strict=True))
    assert changed > 0 and all(len(a["output"]["recommendedItems"]) == 10 for a in after)


def _genre_filter(personalize: Any, group: ServingGroup) -> str:
    arn = personalize.create_filter(name=unique("flt"), datasetGroupArn=group.arn,
                                    filterExpression="INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)")["filterArn"]
    assert wait_for(lambda: personalize.describe_filter(filterArn=arn)["filter"])["status"] == "ACTIVE"
    return str(arn)


def test_a_batch_job_answers_what_get_recommendations_answers(personalize: Any, runtime: Any, group: ServingGroup,
                                                              versions: dict[str, str], tmp_path: Path) -> None:
    """Same user, filter (with a value) and settings, exploration off: the same items and scores (ranking.py)."""
    no_exploration = {"itemExplorationConfig": {"explorationWeight": "0", "explorationItemAgeCutOff": "30"}}
    campaign = deploy(personalize, versions["up"], campaignConfig=no_exploration)
    arn = _genre_filter(personalize, group)
    values = [{"GENRES": '"Comedy"'}, {"GENRES": '"Documentary","Family"'}]
    lines = [{"userId": u, "filterValues": v} for u in [*_users(group, 6), "nobody-knows-me"] for v in values]
    source = _write(tmp_path / "in.json", lines)
    job = _run(personalize, versions["up"], str(source), f"{tmp_path}/out/", filterArn=arn, numResults=15,
               batchInferenceJobConfig=no_exploration)
    assert job["status"] == "ACTIVE", job.get("failureReason")
    for line in _read(tmp_path / "out" / "in.json.out"):
        online = runtime.get_recommendations(campaignArn=campaign, userId=line["input"]["userId"], numResults=15,
                                             filterArn=arn, filterValues=line["input"]["filterValues"])["itemList"]
        assert line["output"]["recommendedItems"] == [item["itemId"] for item in online]
        assert line["output"]["scores"] == [item["score"] for item in online]


def test_a_ranking_job_answers_what_get_personalized_ranking_answers(
    personalize: Any, runtime: Any, group: ServingGroup, versions: dict[str, str], tmp_path: Path
) -> None:
    campaign = deploy(personalize, versions["ranking"])
    wanted = ["i5", "i40", "not-an-item", "i77", "i120", "i3", "i9"]
    lines = [{"userId": u, "itemList": wanted} for u in [*_users(group, 4), "nobody-knows-me"]]
    source = _write(tmp_path / "in.json", lines)
    job = _run(personalize, versions["ranking"], str(source), f"{tmp_path}/out/")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    for line in _read(tmp_path / "out" / "in.json.out"):
        online = runtime.get_personalized_ranking(campaignArn=campaign, userId=line["input"]["userId"],
                                                  inputList=wanted)["personalizedRanking"]
        assert line["output"]["recommendedItems"] == [item["itemId"] for item in online]
        assert line["output"]["scores"] == [item.get("score") for item in online]


def test_unreadable_input_fails_the_job(personalize: Any, versions: dict[str, str], tmp_path: Path, s3: Any) -> None:
    job = _run(personalize, versions["up"], f"{tmp_path}/missing.json", f"{tmp_path}/out/")
    assert job["status"] == "CREATE FAILED" and job["failureReason"].startswith("Invalid S3 input path")
    job = _run(personalize, versions["up"], f"s3://{unique('no-bucket')}/in/", f"{tmp_path}/out/")
    assert job["status"] == "CREATE FAILED" and "Invalid S3 input path" in job["failureReason"]


def _kwargs(version: str, **extra: Any) -> dict[str, Any]:
    return {"jobName": unique("bij"), "solutionVersionArn": version, "roleArn": ROLE,
            "jobInput": {"s3DataSource": {"path": "s3://b/in/"}}, "jobOutput": {"s3DataDestination": {"path": "s3://b/out/"}},
            **extra}


def test_create_rules(personalize: Any, group: ServingGroup, versions: dict[str, str]) -> None:
    create = personalize.create_batch_inference_job
    code, message = error_of(create, **_kwargs(versions["sims"], batchInferenceJobMode="THEME_GENERATION"))
    assert code == "InvalidInputException" and "THEME_GENERATION" in message and "generative" in message
    code, message = error_of(create, **_kwargs(versions["up"], numResults=501))
    assert code == "InvalidInputException" and "numResults" in message and "500" in message
    code, message = error_of(create, **_kwargs(versions["sims"], batchInferenceJobConfig={"itemExplorationConfig": {"explorationWeight": "0.5"}}))
    assert code == "InvalidInputException" and "User-Personalization" in message
    code, message = error_of(create, **_kwargs(versions["up"], batchInferenceJobConfig={"itemExplorationConfig": {"explorationWeight": "2"}}))
    assert code == "InvalidInputException" and "explorationWeight" in message and "'2'" in message
    missing = versions["up"][: versions["up"].rindex("/")] + "/00000000"
    code, message = error_of(create, **_kwargs(missing))
    assert code == "ResourceNotFoundException" and missing in message
    same = _kwargs(versions["up"])
    same["jobOutput"] = {"s3DataDestination": {"path": "s3://b/in/"}}
    code, message = error_of(create, **same)
    assert code == "InvalidInputException" and "different from the input" in message
    code, message = error_of(create, **_kwargs(versions["up"], filterArn=group.arn.replace("dataset-group", "filter")))
    assert code == "ResourceNotFoundException" and "filter" in message
    code, message = error_of(create, **{**_kwargs(versions["up"]), "jobInput": {"s3DataSource": {"path": "ftp://x/y"}}})
    assert code == "InvalidInputException" and "jobInput.s3DataSource.path" in message
    name = unique("dup")
    personalize.create_batch_inference_job(**{**_kwargs(versions["popular"]), "jobName": name})
    code, _ = error_of(create, **{**_kwargs(versions["popular"]), "jobName": name})
    assert code == "ResourceAlreadyExistsException"
    code, message = error_of(personalize.describe_batch_inference_job, batchInferenceJobArn=missing.replace("solution", "batch-inference-job"))
    assert code == "ResourceNotFoundException"


def test_segment_versions_are_refused(personalize: Any, group: ServingGroup) -> None:
    version = train(personalize, solution(personalize, group.arn, AFFINITY))
    code, message = error_of(personalize.create_batch_inference_job, **_kwargs(version))
    assert code == "InvalidInputException" and "CreateBatchSegmentJob" in message
