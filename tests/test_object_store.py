"""The main flows with ``OPENPERSONALIZE_OBJECT_STORE`` on S3 (SeaweedFS on loopback): import from S3 → train →
campaign → recommendations → batch inference to S3 → export to S3, datasets and models kept in the bucket and
not on the node's disk, and a second node serving the same campaign from the object store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import LiveServer, unique, wait_for
from seaweedfs import SeaweedFS
from test_campaigns import POPULARITY, deploy, solution, train
from test_datasets import active_dataset, active_group, new_schema

from openpersonalize.demo.generator import generate_vod, write_csv

ROLE = "arn:aws:iam::123456789012:role/personalize"
BUCKET, PREFIX = "deployment", "openpersonalize"


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory, seaweedfs: SeaweedFS) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two server processes sharing one metadata store and one S3 object store, each with its own data dir."""
    seaweedfs.create_bucket(BUCKET)
    first_dir = tmp_path_factory.mktemp("node-a")
    env = {**seaweedfs.env(), "OPENPERSONALIZE_OBJECT_STORE": f"s3://{BUCKET}/{PREFIX}",
           "OPENPERSONALIZE_METADATA_URL": f"sqlite:///{first_dir / 'metadata.sqlite3'}"}
    first, second = LiveServer(first_dir, env=env), LiveServer(tmp_path_factory.mktemp("node-b"), env=env)
    first.start()
    second.start()
    yield first, second
    second.stop()
    first.stop()


def _keys(s3: Any, prefix: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def test_main_flows_keep_their_data_in_the_object_store(nodes: tuple[LiveServer, LiveServer], seaweedfs: SeaweedFS,
                                                        tmp_path: Path) -> None:
    node, other = nodes
    personalize, s3 = node.client("personalize"), seaweedfs.client()
    data = generate_vod(users=120, items=80, interactions=2500, seed=5)
    csv = write_csv(data, tmp_path)["interactions"]
    s3.upload_file(str(csv), BUCKET, "input/interactions.csv")
    group, _ = active_group(personalize)
    dataset = active_dataset(personalize, group, "Interactions", new_schema(personalize, data.schemas["INTERACTIONS"]))
    job = personalize.create_dataset_import_job(jobName=unique("imp"), datasetArn=dataset,
                                                dataSource={"dataLocation": f"s3://{BUCKET}/input/interactions.csv"})
    imported = wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job["datasetImportJobArn"])["datasetImportJob"])
    assert imported["status"] == "ACTIVE", imported.get("failureReason")
    assert any(k.endswith(".parquet") for k in _keys(s3, f"{PREFIX}/datasets/"))

    version = train(personalize, solution(personalize, group, POPULARITY))
    assert any(k.endswith("/arrays.npz") for k in _keys(s3, f"{PREFIX}/models/"))
    campaign = deploy(personalize, version)
    for live in (node, other):  # the second node loads the model from the object store into its own cache
        answer = live.client("personalize-runtime").get_recommendations(campaignArn=campaign, userId="u1", numResults=5)
        assert len(answer["itemList"]) == 5
    assert list((other.data_dir / "cache" / "models").rglob("arrays.npz"))
    for live in (node, other):
        assert not (live.data_dir / "datasets").exists() and not (live.data_dir / "models").exists()

    s3.put_object(Bucket=BUCKET, Key="batch/in/users.jsonl", Body=b'{"userId": "u1"}\n{"userId": "u2"}\n')
    batch = personalize.create_batch_inference_job(
        jobName=unique("bij"), solutionVersionArn=version, roleArn=ROLE, numResults=3,
        jobInput={"s3DataSource": {"path": f"s3://{BUCKET}/batch/in/"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{BUCKET}/batch/out/"}})["batchInferenceJobArn"]
    done = wait_for(lambda: personalize.describe_batch_inference_job(batchInferenceJobArn=batch)["batchInferenceJob"], timeout=120)
    assert done["status"] == "ACTIVE", done.get("failureReason")
    lines = s3.get_object(Bucket=BUCKET, Key="batch/out/users.jsonl.out")["Body"].read().splitlines()
    assert [json.loads(line)["input"]["userId"] for line in lines] == ["u1", "u2"]
    assert all(len(json.loads(line)["output"]["recommendedItems"]) == 3 for line in lines)

    into_the_store = personalize.create_batch_inference_job(
        jobName=unique("bij"), solutionVersionArn=version, roleArn=ROLE,
        jobInput={"s3DataSource": {"path": f"s3://{BUCKET}/batch/in/"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{BUCKET}/{PREFIX}/models/"}})["batchInferenceJobArn"]
    refused = wait_for(lambda: personalize.describe_batch_inference_job(batchInferenceJobArn=into_the_store)["batchInferenceJob"])
    assert refused["status"] == "CREATE FAILED" and "OPENPERSONALIZE_OBJECT_STORE" in refused["failureReason"]

    export = personalize.create_dataset_export_job(jobName="exp", datasetArn=dataset, roleArn=ROLE, ingestionMode="BULK",
                                                   jobOutput={"s3DataDestination": {"path": f"s3://{BUCKET}/export/"}})
    exported = wait_for(lambda: personalize.describe_dataset_export_job(datasetExportJobArn=export["datasetExportJobArn"])["datasetExportJob"])
    assert exported["status"] == "ACTIVE", exported.get("failureReason")
    body = s3.get_object(Bucket=BUCKET, Key="export/exp/part-00000.csv")["Body"].read().decode()
    assert len(body.strip().splitlines()) == 1 + 2500

    personalize.delete_dataset(datasetArn=dataset)  # the dataset's files leave the bucket with it
    wait_for(lambda: {"status": "gone"} if not _keys(s3, f"{PREFIX}/datasets/") else {"status": "waiting"}, done=("gone",))
    assert _keys(s3, f"{PREFIX}/datasets/") == []
