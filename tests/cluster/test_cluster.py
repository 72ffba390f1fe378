"""A cluster on loopback (DESIGN §3, scale-out): PostgreSQL (metadata, job queue and event log), SeaweedFS (S3:
datasets, models, job outputs), two API nodes (`serve --no-worker`) and two `worker` processes, each with a data
directory of its own, driven by boto3 round-robin across the API nodes. The same topology as
deploy/docker-compose.yml, as local processes.

- data → training → campaign → recommendations → batch inference works, and every job is claimed once;
- a new solution version deployed through one node is what both nodes serve;
- a worker killed (SIGKILL) mid-training: the other worker takes the job over and it ends ACTIVE, nothing stays
  IN_PROGRESS;
- an API node killed during PutEvents: no acknowledged event is lost, the other node keeps answering;
- an event accepted by one node changes the other node's next recommendation within a second.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from _postgres import shared
from seaweedfs import SeaweedFS
from conftest import LiveServer, unique, wait_for
from test_campaigns import NO_EXPLORATION, POPULARITY, UP, ServingGroup, deploy, make_serving_group, solution, train
from test_crash import EventStream

from openpersonalize.data.eventlog import EventLog
from openpersonalize.data.metadata import Store, jobs

LEASE_SECONDS = "3"  # a worker on another host would be taken over after this; on this host its pid tells at once


class WorkerNode:
    """An `openpersonalize worker` process (one job thread)."""

    def __init__(self, data_dir: Path, env: dict[str, str], name: str) -> None:
        self.data_dir, self.env, self.name = data_dir, env, name
        self.process: subprocess.Popen[bytes] | None = None
        data_dir.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        log = open(self.data_dir / f"{self.name}.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "openpersonalize.cli", "worker", "--data-dir", str(self.data_dir), "--threads", "1"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


class RoundRobin:
    """One boto3 client's interface over several: each call goes to the next node."""

    def __init__(self, clients: list[Any]) -> None:
        self.clients, self.turn = clients, itertools.count()

    def __getattr__(self, name: str) -> Any:
        first = getattr(self.clients[0], name)
        if not callable(first):
            return first  # .exceptions, .meta: the same on every node
        return lambda *args, **kwargs: getattr(self.clients[next(self.turn) % len(self.clients)], name)(*args, **kwargs)


class Cluster:
    def __init__(self, root: Path, weed: SeaweedFS) -> None:
        name = f"cluster_{os.getpid()}_{time.monotonic_ns() % 10**9}"
        self.metadata_url = shared().database(name)
        self.events_url = self.metadata_url  # the event log every API node follows, in the same database
        bucket = weed.create_bucket(name.replace("_", "-"))
        env = {"OPENPERSONALIZE_METADATA_URL": self.metadata_url, "OPENPERSONALIZE_JOB_LEASE_SECONDS": LEASE_SECONDS,
               "OPENPERSONALIZE_EVENTS_URL": self.events_url, "OPENPERSONALIZE_OBJECT_STORE": f"s3://{bucket}/op",
               **weed.env()}
        self.api = [LiveServer(root / f"api-{index}", env, args=("--no-worker",)) for index in range(2)]
        for index, node in enumerate(self.api):
            node.log_path = root / f"api-{index}.log"
        self.workers = [WorkerNode(root / f"worker-{index}", self.api[0].env, "worker") for index in range(2)]
        self.data_dir = self.api[0].data_dir
        self.store = Store(self.metadata_url)

    def start(self) -> None:
        for node in self.api:
            node.start()
        for worker in self.workers:
            worker.start()

    def stop(self) -> None:
        for process in [*self.api, *self.workers]:
            process.stop()

    def client(self, service: str) -> RoundRobin:
        return RoundRobin([node.client(service) for node in self.api])

    def job_rows(self, **where: Any) -> list[Any]:
        query = select(jobs).where(*(getattr(jobs.c, column) == value for column, value in where.items()))
        with self.store.engine.connect() as conn:
            return list(conn.execute(query.order_by(jobs.c.id)).all())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, seaweedfs: SeaweedFS) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("cluster"), seaweedfs)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def personalize(cluster: Cluster) -> RoundRobin:
    return cluster.client("personalize")


@pytest.fixture(scope="module")
def group(cluster: Cluster, personalize: RoundRobin, tmp_path_factory: pytest.TempPathFactory) -> ServingGroup:
    return make_serving_group(personalize, tmp_path_factory.mktemp("cluster-data"))


@pytest.fixture(scope="module")
def campaign(personalize: RoundRobin, group: ServingGroup) -> str:
    return deploy(personalize, train(personalize, solution(personalize, group.arn, UP)), campaignConfig=NO_EXPLORATION)


def test_the_whole_flow_runs_across_nodes_and_each_job_is_claimed_once(
    cluster: Cluster, personalize: RoundRobin, group: ServingGroup, campaign: str, tmp_path: Path
) -> None:
    users = group.data.interactions["USER_ID"].unique().sort().to_list()[:5]
    for user in users:
        answers = [node.client("personalize-runtime").get_recommendations(campaignArn=campaign, userId=user)["itemList"]
                   for node in cluster.api]
        assert answers[0] and [i["itemId"] for i in answers[0]] == [i["itemId"] for i in answers[1]]

    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"userId": user}) + "\n" for user in users))
    version = personalize.describe_campaign(campaignArn=campaign)["campaign"]["solutionVersionArn"]
    job = personalize.create_batch_inference_job(
        jobName=unique("cluster-batch"), solutionVersionArn=version, roleArn="arn:aws:iam::123456789012:role/r",
        jobInput={"s3DataSource": {"path": str(source)}}, jobOutput={"s3DataDestination": {"path": f"{tmp_path}/out/"}},
        numResults=5,
    )["batchInferenceJobArn"]
    described = wait_for(lambda: personalize.describe_batch_inference_job(batchInferenceJobArn=job)["batchInferenceJob"],
                         timeout=120)
    assert described["status"] == "ACTIVE", described.get("failureReason")
    lines = [json.loads(line) for line in (tmp_path / "out" / "in.jsonl.out").read_text().splitlines()]
    assert [line["input"]["userId"] for line in lines] == users and all(len(line["output"]["recommendedItems"]) == 5 for line in lines)

    rows = cluster.job_rows()
    assert rows and {row.state for row in rows} <= {"done", "failed"}
    assert [row.id for row in rows if row.attempts != 1] == []  # nothing was run twice
    assert {row.claimed_by.split(":")[1] for row in rows} <= {str(w.pid) for w in cluster.workers}


def test_a_new_version_deployed_through_one_node_is_served_by_both(
    cluster: Cluster, personalize: RoundRobin, group: ServingGroup, tmp_path: Path
) -> None:
    popular = solution(personalize, group.arn, POPULARITY)
    campaign = deploy(personalize, train(personalize, popular))
    runtimes = [node.client("personalize-runtime") for node in cluster.api]
    first = [r.get_recommendations(campaignArn=campaign, userId="nobody")["itemList"][0]["itemId"] for r in runtimes]
    assert first[0] == first[1] != "hot-item"
    # An incremental import makes a new item the most popular; the retrained version is deployed through node 0.
    dataset = next(d["datasetArn"] for d in personalize.list_datasets(datasetGroupArn=group.arn)["datasets"]
                   if d["datasetType"] == "INTERACTIONS")
    hot = tmp_path / "hot.csv"
    hot.write_text("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n" + "".join(
        f"fan{n},hot-item,{int(time.time()) - 60},Watch\n" for n in range(400)))
    imported = personalize.create_dataset_import_job(jobName=unique("hot"), datasetArn=dataset, importMode="INCREMENTAL",
                                                     dataSource={"dataLocation": str(hot)})["datasetImportJobArn"]
    described = wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=imported)["datasetImportJob"])
    assert described["status"] == "ACTIVE", described.get("failureReason")
    newer = train(personalize, popular)
    cluster.api[0].client("personalize").update_campaign(campaignArn=campaign, solutionVersionArn=newer)
    assert wait_for(lambda: personalize.describe_campaign(campaignArn=campaign)["campaign"])["status"] == "ACTIVE"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        first = [r.get_recommendations(campaignArn=campaign, userId="nobody")["itemList"][0]["itemId"] for r in runtimes]
        if first == ["hot-item", "hot-item"]:
            break
        time.sleep(0.1)
    assert first == ["hot-item", "hot-item"]


def test_a_worker_killed_mid_training_does_not_leave_the_job_stuck(
    cluster: Cluster, personalize: RoundRobin, group: ServingGroup
) -> None:
    version = personalize.create_solution_version(solutionArn=solution(personalize, group.arn, UP))["solutionVersionArn"]
    deadline, running = time.monotonic() + 60, []
    while not running and time.monotonic() < deadline:
        running = cluster.job_rows(arn=version, kind="train", state="running")
        time.sleep(0.01)
    assert running, "the training never started"
    holder = next(w for w in cluster.workers if running[0].claimed_by.split(":")[1] == str(w.pid))
    holder.kill()
    try:
        described = wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"],
                             timeout=120)
        assert described["status"] == "ACTIVE", described.get("failureReason")
        (row,) = cluster.job_rows(arn=version, kind="train")
        assert (row.state, row.attempts) == ("done", 2) and row.claimed_by != running[0].claimed_by
        assert cluster.job_rows(state="running") == []
    finally:
        holder.start()


def test_an_api_node_killed_during_put_events_loses_no_acknowledged_event(
    cluster: Cluster, personalize: RoundRobin, group: ServingGroup, campaign: str
) -> None:
    node, survivor = cluster.api
    stream = EventStream(node, group.tracking_id)
    stream.start()
    deadline = time.monotonic() + 30
    while len(stream.acknowledged) < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    node.kill()
    stream.join()
    try:
        acknowledged = set(stream.acknowledged)
        assert len(acknowledged) >= 300, "too few events were sent before the kill to test anything"
        interactions = next(d["datasetArn"] for d in survivor.client("personalize").list_datasets(datasetGroupArn=group.arn)["datasets"]
                            if d["datasetType"] == "INTERACTIONS")
        stored = {row["$eid"] for row in EventLog(cluster.data_dir / "eventlog", cluster.events_url).rows(interactions)}
        assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged events were lost"
        runtime = survivor.client("personalize-runtime")
        assert runtime.get_recommendations(campaignArn=campaign, userId="after-the-kill")["itemList"]
        survivor.client("personalize-events").put_events(
            trackingId=group.tracking_id, userId="after-the-kill", sessionId="s",
            eventList=[{"eventType": "Watch", "itemId": str(group.data.interactions["ITEM_ID"][0]), "sentAt": time.time()}])
    finally:
        node.start()


def test_an_event_on_one_node_changes_the_next_answer_of_the_other_within_a_second(
    cluster: Cluster, group: ServingGroup, campaign: str
) -> None:
    genre = "Fantasy"
    genres = {row["ITEM_ID"]: set(row["GENRES"].split("|")) for row in group.data.items.iter_rows(named=True)}
    counts = group.data.interactions["ITEM_ID"].value_counts(sort=True)["ITEM_ID"].to_list()
    watched = [item for item in counts if genre in genres.get(item, set())][:6]
    writer, reader = cluster.api[0].client("personalize-events"), cluster.api[1].client("personalize-runtime")

    def share() -> float:
        items = reader.get_recommendations(campaignArn=campaign, userId=session, numResults=20)["itemList"]
        return sum(genre in genres.get(i["itemId"], set()) for i in items) / max(len(items), 1)

    session = unique("visitor")
    before = share()
    now = time.time()
    writer.put_events(trackingId=group.tracking_id, sessionId=session,
                      eventList=[{"eventType": "Watch", "itemId": item, "sentAt": now + k} for k, item in enumerate(watched)])
    sent = time.monotonic()
    while share() < before + 0.25 and time.monotonic() - sent < 1.0:
        time.sleep(0.02)
    assert share() >= before + 0.25, "node B's answer did not change within a second of node A's event"
