"""Ray for the fan-out (issue 15): a batch job and a 4-trial HPO through a local Ray cluster answer exactly what
they answer in this process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from openpersonalize.config import Settings
from openpersonalize.demo.generator import generate_vod
from openpersonalize.evaluation.split import split_users
from openpersonalize.jobs import batch_io, search
from openpersonalize.jobs.batch_inference import Exploration, Inference, UserIndex
from openpersonalize.jobs.fanout import Fanout
from openpersonalize.recipes import catalogue
from openpersonalize.recipes.base import TrainingData
from openpersonalize.recipes.user_personalization import UserPersonalization

ray = pytest.importorskip("ray")
UP = "arn:aws:personalize:::recipe/aws-user-personalization"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Fanout]:
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
             configure_logging=False)
    try:
        yield Fanout("local")  # the process's own cluster: connect() finds it initialised
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def data() -> TrainingData:
    generated = generate_vod(users=300, items=200, interactions=6000, seed=3)
    return TrainingData.from_frames(generated.interactions)


def test_settings_name_the_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENPERSONALIZE_RAY_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_ADDRESS", "auto")
    assert Fanout.of(Settings()).address == "auto"
    monkeypatch.setenv("OPENPERSONALIZE_RAY_ADDRESS", "ray://head:10001")
    assert Fanout.of(Settings()).address == "ray://head:10001"
    monkeypatch.delenv("OPENPERSONALIZE_RAY_ADDRESS")
    monkeypatch.delenv("RAY_ADDRESS")
    assert not Fanout.of(Settings()).remote and Fanout().width == 1


def _answer(fanout: Fanout, inference: Inference, source: Path, target: Path) -> bytes:
    folder = batch_io.OutputFolder(None, str(target))
    reporter = batch_io.Reporter("arn:test", source.stat().st_size, lambda fraction, stage=None: None)
    entry = batch_io.InputFile(str(source), source.name, source.stat().st_size, path=str(source))
    batch_io._answer_file(source, entry, folder, inference, reporter, fanout)
    return (target / f"{source.name}.out").read_bytes()


def test_a_batch_job_split_over_ray_writes_the_local_output(cluster: Fanout, data: TrainingData, tmp_path: Path) -> None:
    generated = generate_vod(users=300, items=200, interactions=6000, seed=3)
    recipe = UserPersonalization(l2=10.0).fit(data)
    index = UserIndex(generated.interactions, recipe.item_ids_, recipe.event_types_)
    inference = Inference(recipe, catalogue.USER_PERSONALIZATION, index, None, 10,
                          Exploration(0, np.zeros(0, np.int64), np.random.default_rng(0)))
    users = [f'{{"userId": "{data.user_ids[i % data.n_users]}"}}\n' for i in range(3 * batch_io.CHUNK_LINES + 17)]
    source = tmp_path / "users.jsonl"
    source.write_text("".join(users) + '{"userId": 7}\n')  # a bad line keeps its place in the output
    here = _answer(Fanout(), inference, source, tmp_path / "here")
    there = _answer(cluster, inference, source, tmp_path / "ray")
    assert there == here
    assert here.count(b"\n") == len(users) + 1 and b'"error":null' in here and b"userId must be" in here.splitlines()[-1]


def test_a_four_trial_hpo_on_ray_chooses_what_it_chooses_here(cluster: Fanout, data: TrainingData) -> None:
    config = {"hpoConfig": {"hpoResourceConfig": {"maxNumberOfTrainingJobs": "4"}}}
    reports: dict[str, list[tuple[int, int]]] = {"here": [], "ray": []}
    train = split_users(data, seed=0).train

    def tune(fanout: Fanout, name: str) -> dict[str, str]:
        return search.tune(UP, config, train, seed=0, check_stop=lambda: None, fanout=fanout,
                           report=lambda done, total, best: reports[name].append((done, total)))

    assert cluster.width == 2
    assert tune(cluster, "ray") == tune(Fanout(), "here")
    assert reports["here"] == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert reports["ray"] == [(0, 4), (2, 4), (4, 4)]  # two waves of two trials on two CPUs
