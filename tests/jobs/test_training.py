"""Solution versions end to end through boto3: import generated data, train, read metrics, stop (spec §2.5, §9)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import LiveServer, unique, wait_for
from test_datasets import active_dataset, active_group, error_of, new_schema

from openpersonalize.demo.generator import generate_vod, write_csv
from openpersonalize.recipes.metrics import metric_keys

UP = "arn:aws:personalize:::recipe/aws-user-personalization"
SIMS = "arn:aws:personalize:::recipe/aws-sims"
POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"
# A small, fast sequence model: the tests check the pipeline, bench/quality.py checks quality.
FAST_UP = {"hidden_dimension": "32"}


def _import(personalize: Any, dataset: str, path: Path) -> None:
    job = personalize.create_dataset_import_job(jobName=unique("imp"), datasetArn=dataset,
                                                dataSource={"dataLocation": str(path)})["datasetImportJobArn"]
    described = wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
    assert described["status"] == "ACTIVE", described.get("failureReason")


@pytest.fixture(scope="module")
def vod_group(personalize: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    data = generate_vod(users=300, items=200, interactions=6000, seed=3)
    files = write_csv(data, tmp_path_factory.mktemp("vod"))
    group, _ = active_group(personalize)
    for dataset_type, key in (("Interactions", "INTERACTIONS"), ("Items", "ITEMS")):
        dataset = active_dataset(personalize, group, dataset_type, new_schema(personalize, data.schemas[key]))
        _import(personalize, dataset, files[key.lower()])
    return group


def _solution(personalize: Any, group: str, recipe: str, **kwargs: Any) -> str:
    arn = personalize.create_solution(name=unique("sol"), datasetGroupArn=group, recipeArn=recipe,
                                      performAutoTraining=False, **kwargs)["solutionArn"]
    assert wait_for(lambda: personalize.describe_solution(solutionArn=arn)["solution"])["status"] == "ACTIVE"
    return str(arn)


def _train(personalize: Any, solution: str, **kwargs: Any) -> dict[str, Any]:
    arn = personalize.create_solution_version(solutionArn=solution, **kwargs)["solutionVersionArn"]
    return wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"], timeout=300)


def test_training_progress_is_logged(personalize: Any, server: LiveServer, vod_group: str) -> None:
    version = _train(personalize, _solution(personalize, vod_group, POPULARITY))
    lines = [line for line in server.log_path.read_text().splitlines() if f"training {version['solutionVersionArn']}: " in line]
    for phase in ("loading data", "split for evaluation", "fitting and evaluating", "saving the model"):
        assert any(phase in line for line in lines), phase


@pytest.mark.parametrize("recipe", [UP, SIMS, POPULARITY])
def test_train_and_evaluate(personalize: Any, vod_group: str, recipe: str) -> None:
    config = {"algorithmHyperParameters": FAST_UP} if recipe == UP else {}
    solution = _solution(personalize, vod_group, recipe, solutionConfig=config)
    version = _train(personalize, solution)
    assert version["status"] == "ACTIVE", version.get("failureReason")
    assert version["trainingMode"] == "FULL" and version["trainingType"] == "MANUAL"
    assert version["trainingHours"] > 0
    metrics = personalize.get_solution_metrics(solutionVersionArn=version["solutionVersionArn"])["metrics"]
    assert set(metrics) == set(metric_keys())
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    listed = personalize.list_solution_versions(solutionArn=solution)["solutionVersions"]
    assert [v["solutionVersionArn"] for v in listed] == [version["solutionVersionArn"]]
    latest = personalize.describe_solution(solutionArn=solution)["solution"]["latestSolutionVersion"]
    assert latest["status"] == "ACTIVE"


def test_personalization_beats_popularity_on_planted_tastes(personalize: Any, vod_group: str) -> None:
    scores = {}
    for recipe in (UP, POPULARITY):
        config = {"algorithmHyperParameters": FAST_UP} if recipe == UP else {}
        version = _train(personalize, _solution(personalize, vod_group, recipe, solutionConfig=config))
        metrics = personalize.get_solution_metrics(solutionVersionArn=version["solutionVersionArn"])["metrics"]
        scores[recipe] = metrics["normalized_discounted_cumulative_gain_at_10"]
    assert scores[UP] > scores[POPULARITY]


def test_event_type_filter_and_missing_type(personalize: Any, vod_group: str) -> None:
    version = _train(personalize, _solution(personalize, vod_group, POPULARITY, eventType="Watch"))
    assert version["status"] == "ACTIVE"
    version = _train(personalize, _solution(personalize, vod_group, POPULARITY, eventType="Purchase"))
    assert version["status"] == "CREATE FAILED"
    assert "no events of type 'Purchase'" in version["failureReason"]


def test_metrics_before_active_and_stop_rules(personalize: Any, vod_group: str) -> None:
    solution = _solution(personalize, vod_group, UP, solutionConfig={"algorithmHyperParameters": FAST_UP})
    arn = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    personalize.stop_solution_version_creation(solutionVersionArn=arn)
    stopped = wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"])
    assert stopped["status"] == "CREATE STOPPED"
    code, message = error_of(personalize.get_solution_metrics, solutionVersionArn=arn)
    assert code == "ResourceInUseException" and "CREATE STOPPED" in message
    code, _ = error_of(personalize.stop_solution_version_creation, solutionVersionArn=arn)
    assert code == "ResourceInUseException"


def test_update_mode_needs_a_full_version(personalize: Any, vod_group: str) -> None:
    solution = _solution(personalize, vod_group, UP, solutionConfig={"algorithmHyperParameters": FAST_UP})
    code, message = error_of(personalize.create_solution_version, solutionArn=solution, trainingMode="UPDATE")
    assert code == "InvalidInputException" and "FULL" in message
    sims = _solution(personalize, vod_group, SIMS)
    code, message = error_of(personalize.create_solution_version, solutionArn=sims, trainingMode="UPDATE")
    assert code == "InvalidInputException" and "not supported" in message


def test_minimums_are_enforced_without_the_relaxed_setting(tmp_path: Path) -> None:
    strict = LiveServer(tmp_path / "strict", env={"OPENPERSONALIZE_RELAXED_MINIMUMS": "0"})
    strict.start()
    try:
        client = strict.client("personalize")
        data = generate_vod(users=40, items=50, interactions=1200, seed=1)
        files = write_csv(data, tmp_path / "data")
        group, _ = active_group(client)
        dataset = active_dataset(client, group, "Interactions", new_schema(client, data.schemas["INTERACTIONS"]))
        _import(client, dataset, files["interactions"])
        version = _train(client, _solution(client, group, POPULARITY, eventType="Watch"))
        assert version["status"] == "CREATE FAILED"
        assert "needs at least 1000 interactions, found" in version["failureReason"]
    finally:
        strict.stop()


def test_hpo_reports_tuned_parameters(personalize: Any, vod_group: str) -> None:
    config = {"hpoConfig": {"hpoResourceConfig": {"maxNumberOfTrainingJobs": "3"},
                            "algorithmHyperParameterRanges": {"continuousHyperParameterRanges": [
                                {"name": "popularity_discount_factor", "minValue": 0.0, "maxValue": 1.0}]}}}
    version = _train(personalize, _solution(personalize, vod_group, SIMS, performHPO=True, solutionConfig=config))
    assert version["status"] == "ACTIVE", version.get("failureReason")
    tuned = version["tunedHPOParams"]["algorithmHyperParameters"]
    assert 0.0 <= float(tuned["popularity_discount_factor"]) <= 1.0


def test_automl_picks_the_best_recipe(personalize: Any, vod_group: str) -> None:
    config = {"autoMLConfig": {"metricName": "normalized_discounted_cumulative_gain_at_10",
                               "recipeList": [UP, "arn:aws:personalize:::recipe/aws-user-personalization-v2"]}}
    solution = personalize.create_solution(name=unique("automl"), datasetGroupArn=vod_group, performAutoML=True,
                                           performAutoTraining=False, solutionConfig=config)["solutionArn"]
    wait_for(lambda: personalize.describe_solution(solutionArn=solution)["solution"])
    version = _train(personalize, solution)
    assert version["status"] == "ACTIVE", version.get("failureReason")
    best = personalize.describe_solution(solutionArn=solution)["solution"]["autoMLResult"]["bestRecipeArn"]
    assert best in config["autoMLConfig"]["recipeList"] and version["recipeArn"] == best


def test_export_and_import_round_trip(personalize: Any, server: LiveServer, vod_group: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    from openpersonalize.data.artifacts import model_dir
    from openpersonalize.recipes.base import Recipe

    version = _train(personalize, _solution(personalize, vod_group, SIMS))
    cli = [sys.executable, "-m", "openpersonalize.cli"]
    where = ["--data-dir", str(server.data_dir), "--metadata-url", server.metadata_url]
    out = tmp_path / "model"
    subprocess.run([*cli, "export-model", version["solutionVersionArn"], str(out), *where], check=True, capture_output=True)
    assert {"config.json", "arrays.npz", "version.json"} <= {p.name for p in out.iterdir()}

    target = _solution(personalize, vod_group, SIMS)
    done = subprocess.run([*cli, "import-model", str(out), target, *where], check=True, capture_output=True, text=True)
    imported = done.stdout.strip()
    described = personalize.describe_solution_version(solutionVersionArn=imported)["solutionVersion"]
    assert described["status"] == "ACTIVE" and described["solutionArn"] == target
    original = personalize.get_solution_metrics(solutionVersionArn=version["solutionVersionArn"])["metrics"]
    assert personalize.get_solution_metrics(solutionVersionArn=imported)["metrics"] == original

    before = Recipe.load(model_dir(server.data_dir, version["solutionVersionArn"]))
    after = Recipe.load(model_dir(server.data_dir, imported))
    for item in before.item_ids_[:20]:
        ids_a, scores_a = before.similar_items(str(item), num_results=10)
        ids_b, scores_b = after.similar_items(str(item), num_results=10)
        assert list(ids_a) == list(ids_b) and list(scores_a) == list(scores_b)

    wrong = _solution(personalize, vod_group, POPULARITY)
    failed = subprocess.run([*cli, "import-model", str(out), wrong, *where], capture_output=True, text=True)
    assert failed.returncode == 1 and "InvalidInputException" in failed.stderr
    # Pointed at another object store than the servers': said in one line, nothing written.
    elsewhere = [*where, "--object-store", str(tmp_path / "another-store")]
    lost = subprocess.run([*cli, "export-model", version["solutionVersionArn"], str(tmp_path / "again"), *elsewhere],
                          capture_output=True, text=True)
    assert lost.returncode == 1 and "is not in the object store" in lost.stderr and "Traceback" not in lost.stderr
    assert not (tmp_path / "again").exists()
