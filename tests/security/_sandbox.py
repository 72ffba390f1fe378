"""Servers with the strict defaults (no test allowances), a small trained dataset group to attack, helpers."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import LiveServer, unique, wait_for

SCHEMA = {
    "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
    "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
               {"name": "TIMESTAMP", "type": "long"}],
    "version": "1.0",
}
POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"
ROLE = "arn:aws:iam::123456789012:role/PersonalizeRole"
# The strict defaults: no loopback HTTP allowance, roots named by each test server.
STRICT = {"OPENPERSONALIZE_HTTP_SOURCES": "", "OPENPERSONALIZE_HTTP_ALLOW_PRIVATE": "0"}


@dataclass(frozen=True)
class Sandbox:
    """A server whose only local root is ``root``; its data directory ``root/var`` is inside that root."""

    server: LiveServer
    root: Path
    outside: Path  # a directory the server may not touch

    @property
    def client(self) -> Any:
        return self.server.client("personalize")


def start_sandbox(base: Path, **env: str) -> Sandbox:
    root, outside = base / "root", base / "outside"
    root.mkdir(parents=True)
    outside.mkdir()
    live = LiveServer(root / "var", env={**STRICT, "OPENPERSONALIZE_LOCAL_PATHS": str(root), **env})
    live.start()
    return Sandbox(live, root, outside)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    box = start_sandbox(tmp_path_factory.mktemp("sandbox"))
    yield box
    box.server.stop()


def write_interactions(path: Path, rows: int = 600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["USER_ID,ITEM_ID,TIMESTAMP"] + [f"u{i % 30},i{(i * 7) % 50},{1_700_000_000 + i}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def new_dataset(client: Any) -> tuple[str, str]:
    """A dataset group with an empty Interactions dataset: (group ARN, dataset ARN)."""
    group = client.create_dataset_group(name=unique("sec"))["datasetGroupArn"]
    wait_for(lambda: client.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
    schema = client.create_schema(name=unique("sec"), schema=json.dumps(SCHEMA))["schemaArn"]
    dataset = client.create_dataset(name=unique("sec"), schemaArn=schema, datasetGroupArn=group,
                                    datasetType="Interactions")["datasetArn"]
    wait_for(lambda: client.describe_dataset(datasetArn=dataset)["dataset"])
    return group, dataset


def import_job(client: Any, dataset: str, location: str, **kwargs: Any) -> dict[str, Any]:
    """Run an import to its end; returns the described job."""
    arn = client.create_dataset_import_job(jobName=unique("imp"), datasetArn=dataset,
                                           dataSource={"dataLocation": location}, **kwargs)["datasetImportJobArn"]
    return wait_for(lambda: client.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"], timeout=60)


@pytest.fixture(scope="session")
def trained(sandbox: Sandbox) -> tuple[str, str]:
    """(dataset ARN, ACTIVE Popularity-Count solution version ARN) on the sandbox server."""
    client = sandbox.client
    _, dataset = new_dataset(client)
    assert import_job(client, dataset, str(write_interactions(sandbox.root / "seed" / "i.csv")))["status"] == "ACTIVE"
    group = client.describe_dataset(datasetArn=dataset)["dataset"]["datasetGroupArn"]
    solution = client.create_solution(name=unique("sol"), datasetGroupArn=group, recipeArn=POPULARITY,
                                      performAutoTraining=False)["solutionArn"]
    wait_for(lambda: client.describe_solution(solutionArn=solution)["solution"])
    version = client.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    described = wait_for(lambda: client.describe_solution_version(solutionVersionArn=version)["solutionVersion"], timeout=120)
    assert described["status"] == "ACTIVE", described.get("failureReason")
    return dataset, version


def sparse(path: Path, size: str) -> Path:
    """A sparse file of ``size`` (``truncate -s``): all NUL bytes, no newline, no disk used."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["truncate", "-s", size, str(path)], check=True)
    return path


def peak_rss_kb(pid: int) -> int:
    """The process's peak resident set (VmHWM) in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def healthy(box: Sandbox) -> None:
    """The server still answers a normal call."""
    assert "datasetGroups" in box.client.list_dataset_groups(maxResults=1)

