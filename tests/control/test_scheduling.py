"""Automatic training schedule (spec §3.4), on a store with no worker so time can be chosen."""

from __future__ import annotations

from pathlib import Path

import pytest

from _postgres import store_url

from openpersonalize.config import Settings
from openpersonalize.control.common import ACTIVE, new_record
from openpersonalize.services import Services
from openpersonalize.data.metadata import Store
from openpersonalize.data.store import DataStore
from openpersonalize.control import scheduling

GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/g"
DATASET = "arn:aws:personalize:us-east-1:123456789012:dataset/g/INTERACTIONS"
SOLUTION = "arn:aws:personalize:us-east-1:123456789012:solution/s"


@pytest.fixture()
def services(tmp_path: Path) -> Services:
    settings = Settings(data_dir=tmp_path)
    services = Services(settings=settings, store=Store(store_url(settings.data_dir)), data=DataStore(tmp_path))
    services.store.create(new_record("dataset", DATASET, "d", GROUP, {"datasetArn": DATASET, "datasetType": "INTERACTIONS"}, {}))
    return services


def _solution(services: Services, auto: bool = True, expression: str | None = None) -> float:
    config = {"autoTrainingConfig": {"schedulingExpression": expression}} if expression else {}
    body = {"solutionArn": SOLUTION, "datasetGroupArn": GROUP, "recipeArn": "arn:aws:personalize:::recipe/aws-sims",
            "status": ACTIVE, "performAutoTraining": auto, "solutionConfig": config}
    return services.store.create(new_record("solution", SOLUTION, "s", GROUP, body, {})).created


def test_first_run_an_hour_after_creation(services: Services) -> None:
    created = _solution(services)
    assert scheduling.tick(services, now=created + 600) == []
    (arn,) = scheduling.tick(services, now=created + 3601)
    version = services.store.get(arn, "solution-version")
    assert version is not None
    assert version.body["trainingMode"] == "AUTOTRAIN" and version.body["trainingType"] == "AUTOMATIC"
    assert version.status == "CREATE PENDING"
    # in flight: never a second one at the same time
    assert scheduling.tick(services, now=created + 7200) == []


def test_off_when_disabled(services: Services) -> None:
    created = _solution(services, auto=False)
    assert scheduling.tick(services, now=created + 10 * 86400) == []


def test_interval_and_new_data(services: Services) -> None:
    created = _solution(services, expression="rate(2 days)")
    (first,) = scheduling.tick(services, now=created + 3601)
    services.store.update(first, {"status": ACTIVE})
    last = services.store.get(first, "solution-version").created  # type: ignore[union-attr]
    assert scheduling.tick(services, now=last + 86400) == []  # before the interval
    assert scheduling.tick(services, now=last + 2 * 86400 + 1) == []  # due, but no new interactions
    marker = services.data.root / services.data.dataset_key(DATASET) / "bulk" / "new.parquet"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_bytes(b"x")
    assert len(scheduling.tick(services, now=last + 2 * 86400 + 1)) == 1


def test_interval_parsing() -> None:
    record = type("R", (), {"body": {"solutionConfig": {"autoTrainingConfig": {"schedulingExpression": "rate(3 days)"}}}})()
    assert scheduling.interval_seconds(record) == 3 * 86400  # type: ignore[arg-type]
    record.body = {}  # type: ignore[attr-defined]
    assert scheduling.interval_seconds(record) == 7 * 86400  # type: ignore[arg-type]
