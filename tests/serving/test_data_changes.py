"""Served histories follow the dataset group's data (spec §2.4): after a data deletion job, real-time filters and
scores no longer see the deleted users' events, and a later bulk import of interactions is seen, as batch jobs
see them. Each test mutates its own group."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import polars as pl
from conftest import unique, wait_for
from test_campaigns import NO_EXPLORATION, UP, ServingGroup, deploy, make_serving_group, solution, train

WATCHED = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch")'
ROLE = "arn:aws:iam::123456789012:role/personalize"
SETTLE_SECONDS = 30.0  # served models look at the data every couple of seconds; a reload takes a moment more


def _served(personalize: Any, folder: Path) -> tuple[ServingGroup, str, str]:
    """A fresh group, its UP campaign without exploration, and a filter excluding watched items."""
    group = make_serving_group(personalize, folder)
    version = train(personalize, solution(personalize, group.arn, UP))
    campaign = deploy(personalize, version, campaignConfig=NO_EXPLORATION)
    flt = personalize.create_filter(name=unique("watched"), datasetGroupArn=group.arn,
                                    filterExpression=WATCHED)["filterArn"]
    assert wait_for(lambda: personalize.describe_filter(filterArn=flt)["filter"])["status"] == "ACTIVE"
    return group, campaign, str(flt)


def _items(runtime: Any, campaign: str, user: str, flt: str) -> list[str]:
    answer = runtime.get_recommendations(campaignArn=campaign, userId=user, filterArn=flt, numResults=100)
    return [entry["itemId"] for entry in answer["itemList"]]


def _until(check: Any) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while not check():
        assert time.monotonic() < deadline, "the served answers did not follow the data"
        time.sleep(0.5)


def _watched(group: ServingGroup, user: str) -> set[str]:
    rows = group.data.interactions.filter((pl.col("USER_ID") == user) & (pl.col("EVENT_TYPE") == "Watch"))
    return set(rows["ITEM_ID"].to_list())


def test_deleted_users_events_leave_filters_and_scores(personalize: Any, runtime: Any, tmp_path: Path) -> None:
    group, campaign, flt = _served(personalize, tmp_path / "data")
    counts = group.data.interactions.filter(pl.col("EVENT_TYPE") == "Watch")["USER_ID"].value_counts(sort=True)
    user = str(counts.filter(pl.col("count") <= 50)["USER_ID"][0])  # filters read ≤ 100 events of a type
    watched = _watched(group, user)
    assert not watched & set(_items(runtime, campaign, user, flt))
    stranger = _items(runtime, campaign, unique("nobody"), flt)
    assert watched & set(stranger)  # the filter has something to stop hiding
    (tmp_path / "gone.csv").write_text(f"USER_ID\n{user}\n")
    job = personalize.create_data_deletion_job(jobName=unique("del"), datasetGroupArn=group.arn, roleArn=ROLE,
                                               dataSource={"dataLocation": str(tmp_path / "gone.csv")})
    done = wait_for(lambda: personalize.describe_data_deletion_job(dataDeletionJobArn=job["dataDeletionJobArn"])[
        "dataDeletionJob"], ("COMPLETED", "FAILED"))
    assert done["status"] == "COMPLETED", done.get("failureReason")
    # The user has no events left: answered like anyone without a history, watched items included.
    _until(lambda: _items(runtime, campaign, user, flt) == stranger)
    # A campaign deployed after the deletion answers the same.
    later = deploy(personalize, personalize.describe_campaign(campaignArn=campaign)["campaign"]["solutionVersionArn"],
                   campaignConfig=NO_EXPLORATION)
    assert _items(runtime, later, user, flt) == stranger


def test_a_later_bulk_import_reaches_the_served_history(personalize: Any, runtime: Any, tmp_path: Path) -> None:
    group, campaign, flt = _served(personalize, tmp_path / "data")
    popular = group.data.interactions["ITEM_ID"].value_counts(sort=True)["ITEM_ID"].head(5).to_list()
    user = unique("newcomer")
    assert set(popular) & set(_items(runtime, campaign, user, flt))
    # Interactions imports need 1,000 rows: the newcomer's five, and others' for the rest.
    start = int(group.data.interactions["TIMESTAMP"].max()) + 60
    rows = [(user, item, "Watch", start + k) for k, item in enumerate(popular)]
    rows += [(f"filler-{k % 50}", popular[k % 5], "Click", start + k) for k in range(995)]
    path = tmp_path / "more.csv"
    path.write_text("USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n" + "".join(f"{u},{i},{e},{t}\n" for u, i, e, t in rows))
    interactions = next(d["datasetArn"] for d in personalize.list_datasets(datasetGroupArn=group.arn)["datasets"]
                        if d["datasetType"] == "INTERACTIONS")
    job = personalize.create_dataset_import_job(jobName=unique("more"), datasetArn=interactions,
                                                importMode="INCREMENTAL",
                                                dataSource={"dataLocation": str(path)})["datasetImportJobArn"]
    done = wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
    assert done["status"] == "ACTIVE", done.get("failureReason")
    _until(lambda: not set(popular) & set(_items(runtime, campaign, user, flt)))
