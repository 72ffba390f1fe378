"""Training progress (issue 3): GET /progress/<arn> on the live server and ``openpersonalize progress``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import polars as pl
import pytest
from conftest import LiveServer, unique, wait_for
from test_datasets import active_dataset, active_group, new_schema
from test_filters_in_use import HeldInput

from openpersonalize.control.progress import progress_of
from openpersonalize.data.metadata import Store, new_record
from openpersonalize.demo.generator import generate_vod, write_csv
from openpersonalize.recipes.als import ImplicitALS
from openpersonalize.recipes.base import TrainingData, fit_progress
from openpersonalize.services import Services

UP = "arn:aws:personalize:::recipe/aws-user-personalization"
POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"
TRIALS = 3
PHASES = ["loading data", "preparing", "HPO", "fitting and evaluating", "saving the model"]


# Credentials as the AWS CLI would find them; never a developer's own profile.
CLI_ENV = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "openpersonalize.cli", "progress", *args]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_command(*args), capture_output=True, text=True, timeout=180, env=CLI_ENV)


@pytest.fixture(scope="module")
def group(personalize: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    data = generate_vod(users=200, items=150, interactions=4000, seed=5)
    files = write_csv(data, tmp_path_factory.mktemp("progress"))
    arn, _ = active_group(personalize)
    dataset = active_dataset(personalize, arn, "Interactions", new_schema(personalize, data.schemas["INTERACTIONS"]))
    job = personalize.create_dataset_import_job(jobName=unique("imp"), datasetArn=dataset,
                                                dataSource={"dataLocation": str(files["interactions"])})
    done = wait_for(lambda: personalize.describe_dataset_import_job(
        datasetImportJobArn=job["datasetImportJobArn"])["datasetImportJob"])
    assert done["status"] == "ACTIVE", done.get("failureReason")
    return str(arn)


def _solution(personalize: Any, group: str, recipe: str, **kwargs: Any) -> str:
    solution = personalize.create_solution(name=unique("prog"), datasetGroupArn=group, recipeArn=recipe,
                                           performAutoTraining=False, **kwargs)["solutionArn"]
    assert wait_for(lambda: personalize.describe_solution(solutionArn=solution)["solution"])["status"] == "ACTIVE"
    return str(solution)


def _version(personalize: Any, group: str, recipe: str, **kwargs: Any) -> str:
    solution = _solution(personalize, group, recipe, **kwargs)
    return str(personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"])


def _get(server: LiveServer, arn: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{server.url}/progress/{arn}", timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_follow_prints_phases_until_active(server: LiveServer, personalize: Any, group: str, tmp_path: Path) -> None:
    # A batch job whose input the test holds back keeps the worker busy, so the version waits CREATE PENDING
    # until the CLI is following it: no race between training speed and the CLI starting.
    popular = _version(personalize, group, POPULARITY)
    wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=popular)["solutionVersion"])
    hpo = {"hpoResourceConfig": {"maxNumberOfTrainingJobs": str(TRIALS)}}
    tuned = _solution(personalize, group, UP, performHPO=True, solutionConfig={"hpoConfig": hpo})
    held = HeldInput([{"userId": "u1"}, {"userId": "u2"}])
    try:
        batch = _batch_job(personalize, popular, held.url, tmp_path)
        running = wait_for(lambda: personalize.describe_batch_inference_job(batchInferenceJobArn=batch)["batchInferenceJob"],
                           done=("CREATE IN_PROGRESS",))
        assert running["status"] == "CREATE IN_PROGRESS"
        assert _get(server, batch)[1]["phase"] == "answering input lines"
        arn = personalize.create_solution_version(solutionArn=tuned)["solutionVersionArn"]
        follower = subprocess.Popen(cli_command(arn, "--endpoint-url", server.url, "--follow", "--interval", "0.05"),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=CLI_ENV)
        assert follower.stdout is not None
        first = follower.stdout.readline()
    finally:
        held.close()
    out, err = follower.communicate(timeout=180)
    assert follower.returncode == 0, err
    lines = [first.rstrip("\n"), *out.splitlines()]
    assert lines[0].endswith("] CREATE PENDING"), lines
    assert lines[-1].endswith("ACTIVE  saving the model  (100.0 %)"), lines
    # Polling shows the phases it catches, in training order, each with its elapsed time.
    # (A poll between the status change and the first report shows CREATE IN_PROGRESS alone.)
    seen = [next(i for i, p in enumerate(PHASES) if f"  {p}" in line) for line in lines
            if "IN_PROGRESS" in line and any(f"  {p}" in line for p in PHASES)]
    assert seen == sorted(seen), lines
    assert all(line.startswith("[") and " s] " in line for line in lines)
    # Every phase, with HPO's trial count and best metric, is on the record and in the server log.
    logged = [line for line in server.log_path.read_text().splitlines() if f"training {arn}: " in line]
    best = f"HPO: {TRIALS} of {TRIALS} trials on a validation split done, best normalized_discounted_cumulative_gain_at_10 so far "
    assert any(best in line for line in logged), logged
    for phase in PHASES:
        assert any(f": {phase}" in line for line in logged), phase
    finished = wait_for(lambda: personalize.describe_batch_inference_job(batchInferenceJobArn=batch)["batchInferenceJob"])
    assert finished["status"] == "ACTIVE"
    assert _get(server, batch)[1]["percent"] == 100.0


def _batch_job(personalize: Any, version: str, source: str, target: Path) -> str:
    return str(personalize.create_batch_inference_job(
        jobName=unique("bij"), solutionVersionArn=version, roleArn="arn:aws:iam::123456789012:role/batch",
        jobInput={"s3DataSource": {"path": source}}, jobOutput={"s3DataDestination": {"path": f"{target}/"}},
    )["batchInferenceJobArn"])


def test_progress_report_of_a_finished_version(server: LiveServer, personalize: Any, group: str) -> None:
    arn = _version(personalize, group, POPULARITY)
    wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"])
    status, report = _get(server, arn)
    assert status == 200
    assert report["kind"] == "solution-version" and report["status"] == "ACTIVE" and report["percent"] == 100.0
    assert report["phase"] == "saving the model" and report["elapsedSeconds"] >= 0
    # The same report straight from the metadata store, without a server in between.
    result = cli(arn, "--data-dir", str(server.data_dir), "--metadata-url", server.metadata_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ACTIVE  saving the model  (100.0 %)")


def test_failed_training_exits_with_its_reason(server: LiveServer, personalize: Any, tmp_path: Path) -> None:
    empty, _ = active_group(personalize)  # no Interactions dataset: training fails
    arn = _version(personalize, empty, POPULARITY)
    result = cli(arn, "--endpoint-url", server.url, "--follow", "--interval", "0.05")
    assert result.returncode == 1
    assert "CREATE FAILED: Create failed. The dataset group has no Interactions dataset." in result.stderr
    assert result.stdout.splitlines()[-1].endswith("CREATE FAILED  loading data  (0.0 %)")  # where it stopped


def test_unknown_arn_is_an_aws_shaped_error(server: LiveServer) -> None:
    arn = "arn:aws:personalize:us-east-1:123456789012:solution/nope/version-0"
    status, body = _get(server, arn)
    assert status == 404
    assert body == {"__type": "ResourceNotFoundException", "message": f"Could not find resource with ARN {arn}."}
    result = cli(arn, "--endpoint-url", server.url)
    assert result.returncode == 1
    assert f"ResourceNotFoundException: Could not find resource with ARN {arn}." in result.stderr


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    result = cli("arn:aws:personalize:us-east-1:123456789012:solution/x/y", "--endpoint-url", "http://127.0.0.1:9")
    assert result.returncode == 1 and "Could not reach http://127.0.0.1:9" in result.stderr


@pytest.mark.filterwarnings("ignore:OpenBLAS is configured")  # implicit warns about BLAS threads, not about us
def test_iterative_recipes_report_epochs() -> None:
    rng = np.random.default_rng(0)
    data = TrainingData.from_frames(pl.DataFrame({
        "USER_ID": [f"u{u}" for u in rng.integers(0, 40, 600)], "ITEM_ID": [f"i{i}" for i in rng.integers(0, 30, 600)],
        "TIMESTAMP": np.arange(600, dtype=np.int64),
    }))
    calls: list[tuple[int, int, float | None]] = []
    with fit_progress(lambda epoch, epochs, score: calls.append((epoch, epochs, score))):
        ImplicitALS(iterations=4).fit(data)
    ImplicitALS(iterations=2).fit(data)  # outside the block nobody listens
    assert calls == [(1, 4, None), (2, 4, None), (3, 4, None), (4, 4, None)]


def test_a_trained_version_keeps_its_last_epoch(server: LiveServer, personalize: Any, group: str) -> None:
    """Item-Affinity fits by ALS sweeps: the report names the last epoch after the fit, through to ACTIVE."""
    arn = _version(personalize, group, "arn:aws:personalize:::recipe/aws-item-affinity")
    version = wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"])
    assert version["status"] == "ACTIVE", version.get("failureReason")
    report = _get(server, arn)[1]
    assert report["phase"] == "saving the model" and report["epoch"] == report["epochs"] > 1
    assert report["validationScore"] is None  # ALS reports no validation score per sweep
    assert "_progress" not in version and "_training" not in version  # not wire members


def test_a_recommenders_report_is_its_latest_update(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'meta.sqlite3'}")
    arn = "arn:aws:personalize:us-east-1:123456789012:recommender/r"
    update = {"status": "CREATE FAILED", "failureReason": "no data", "creationDateTime": 1000.0,
              "lastUpdatedDateTime": 1002.5}
    store.create(new_record("recommender", arn, "r", None, {"status": "ACTIVE", "latestRecommenderUpdate": update}, {}))
    report = progress_of(cast(Services, SimpleNamespace(store=store)), arn)
    assert report["status"] == "ACTIVE" and report["phase"] == "update"
    assert report["detail"] == "latest update CREATE FAILED" and report["failureReason"] == "no data"
    assert report["elapsedSeconds"] == 2.5  # the update's own time, not the record's age
