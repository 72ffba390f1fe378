"""Schemas (a JSON editor checked as you type), datasets, and import jobs from an upload, a path or s3://."""

from __future__ import annotations

import json
import shutil
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..control.progress import progress_of
from ..data.schema import parse_schema, validate_schema
from ..errors import InvalidInputException, PersonalizeError
from ..ids import new_uuid
from ..data import insights
from .app import UPLOAD_PATH, Console, back, console_of, field_of, link, posted
from .groups import group_page

EXAMPLE_SCHEMA = json.dumps({
    "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
    "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
               {"name": "EVENT_TYPE", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}],
    "version": "1.0"}, indent=2)


async def schemas(request: Request, error: PersonalizeError | None = None, form: dict[str, str] | None = None) -> Response:
    console = console_of(request)
    found = await console.run_each("ListSchemas", {}, "schemas")
    form = form or {"schema": EXAMPLE_SCHEMA, "domain": request.query_params.get("domain", "")}
    return console.render(request, "schemas.html", status=400 if error else 200, title="Schemas", schemas=found,
                          error=error, form=form, crumbs=[("Dataset groups", link(""))])


def _schema_params(form: Any) -> dict[str, Any]:
    params = {"name": field_of(form, "name"), "schema": field_of(form, "schema")}
    if field_of(form, "domain"):
        params["domain"] = field_of(form, "domain")
    return params


async def create_schema(request: Request) -> Response:
    params = _schema_params(await posted(request))
    try:
        await console_of(request).run("CreateSchema", params)
    except PersonalizeError as error:
        return await schemas(request, error, params)
    return back(link("schemas"))


async def validate_schema_text(request: Request) -> Response:
    """The editor's check as you type: CreateSchema's own parsing and rules, without creating anything."""
    params = _schema_params(await posted(request))
    try:
        dataset_type = validate_schema(parse_schema(params["schema"]), params.get("domain"))
    except PersonalizeError as error:
        return console_of(request).render(request, "_check.html", ok=False, message=f"{error.code}: {error.message}")
    return console_of(request).render(request, "_check.html", ok=True, message=f"Valid schema for a {dataset_type} dataset.")


async def delete_schema(request: Request) -> Response:
    form = await posted(request)
    try:
        await console_of(request).run("DeleteSchema", {"schemaArn": field_of(form, "arn")})
    except PersonalizeError as error:
        return await schemas(request, error)
    return back(link("schemas"))


# ---- datasets -------------------------------------------------------------------------------------------------


async def create_dataset(request: Request) -> Response:
    form = await posted(request)
    group = field_of(form, "group")
    params = {"name": field_of(form, "name"), "datasetType": field_of(form, "datasetType"),
              "schemaArn": field_of(form, "schemaArn"), "datasetGroupArn": group}
    try:
        arn = (await console_of(request).run("CreateDataset", params))["datasetArn"]
    except PersonalizeError as error:
        return await group_page(request, group, error, params)
    return back(link("dataset", arn))


async def dataset(request: Request) -> Response:
    return await dataset_page(request, request.query_params.get("arn", ""))


async def dataset_page(request: Request, arn: str, error: PersonalizeError | None = None) -> Response:
    console = console_of(request)
    try:
        described = (await console.run("DescribeDataset", {"datasetArn": arn}))["dataset"]
    except PersonalizeError as missing:
        return await schemas(request, missing)
    jobs = await console.run_each("ListDatasetImportJobs", {"datasetArn": arn}, "datasetImportJobs")
    schema = (await console.run("DescribeSchema", {"schemaArn": described["schemaArn"]}))["schema"]
    data = console.services.data
    facts = await run_in_threadpool(insights.read, data.objects, data.dataset_key(arn))
    group = described["datasetGroupArn"]
    return console.render(request, "dataset.html", status=400 if error else 200, title=described["name"], error=error,
                          dataset=described, jobs=jobs, reports=await _running(console, jobs), arn=arn,
                          schema=schema, insights=facts,
                          fields=[f["name"] for f in json.loads(schema["schema"])["fields"]],
                          max_upload=console.services.settings.max_upload_bytes,
                          crumbs=[("Dataset groups", link("")), (group.rsplit("/", 1)[-1], link("group", group))])


async def delete_dataset(request: Request) -> Response:
    form = await posted(request)
    arn = field_of(form, "arn")
    console = console_of(request)
    try:
        group = (await console.run("DescribeDataset", {"datasetArn": arn}))["dataset"]["datasetGroupArn"]
        await console.run("DeleteDataset", {"datasetArn": arn})
    except PersonalizeError as error:
        return await dataset_page(request, arn, error)
    return back(link("group", group))


# ---- import jobs ----------------------------------------------------------------------------------------------


def _store_upload(upload: UploadFile, folder: Any) -> str:
    """Copy the uploaded file (spooled by the multipart parser) under the data directory's uploads folder, which
    import jobs may read (data/access.py); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "upload.csv"
    with open(target, "wb") as out:
        upload.file.seek(0)
        shutil.copyfileobj(upload.file, out, 1 << 20)
    return str(target)


async def import_data(request: Request) -> Response:
    """CreateDatasetImportJob from an uploaded CSV or a location (a local path, file://, s3:// or http(s)://)."""
    form = await posted(request, max_files=1)
    arn = field_of(form, "arn")
    console = console_of(request)
    upload = form.get("file")
    try:
        if isinstance(upload, UploadFile) and upload.filename:
            folder = console.services.settings.upload_dir / new_uuid()
            location = await run_in_threadpool(_store_upload, upload, folder)
        else:
            location = field_of(form, "location")
            if not location:
                raise InvalidInputException("Choose a CSV file to upload or give its location (s3://bucket/key, a path).")
        params: dict[str, Any] = {"jobName": field_of(form, "jobName") or f"console-{new_uuid()[:8]}", "datasetArn": arn,
                                  "dataSource": {"dataLocation": location},
                                  "importMode": field_of(form, "importMode") or "FULL"}
        if field_of(form, "roleArn"):
            params["roleArn"] = field_of(form, "roleArn")
        await console.run("CreateDatasetImportJob", params)
    except PersonalizeError as error:
        return await dataset_page(request, arn, error)
    finally:
        await form.close()
    return back(link("dataset", arn))


async def import_jobs_fragment(request: Request) -> Response:
    """The import jobs table, polled while one runs: status, progress and the failure reason."""
    console = console_of(request)
    arn = request.query_params.get("arn", "")
    jobs = await console.run_each("ListDatasetImportJobs", {"datasetArn": arn}, "datasetImportJobs")
    return console.render(request, "_imports.html", jobs=jobs, reports=await _running(console, jobs), arn=arn)


async def _running(console: Console, jobs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The progress reports of the jobs still running (control/progress.py)."""
    return {j["datasetImportJobArn"]: await run_in_threadpool(progress_of, console.services, j["datasetImportJobArn"])
            for j in jobs if j["status"] not in ("ACTIVE", "CREATE FAILED")}


ROUTES = [
    Route("/console/schemas", schemas, methods=["GET"]),
    Route("/console/schemas", create_schema, methods=["POST"]),
    Route("/console/schemas/validate", validate_schema_text, methods=["POST"]),
    Route("/console/schema/delete", delete_schema, methods=["POST"]),
    Route("/console/datasets", create_dataset, methods=["POST"]),
    Route("/console/dataset", dataset, methods=["GET"]),
    Route("/console/dataset/delete", delete_dataset, methods=["POST"]),
    Route(UPLOAD_PATH, import_data, methods=["POST"]),
    Route("/console/dataset/imports", import_jobs_fragment, methods=["GET"]),
]
