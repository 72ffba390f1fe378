"""Bounded work on hostile inputs: sparse and endless files, huge headers, and AWS's tag rules."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError
from conftest import unique, wait_for

from openpersonalize.config import Settings
from openpersonalize.demo.seed import DEMO_FOLDER, demo_folder

from ._sandbox import ROLE, Sandbox, healthy, import_job, new_dataset, peak_rss_kb, sparse

MB = 1 << 10  # VmHWM is in kB


def test_a_sparse_import_is_refused_in_bounded_memory(sandbox: Sandbox) -> None:
    path = sparse(sandbox.root / "sparse" / "big.csv", "256M")
    before = peak_rss_kb(sandbox.server.process.pid)  # type: ignore[union-attr]
    job = import_job(sandbox.client, new_dataset(sandbox.client)[1], str(path))
    assert job["status"] == "CREATE FAILED" and "NUL byte at offset 0" in job["failureReason"]
    assert peak_rss_kb(sandbox.server.process.pid) - before < 100 * MB  # type: ignore[union-attr]
    healthy(sandbox)


def test_an_over_long_line_is_refused(sandbox: Sandbox) -> None:
    path = sandbox.root / "long" / "long.csv"
    path.parent.mkdir()
    path.write_bytes(b"USER_ID,ITEM_ID,TIMESTAMP\n" + b"u" * (3 << 20) + b",i,1\n")
    job = import_job(sandbox.client, new_dataset(sandbox.client)[1], str(path))
    assert job["status"] == "CREATE FAILED" and "a line is longer than 1048576 bytes" in job["failureReason"]


def test_a_header_of_100k_columns_is_checked_in_linear_time(sandbox: Sandbox) -> None:
    path = sandbox.root / "wide" / "wide.csv"
    path.parent.mkdir()
    path.write_text(",".join(["USER_ID", "ITEM_ID", "TIMESTAMP"] + [f"c{i}" for i in range(100_000)]) + "\n")
    started = time.monotonic()
    job = import_job(sandbox.client, new_dataset(sandbox.client)[1], str(path))
    assert job["status"] == "CREATE FAILED" and "not in the dataset's schema" in job["failureReason"]
    assert time.monotonic() - started < 20  # was 68 s of CPU with the quadratic duplicate check


def test_a_sparse_batch_input_is_refused_in_bounded_memory(sandbox: Sandbox, trained: tuple[str, str]) -> None:
    _, version = trained
    path = sparse(sandbox.root / "sparse-batch" / "users.jsonl", "256M")
    before = peak_rss_kb(sandbox.server.process.pid)  # type: ignore[union-attr]
    arn = sandbox.client.create_batch_inference_job(
        jobName=unique("bij"), solutionVersionArn=version, roleArn=ROLE,
        jobInput={"s3DataSource": {"path": str(path)}},
        jobOutput={"s3DataDestination": {"path": f"{sandbox.root}/sparse-out/"}},
    )["batchInferenceJobArn"]
    job = wait_for(lambda: sandbox.client.describe_batch_inference_job(batchInferenceJobArn=arn)["batchInferenceJob"])
    assert job["status"] == "CREATE FAILED" and "a line is longer than" in job["failureReason"]
    assert peak_rss_kb(sandbox.server.process.pid) - before < 100 * MB  # type: ignore[union-attr]
    healthy(sandbox)


def _error(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as failure:
        call(**kwargs)
    return failure.value.response["Error"]["Code"], failure.value.response["Error"]["Message"]


def test_tags_follow_aws_rules(sandbox: Sandbox) -> None:
    client = sandbox.client
    reserved = [{"tagKey": "aws:owner", "tagValue": "x"}]
    twice = [{"tagKey": "team", "tagValue": "a"}, {"tagKey": "team", "tagValue": "b"}]
    for tags in (reserved, twice):
        code, _ = _error(client.create_dataset_group, name=unique("tags"), tags=tags)
        assert code == "InvalidInputException"
    group = client.create_dataset_group(name=unique("tags"), tags=[{"tagKey": "team", "tagValue": "a"}])["datasetGroupArn"]
    for tags in (reserved, twice):
        assert _error(client.tag_resource, resourceArn=group, tags=tags)[0] == "InvalidInputException"
    assert _error(client.untag_resource, resourceArn=group, tagKeys=["AWS:owner"])[0] == "InvalidInputException"
    assert client.list_tags_for_resource(resourceArn=group)["tags"] == [{"tagKey": "team", "tagValue": "a"}]


def test_the_demo_writes_its_inputs_under_a_root_outside_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", local_paths=(tmp_path / "var", tmp_path))
    assert demo_folder(settings) == tmp_path.resolve() / DEMO_FOLDER
    assert demo_folder(Settings(data_dir=tmp_path, local_paths=(tmp_path,))) is None


def test_a_deeply_nested_batch_line_is_a_line_error_not_a_crash(sandbox: Sandbox, trained: tuple[str, str]) -> None:
    _, version = trained
    source = sandbox.root / "deep-batch" / "users.jsonl"
    source.parent.mkdir()
    deep = b'{"userId": "u1", "junk": ' + b"[" * 900 + b"]" * 900 + b"}"
    source.write_bytes(deep + b'\n{"userId": "u2"}\n')
    arn = sandbox.client.create_batch_inference_job(
        jobName=unique("bij"), solutionVersionArn=version, roleArn=ROLE,
        jobInput={"s3DataSource": {"path": str(source)}},
        jobOutput={"s3DataDestination": {"path": f"{sandbox.root}/deep-out/"}},
    )["batchInferenceJobArn"]
    job = wait_for(lambda: sandbox.client.describe_batch_inference_job(batchInferenceJobArn=arn)["batchInferenceJob"])
    assert job["status"] == "ACTIVE", job.get("failureReason")
    lines = [orjson.loads(line) for line in (sandbox.root / "deep-out" / "users.jsonl.out").read_bytes().splitlines()]
    assert "nests JSON deeper than 254 levels" in lines[0]["error"] and lines[1]["output"]["recommendedItems"]
