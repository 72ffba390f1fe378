"""CreateDatasetImportJob / Describe / List through boto3 against the live server (spec §2.4, §4.4, §4.6).

Inputs come from a real S3-compatible server (moto in server mode), file:// URLs, plain paths and a local HTTP
server. What landed is checked by opening a DataStore on the server's data directory in-process.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from botocore.exceptions import ClientError
from _postgres import store_url
from conftest import LiveServer, s3_env, unique, wait_for

from openpersonalize.errors import ResourceInUseException
from openpersonalize.config import Settings
from openpersonalize.control import import_jobs
from openpersonalize.control.common import ACTIVE, new_record
from openpersonalize.services import Services
from openpersonalize.control.context import RequestContext
from openpersonalize.data.metadata import Job, Store
from openpersonalize.data.schema import Schema, parse_schema
from openpersonalize.data.store import DataStore
from openpersonalize.jobs import dataset_import
from openpersonalize.jobs.base import JobFailed, no_progress

BUCKET = "import-jobs-test"
INTERACTIONS_SCHEMA = {
    "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
    "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
               {"name": "EVENT_TYPE", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}],
    "version": "1.0",
}
ITEMS_SCHEMA = {
    "type": "record", "name": "Items", "namespace": "com.amazonaws.personalize.schema",
    "fields": [{"name": "ITEM_ID", "type": "string"}, {"name": "GENRES", "type": ["null", "string"], "categorical": True},
               {"name": "PRICE", "type": "float"}],
    "version": "1.0",
}
HEADER = "USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n"


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def rows(users: list[str], start: int = 0) -> str:
    return "".join(f"{u},i{n % 7},click,{1700000000 + n}\n" for n, u in enumerate(users, start))


def make_dataset(personalize: Any, schema: dict[str, Any] = INTERACTIONS_SCHEMA, kind: str = "Interactions") -> str:
    schema_arn = personalize.create_schema(name=unique("sch"), schema=json.dumps(schema))["schemaArn"]
    group = personalize.create_dataset_group(name=unique("dg"))["datasetGroupArn"]
    assert wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])["status"] == "ACTIVE"
    arn = personalize.create_dataset(name=unique("ds"), schemaArn=schema_arn, datasetGroupArn=group, datasetType=kind)["datasetArn"]
    assert wait_for(lambda: personalize.describe_dataset(datasetArn=arn)["dataset"])["status"] == "ACTIVE"
    return str(arn)


def run_import(personalize: Any, dataset: str, location: str, mode: str | None = None) -> dict[str, Any]:
    extra = {"importMode": mode} if mode else {}
    arn = personalize.create_dataset_import_job(
        jobName=unique("imp"), datasetArn=dataset, dataSource={"dataLocation": location}, **extra
    )["datasetImportJobArn"]
    return wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"])


def stored(server: LiveServer, dataset: str, schema: dict[str, Any] = INTERACTIONS_SCHEMA, origin: str = "ALL") -> pl.DataFrame:
    parsed: Schema = parse_schema(json.dumps(schema))
    return DataStore(server.data_dir).read_dataset(dataset, parsed, origin)


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    s3.create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture(scope="module")
def dataset(personalize: Any) -> str:
    return make_dataset(personalize)


# ---- happy paths ---------------------------------------------------------------------------------------


def test_import_single_s3_object(personalize: Any, server: LiveServer, s3: Any, bucket: str) -> None:
    dataset = make_dataset(personalize)
    s3.put_object(Bucket=bucket, Key="single/interactions.csv", Body=(HEADER + rows(["u1", "u2", "u3"])).encode())
    job = run_import(personalize, dataset, f"s3://{bucket}/single/interactions.csv")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert job["importMode"] == "FULL" and job["datasetArn"] == dataset
    assert job["dataSource"] == {"dataLocation": f"s3://{bucket}/single/interactions.csv"}
    assert job["datasetImportJobArn"].startswith("arn:aws:personalize:us-east-1:123456789012:dataset-import-job/imp-")
    assert job["lastUpdatedDateTime"] >= job["creationDateTime"] and "failureReason" not in job
    frame = stored(server, dataset)
    assert frame.columns == ["USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP"]
    assert frame["USER_ID"].to_list() == ["u1", "u2", "u3"] and frame["TIMESTAMP"].dtype == pl.Int64


def test_import_s3_prefix_reads_every_csv(personalize: Any, server: LiveServer, s3: Any, bucket: str) -> None:
    dataset = make_dataset(personalize)
    s3.put_object(Bucket=bucket, Key="prefix/part-2.csv", Body=(HEADER + rows(["b1", "b2"])).encode())
    s3.put_object(Bucket=bucket, Key="prefix/part-1.csv", Body=(HEADER + rows(["a1"])).encode())
    s3.put_object(Bucket=bucket, Key="prefix/_SUCCESS", Body=b"")
    job = run_import(personalize, dataset, f"s3://{bucket}/prefix/")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert stored(server, dataset)["USER_ID"].to_list() == ["a1", "b1", "b2"]


def test_import_file_url_plain_path_and_folder(personalize: Any, server: LiveServer, tmp_path: Path) -> None:
    dataset = make_dataset(personalize)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text(HEADER + rows(["f1", "f2"]))
    (tmp_path / "in" / "b.csv").write_text(HEADER + rows(["f3"]))
    assert run_import(personalize, dataset, f"file://{tmp_path}/in/a.csv")["status"] == "ACTIVE"
    assert stored(server, dataset)["USER_ID"].to_list() == ["f1", "f2"]
    assert run_import(personalize, dataset, f"{tmp_path}/in/b.csv")["status"] == "ACTIVE"
    assert stored(server, dataset)["USER_ID"].to_list() == ["f3"]
    assert run_import(personalize, dataset, f"{tmp_path}/in/")["status"] == "ACTIVE"
    assert stored(server, dataset)["USER_ID"].to_list() == ["f1", "f2", "f3"]


def test_full_replaces_incremental_appends_put_rows_survive(
    personalize: Any, events: Any, server: LiveServer, tmp_path: Path
) -> None:
    dataset = make_dataset(personalize)
    first, second, third = (tmp_path / f"{n}.csv" for n in range(3))
    first.write_text(HEADER + rows(["a", "b"]))
    second.write_text(HEADER + rows(["c"], start=10))
    third.write_text(HEADER + rows(["d"], start=20))
    assert run_import(personalize, dataset, str(first))["status"] == "ACTIVE"
    job = run_import(personalize, dataset, str(second), mode="INCREMENTAL")
    assert job["status"] == "ACTIVE" and job["importMode"] == "INCREMENTAL"
    assert stored(server, dataset)["USER_ID"].to_list() == ["a", "b", "c"]
    assert run_import(personalize, dataset, str(third), mode="FULL")["status"] == "ACTIVE"
    assert stored(server, dataset, origin="BULK")["USER_ID"].to_list() == ["d"]


def test_items_incremental_newest_record_per_id_wins(personalize: Any, server: LiveServer, tmp_path: Path) -> None:
    dataset = make_dataset(personalize, ITEMS_SCHEMA, "Items")
    (tmp_path / "v1.csv").write_text("ITEM_ID,GENRES,PRICE\ni1,drama,1.0\ni2,comedy|drama,2.0\n")
    (tmp_path / "v2.csv").write_text("ITEM_ID,PRICE\ni2,20.0\ni3,30.0\n")  # GENRES is nullable: may be left out
    assert run_import(personalize, dataset, str(tmp_path / "v1.csv"))["status"] == "ACTIVE"
    assert run_import(personalize, dataset, str(tmp_path / "v2.csv"), "INCREMENTAL")["status"] == "ACTIVE"
    latest = stored(server, dataset, ITEMS_SCHEMA)
    assert latest.rows() == [("i1", "drama", 1.0), ("i2", None, 20.0), ("i3", None, 30.0)]
    assert stored(server, dataset, ITEMS_SCHEMA, origin="BULK").height == 4


# ---- job failures: the job ends CREATE FAILED with a reason; the dataset stays as it was -------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("USER_ID,ITEM_ID\nu,i\n", "Input CSV is missing the following columns: [EVENT_TYPE, TIMESTAMP] (file {loc})."),
        (HEADER.strip() + ",COLOUR\nu,i,click,1,red\n", "Input CSV has columns that are not in the dataset's schema: [COLOUR] (file {loc})."),
        (HEADER + "u,i,click,1\nu,i,click,yesterday\n", "{loc}: row 2, column TIMESTAMP: the value 'yesterday' is not a valid long."),
        (HEADER + "u,i,click,1\n,i,click,2\n", "{loc}: row 2, column USER_ID: the value is empty but the field is not nullable."),
        (HEADER + "u,{long},click,1\n", "{loc}: row 1, column ITEM_ID: the value '{short}...' is 300 characters long; ids are limited to 256."),
        (HEADER + "u,i,{huge},1\n", "{loc}: row 1, column EVENT_TYPE: the value '{shorter}...' is 1001 characters long; string values are limited to 1000."),
    ],
    ids=["missing-columns", "unknown-column", "bad-long", "empty-required", "long-id", "long-string"],
)
def test_bad_csv_fails_the_job_and_keeps_the_data(
    personalize: Any, server: LiveServer, dataset: str, s3: Any, bucket: str, body: str, reason: str
) -> None:
    good = f"s3://{bucket}/kept/good.csv"
    s3.put_object(Bucket=bucket, Key="kept/good.csv", Body=(HEADER + rows(["keep"])).encode())
    assert run_import(personalize, dataset, good)["status"] == "ACTIVE"
    key = f"bad/{unique('f')}.csv"
    s3.put_object(Bucket=bucket, Key=key, Body=body.format(long="x" * 300, huge="e" * 1001).encode())
    job = run_import(personalize, dataset, f"s3://{bucket}/{key}")
    assert job["status"] == "CREATE FAILED"
    assert job["failureReason"] == reason.format(loc=f"s3://{bucket}/{key}", short="x" * 77, shorter="e" * 77)
    assert stored(server, dataset)["USER_ID"].to_list() == ["keep"]


def test_missing_inputs_fail_the_job(personalize: Any, dataset: str, bucket: str, tmp_path: Path) -> None:
    cases = {
        f"s3://{bucket}/does/not/exist.csv": f"s3://{bucket}/does/not/exist.csv does not exist (404).",
        f"s3://{bucket}/empty-prefix/": f"No CSV objects found under s3://{bucket}/empty-prefix/.",
        f"{tmp_path}/nope.csv": f"The file {tmp_path}/nope.csv does not exist.",
    }
    for location, reason in cases.items():
        job = run_import(personalize, dataset, location)
        assert (job["status"], job["failureReason"]) == ("CREATE FAILED", reason)


# ---- request errors ------------------------------------------------------------------------------------


def test_unknown_dataset_and_unknown_job(personalize: Any) -> None:
    missing = "arn:aws:personalize:us-east-1:123456789012:dataset/nope/INTERACTIONS"
    code, message = error_of(
        personalize.create_dataset_import_job, jobName=unique("imp"), datasetArn=missing,
        dataSource={"dataLocation": "s3://b/k.csv"},
    )
    assert (code, message) == ("ResourceNotFoundException", f"Could not find dataset with ARN {missing}.")
    job = "arn:aws:personalize:us-east-1:123456789012:dataset-import-job/nope"
    assert error_of(personalize.describe_dataset_import_job, datasetImportJobArn=job)[0] == "ResourceNotFoundException"


def test_incremental_needs_a_previous_bulk_import(personalize: Any) -> None:
    dataset = make_dataset(personalize)
    code, message = error_of(
        personalize.create_dataset_import_job, jobName=unique("imp"), datasetArn=dataset,
        dataSource={"dataLocation": "s3://b/k.csv"}, importMode="INCREMENTAL",
    )
    assert code == "InvalidInputException"
    assert message == f"importMode INCREMENTAL is not valid for dataset {dataset}: it has no bulk data yet. Run a FULL import first."


@pytest.mark.parametrize(
    ("location", "needle"),
    [
        ("ftp://host/data.csv", "failed to satisfy constraint: Member must satisfy regular expression pattern"),
        ("relative/data.csv", "failed to satisfy constraint: Member must satisfy regular expression pattern"),
        ("s3:///data.csv", "The dataLocation 's3:///data.csv' has no bucket"),
        ("http://example.test/folder/", "is an HTTP folder"),
    ],
)
def test_bad_data_location_is_invalid_input(personalize: Any, dataset: str, location: str, needle: str) -> None:
    code, message = error_of(
        personalize.create_dataset_import_job, jobName=unique("imp"), datasetArn=dataset, dataSource={"dataLocation": location}
    )
    assert code == "InvalidInputException" and needle in message and location in message


def test_bad_import_mode_and_duplicate_name(personalize: Any, dataset: str, tmp_path: Path) -> None:
    code, message = error_of(
        personalize.create_dataset_import_job, jobName=unique("imp"), datasetArn=dataset,
        dataSource={"dataLocation": "s3://b/k.csv"}, importMode="PARTIAL",
    )
    assert code == "InvalidInputException" and "importMode" in message and "FULL, INCREMENTAL" in message
    (tmp_path / "d.csv").write_text(HEADER + rows(["x"]))
    name = unique("imp")
    params = {"jobName": name, "datasetArn": dataset, "dataSource": {"dataLocation": str(tmp_path / "d.csv")}}
    personalize.create_dataset_import_job(**params)
    code, message = error_of(personalize.create_dataset_import_job, **params)
    assert code == "ResourceAlreadyExistsException" and name in message


def test_list_filters_by_dataset_and_paginates(personalize: Any, tmp_path: Path) -> None:
    dataset = make_dataset(personalize)
    (tmp_path / "d.csv").write_text(HEADER + rows(["x"]))
    first = run_import(personalize, dataset, str(tmp_path / "d.csv"))
    second = run_import(personalize, dataset, str(tmp_path / "d.csv"), "INCREMENTAL")
    page = personalize.list_dataset_import_jobs(datasetArn=dataset, maxResults=1)
    assert [j["datasetImportJobArn"] for j in page["datasetImportJobs"]] == [second["datasetImportJobArn"]]
    rest = personalize.list_dataset_import_jobs(datasetArn=dataset, maxResults=1, nextToken=page["nextToken"])
    assert [j["datasetImportJobArn"] for j in rest["datasetImportJobs"]] == [first["datasetImportJobArn"]]
    assert "nextToken" not in rest
    summary = rest["datasetImportJobs"][0]
    assert set(summary) == {"datasetImportJobArn", "jobName", "status", "creationDateTime", "lastUpdatedDateTime", "importMode"}
    everything = personalize.list_dataset_import_jobs()["datasetImportJobs"]
    assert {first["datasetImportJobArn"], second["datasetImportJobArn"]} <= {j["datasetImportJobArn"] for j in everything}
    other = personalize.list_dataset_import_jobs(datasetArn=dataset.replace("INTERACTIONS", "ITEMS"))
    assert other["datasetImportJobs"] == []


# ---- a strict server of its own: minimums, quota, crash recovery -----------------------------------------


class Gate(http.server.ThreadingHTTPServer):
    """An HTTP server whose responses wait until ``open()``: keeps import jobs busy on demand."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.released = threading.Event()
        self.requests = 0
        gate = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                gate.requests += 1
                gate.released.wait(60)
                self.send_response(200)
                self.send_header("Content-Length", str(len(gate.body)))
                self.end_headers()
                self.wfile.write(gate.body)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/data.csv"


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory, s3_server: str) -> Iterator[LiveServer]:
    """Personalize's real minimums (1000 interactions per import) and default quotas."""
    live = LiveServer(tmp_path_factory.mktemp("strict"), env={**s3_env(s3_server), "OPENPERSONALIZE_RELAXED_MINIMUMS": "0"})
    live.start()
    yield live
    live.stop()


def test_interactions_import_needs_1000_rows(strict: LiveServer, tmp_path: Path) -> None:
    personalize = strict.client("personalize")
    dataset = make_dataset(personalize)
    (tmp_path / "999.csv").write_text(HEADER + rows([f"u{n}" for n in range(999)]))
    (tmp_path / "1000.csv").write_text(HEADER + rows([f"u{n}" for n in range(1000)]))
    job = run_import(personalize, dataset, str(tmp_path / "999.csv"))
    assert job["status"] == "CREATE FAILED"
    assert job["failureReason"] == "An Interactions import needs at least 1000 records per job; the input has 999."
    assert run_import(personalize, dataset, str(tmp_path / "1000.csv"))["status"] == "ACTIVE"
    assert stored(strict, dataset).height == 1000


def test_quota_of_five_pending_imports(strict: LiveServer) -> None:
    personalize = strict.client("personalize")
    dataset = make_dataset(personalize)
    gate = Gate((HEADER + rows([f"u{n}" for n in range(1000)])).encode())
    try:
        arns = [
            personalize.create_dataset_import_job(jobName=unique("q"), datasetArn=dataset, dataSource={"dataLocation": gate.url})[
                "datasetImportJobArn"
            ]
            for _ in range(5)
        ]
        code, message = error_of(
            personalize.create_dataset_import_job, jobName=unique("q"), datasetArn=dataset, dataSource={"dataLocation": gate.url}
        )
        assert (code, message) == ("LimitExceededException", "More than 5 resources with PENDING or IN_PROGRESS status.")
        statuses = {personalize.describe_dataset_import_job(datasetImportJobArn=a)["datasetImportJob"]["status"] for a in arns}
        assert statuses <= {"CREATE PENDING", "CREATE IN_PROGRESS"}
    finally:
        gate.released.set()
    for arn in arns:
        job = wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"])
        assert job["status"] == "ACTIVE", job.get("failureReason")
    gate.shutdown()


def test_import_interrupted_by_kill_is_rerun_after_restart(strict: LiveServer) -> None:
    personalize = strict.client("personalize")
    dataset = make_dataset(personalize)
    gate = Gate((HEADER + rows([f"k{n}" for n in range(1200)])).encode())
    arn = personalize.create_dataset_import_job(jobName=unique("crash"), datasetArn=dataset, dataSource={"dataLocation": gate.url})[
        "datasetImportJobArn"
    ]
    describe: Callable[[], dict[str, Any]] = lambda: personalize.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"]
    assert wait_for(describe, done=("CREATE IN_PROGRESS",))["status"] == "CREATE IN_PROGRESS"
    deadline = time.monotonic() + 30
    while gate.requests == 0 and time.monotonic() < deadline:  # the job is inside its download
        time.sleep(0.02)
    strict.kill()
    gate.released.set()
    strict.start()
    job = wait_for(describe)
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert gate.requests == 2  # the job ran again from scratch
    assert stored(strict, dataset).height == 1200
    gate.shutdown()


# ---- in-process: states that are hard to catch over the wire -------------------------------------------


@pytest.fixture()
def ctx(tmp_path: Path) -> RequestContext:
    var = tmp_path / "var"  # inputs are written beside it: a server never reads its own data directory
    services = Services(
        settings=Settings(data_dir=var, relaxed_minimums=True, local_paths=(tmp_path,)),
        store=Store(store_url(tmp_path)), data=DataStore(var),
    )
    return RequestContext(services=services, region="us-east-1", account_id="123456789012", request_id="t")


def seed_dataset(ctx: RequestContext, status: str) -> str:
    schema_arn = "arn:aws:personalize:us-east-1:123456789012:schema/s"
    ctx.store.create(new_record("schema", schema_arn, "s", None, {"schemaArn": schema_arn, "schema": json.dumps(INTERACTIONS_SCHEMA)}, {}))
    arn = "arn:aws:personalize:us-east-1:123456789012:dataset/g/INTERACTIONS"
    body = {"datasetArn": arn, "schemaArn": schema_arn, "datasetType": "INTERACTIONS", "status": status}
    ctx.store.create(new_record("dataset", arn, "d", "arn:aws:personalize:us-east-1:123456789012:dataset-group/g", body, {}))
    return arn


def run_queued(ctx: RequestContext, job_arn: str) -> None:
    job = ctx.store.claim("test")
    assert job is not None and job.arn == job_arn and job.kind == "dataset_import"
    dataset_import.run(ctx.services, job, no_progress)


@pytest.mark.parametrize("status", ["CREATE FAILED", "DELETE PENDING"])
def test_dataset_must_be_active(ctx: RequestContext, status: str) -> None:
    dataset = seed_dataset(ctx, status)
    params = {"jobName": "j", "datasetArn": dataset, "dataSource": {"dataLocation": "/x.csv"}}
    with pytest.raises(ResourceInUseException, match=f"is {status}; data can be imported only into an ACTIVE dataset"):
        import_jobs.create_dataset_import_job(ctx, params)


def test_a_dataset_created_a_moment_ago_is_waited_for(ctx: RequestContext, tmp_path: Path) -> None:
    """Back-to-back client code: the import is accepted while the dataset is CREATE PENDING and waits for it."""
    dataset = seed_dataset(ctx, "CREATE PENDING")
    params = {"jobName": "j", "datasetArn": dataset, "dataSource": {"dataLocation": f"{tmp_path}/x.csv"}}
    job_arn = import_jobs.create_dataset_import_job(ctx, params)["datasetImportJobArn"]
    ctx.store.update(dataset, {"status": "CREATE FAILED"})  # the dataset never becomes ACTIVE
    with pytest.raises(JobFailed, match="is CREATE FAILED; it must be ACTIVE"):
        run_queued(ctx, job_arn)


def test_runner_fails_when_the_dataset_is_gone(ctx: RequestContext, tmp_path: Path) -> None:
    dataset = seed_dataset(ctx, ACTIVE)
    params = {"jobName": "j", "datasetArn": dataset, "dataSource": {"dataLocation": f"{tmp_path}/x.csv"}}
    job_arn = import_jobs.create_dataset_import_job(ctx, params)["datasetImportJobArn"]
    ctx.store.remove(dataset)
    with pytest.raises(JobFailed, match=f"The dataset {dataset} no longer exists."):
        run_queued(ctx, job_arn)


def test_rerun_after_a_crash_past_the_commit_does_not_import_twice(ctx: RequestContext, tmp_path: Path) -> None:
    dataset = seed_dataset(ctx, ACTIVE)
    (tmp_path / "x.csv").write_text(HEADER + rows(["a", "b"]))
    params = {"jobName": "j", "datasetArn": dataset, "dataSource": {"dataLocation": f"{tmp_path}/x.csv"}}
    first = import_jobs.create_dataset_import_job(ctx, params)["datasetImportJobArn"]
    run_queued(ctx, first)
    second = import_jobs.create_dataset_import_job(ctx, {**params, "jobName": "k", "importMode": "INCREMENTAL"})["datasetImportJobArn"]
    run_queued(ctx, second)
    assert ctx.services.data.bulk_rows(dataset) == 4
    # the process died after the manifest swap but before the job was marked ACTIVE: the worker runs it again
    ctx.store.update(second, {"status": "CREATE IN_PROGRESS"})
    record = ctx.store.require(second, "dataset-import-job", "job")
    dataset_import.run(ctx.services, Job(id=0, kind="dataset_import", arn=second, attempts=2, payload={}), no_progress)
    assert ctx.store.require(second, "dataset-import-job", "job").status == ACTIVE
    assert ctx.services.data.bulk_rows(dataset) == 4 and record.body["importMode"] == "INCREMENTAL"
