"""Storage the role allows, nothing else: local roots, resolution before the check, no oracle, roles."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import unique, wait_for

from ._sandbox import ROLE, Sandbox, healthy, import_job, new_dataset, start_sandbox, write_interactions

NOT_ALLOWED = "is outside the local paths this server may read (OPENPERSONALIZE_LOCAL_PATHS)"


@pytest.fixture(scope="module")
def dataset(sandbox: Sandbox) -> str:
    return new_dataset(sandbox.client)[1]


@pytest.mark.parametrize("location", [
    "/proc/self/environ", "file:///proc/self/environ", "/etc/shadow", "file:///etc/passwd", "/sys/kernel/notes",
    "/dev/zero",
])
def test_system_and_outside_files_are_never_read(sandbox: Sandbox, dataset: str, location: str) -> None:
    job = import_job(sandbox.client, dataset, location)
    assert job["status"] == "CREATE FAILED"
    assert NOT_ALLOWED in job["failureReason"]
    assert "OPENPERSONALIZE_ACCESS" not in job["failureReason"] and "PATH=" not in job["failureReason"]
    healthy(sandbox)


def test_refusal_reads_the_same_whether_the_file_exists(sandbox: Sandbox, dataset: str) -> None:
    existing = write_interactions(sandbox.outside / "real.csv")
    reasons = {
        path: import_job(sandbox.client, dataset, str(path))["failureReason"].replace(str(path), "<path>")
        for path in (existing, sandbox.outside / "missing.csv")
    }
    assert len(set(reasons.values())) == 1, reasons


def test_dot_dot_and_symlinks_are_resolved_before_the_check(sandbox: Sandbox, dataset: str) -> None:
    write_interactions(sandbox.outside / "secret.csv")
    walk = f"{sandbox.root}/../outside/secret.csv"
    link = sandbox.root / "link.csv"
    link.symlink_to(sandbox.outside / "secret.csv")
    folder = sandbox.root / "folder-with-link"
    folder.mkdir()
    (folder / "x.csv").symlink_to(sandbox.outside / "secret.csv")
    for location in (walk, str(link), f"{folder}/"):
        job = import_job(sandbox.client, dataset, location)
        assert job["status"] == "CREATE FAILED" and "OPENPERSONALIZE_LOCAL_PATHS" in job["failureReason"], location


def test_the_data_directory_is_never_a_source(sandbox: Sandbox, dataset: str) -> None:
    job = import_job(sandbox.client, dataset, f"{sandbox.server.data_dir}/metadata.sqlite3")
    assert job["status"] == "CREATE FAILED" and NOT_ALLOWED in job["failureReason"]


def test_a_file_under_the_root_imports(sandbox: Sandbox, dataset: str) -> None:
    source = write_interactions(sandbox.root / "in" / "ok.csv")
    assert import_job(sandbox.client, dataset, f"file://{source}")["status"] == "ACTIVE"


def _export(client: Any, dataset: str, path: str) -> dict[str, Any]:
    arn = client.create_dataset_export_job(jobName=unique("exp"), datasetArn=dataset, roleArn=ROLE,
                                           jobOutput={"s3DataDestination": {"path": path}})["datasetExportJobArn"]
    return wait_for(lambda: client.describe_dataset_export_job(datasetExportJobArn=arn)["datasetExportJob"])


def test_exports_create_nothing_outside_the_roots(sandbox: Sandbox, trained: tuple[str, str]) -> None:
    dataset, _ = trained
    target = sandbox.outside / "exports"
    for path in (f"{target}/", f"{sandbox.root}/../outside/exports/", f"{sandbox.server.data_dir}/exports/"):
        job = _export(sandbox.client, dataset, path)
        assert job["status"] == "CREATE FAILED" and "OPENPERSONALIZE_LOCAL_PATHS" in job["failureReason"], path
    assert not target.exists() and not (sandbox.server.data_dir / "exports").exists()
    assert _export(sandbox.client, dataset, f"{sandbox.root}/exports/")["status"] == "ACTIVE"


def _batch(client: Any, version: str, source: str, target: str) -> dict[str, Any]:
    arn = client.create_batch_inference_job(
        jobName=unique("bij"), solutionVersionArn=version, roleArn=ROLE,
        jobInput={"s3DataSource": {"path": source}}, jobOutput={"s3DataDestination": {"path": target}},
    )["batchInferenceJobArn"]
    return wait_for(lambda: client.describe_batch_inference_job(batchInferenceJobArn=arn)["batchInferenceJob"])


def test_batch_inference_cannot_copy_the_environment_out(sandbox: Sandbox, trained: tuple[str, str]) -> None:
    _, version = trained
    job = _batch(sandbox.client, version, "/proc/self/environ", f"{sandbox.root}/out/")
    assert job["status"] == "CREATE FAILED" and NOT_ALLOWED in job["failureReason"]
    assert not (sandbox.root / "out" / "environ.out").exists()
    good = sandbox.root / "batch" / "users.jsonl"
    good.parent.mkdir()
    good.write_text(json.dumps({"userId": "u1"}) + "\n")
    job = _batch(sandbox.client, version, str(good), f"{sandbox.outside}/out/")
    assert job["status"] == "CREATE FAILED" and "may write (OPENPERSONALIZE_LOCAL_PATHS)" in job["failureReason"]
    assert not (sandbox.outside / "out").exists()
    assert _batch(sandbox.client, version, str(good), f"{sandbox.root}/out/")["status"] == "ACTIVE"
    assert (sandbox.root / "out" / "users.jsonl.out").exists()


# ---- roles ------------------------------------------------------------------------------------------------------

OTHER_ROLE = "arn:aws:iam::123456789012:role/Other"


@pytest.fixture(scope="module")
def roles_box(tmp_path_factory: pytest.TempPathFactory) -> Any:
    base = tmp_path_factory.mktemp("roles")
    roles = base / "roles.json"
    roles.write_text(json.dumps({ROLE: {"local": [str(base / "root" / "team-a")], "s3": ["s3://team-a/"]},
                                 OTHER_ROLE: {"local": [], "s3": []}}))
    box = start_sandbox(base, OPENPERSONALIZE_ROLES_FILE=str(roles))
    yield box
    box.server.stop()


def test_a_role_reaches_only_what_the_roles_file_grants(roles_box: Sandbox) -> None:
    client = roles_box.client
    _, dataset = new_dataset(client)
    mine = write_interactions(roles_box.root / "team-a" / "i.csv")
    theirs = write_interactions(roles_box.root / "team-b" / "i.csv")
    assert import_job(client, dataset, str(mine), roleArn=ROLE)["status"] == "ACTIVE"
    for location, role in ((theirs, ROLE), (mine, OTHER_ROLE), (mine, "arn:aws:iam::123456789012:role/Unknown")):
        job = import_job(client, dataset, str(location), roleArn=role)
        assert job["status"] == "CREATE FAILED"
        assert f"Access denied: the role {role} may not read" in job["failureReason"], job["failureReason"]
    job = import_job(client, dataset, str(mine))  # no role at all
    assert "Access denied: the role (none)" in job["failureReason"]
    assert os.path.exists(mine)
    healthy(roles_box)


def test_a_role_is_checked_on_s3_prefixes(roles_box: Sandbox) -> None:
    client = roles_box.client
    _, dataset = new_dataset(client)
    job = import_job(client, dataset, "s3://team-b/data.csv", roleArn=ROLE)
    assert job["status"] == "CREATE FAILED" and "may not read s3://team-b/data.csv" in job["failureReason"]


def test_roles_file_must_be_well_formed(tmp_path: Path) -> None:
    from openpersonalize.config import _roles

    bad = tmp_path / "roles.json"
    bad.write_text(json.dumps([ROLE]))
    with pytest.raises(ValueError, match="must map role ARNs"):
        _roles(str(bad))


def test_a_symlink_planted_in_the_output_folder_is_not_followed(sandbox: Sandbox, trained: tuple[str, str]) -> None:
    _, version = trained
    source = sandbox.root / "planted-in" / "users.jsonl"
    source.parent.mkdir()
    source.write_text(json.dumps({"userId": "u1"}) + "\n")
    out = sandbox.root / "planted-out"
    out.mkdir()
    (out / "users.jsonl.out.partial").symlink_to(sandbox.outside / "stolen.out")  # opened for writing first
    job = _batch(sandbox.client, version, str(source), f"{out}/")
    assert job["status"] == "CREATE FAILED" and "may write (OPENPERSONALIZE_LOCAL_PATHS)" in job["failureReason"]
    assert not (sandbox.outside / "stolen.out").exists()


def test_export_folders_and_parts_planted_as_symlinks_are_not_followed(sandbox: Sandbox, trained: tuple[str, str]) -> None:
    dataset, _ = trained
    base = sandbox.root / "planted-exports"
    base.mkdir()
    name = unique("exp")
    (base / name).symlink_to(sandbox.outside)  # the job's own folder, planted before the job runs
    arn = sandbox.client.create_dataset_export_job(jobName=name, datasetArn=dataset, roleArn=ROLE,
                                                   jobOutput={"s3DataDestination": {"path": f"{base}/"}})["datasetExportJobArn"]
    job = wait_for(lambda: sandbox.client.describe_dataset_export_job(datasetExportJobArn=arn)["datasetExportJob"])
    assert job["status"] == "CREATE FAILED" and "may write (OPENPERSONALIZE_LOCAL_PATHS)" in job["failureReason"]
    assert not list(sandbox.outside.glob("part-*"))
    name = unique("exp")
    (base / name).mkdir()
    (base / name / "part-00000.csv.partial").symlink_to(sandbox.outside / "stolen.csv")
    arn = sandbox.client.create_dataset_export_job(jobName=name, datasetArn=dataset, roleArn=ROLE,
                                                   jobOutput={"s3DataDestination": {"path": f"{base}/"}})["datasetExportJobArn"]
    job = wait_for(lambda: sandbox.client.describe_dataset_export_job(datasetExportJobArn=arn)["datasetExportJob"])
    assert job["status"] == "CREATE FAILED" and not (sandbox.outside / "stolen.csv").exists()
