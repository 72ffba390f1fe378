"""The ``openpersonalize`` command: serve, worker, progress."""

from __future__ import annotations

import ipaddress
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .config import Settings

if TYPE_CHECKING:
    from .services import Services

T = TypeVar("T")
IDLE_SECONDS = 5  # a keep-alive connection with no next request is closed after this (uvicorn's default, kept)
# uvicorn's default rewrites every request's client address and scheme from X-Forwarded-* headers sent from
# loopback; nothing here reads either, and the rewrite was 1.5 % of a first visit's time (py-spy, bench/serving.py).
# Both serve paths pass proxy_headers=False.


def _settings(data_dir: str | None, metadata_url: str | None, object_store: str | None = None) -> Settings:
    settings = Settings()
    if object_store:
        settings.object_store = object_store
    if data_dir:
        settings.data_dir = Path(data_dir)
    if metadata_url:
        settings.metadata_url = metadata_url
    return settings


def _started(build: Callable[[], T]) -> T:
    """What ``build`` opens (settings, stores, the app): a misconfiguration — a bad URL, a database that refuses
    or does not answer, an object store that cannot be listed — ends the command with one line, not a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return build()
    except (SQLAlchemyError, ValueError, OSError) as error:
        lines = str(error).strip().splitlines() or [type(error).__name__]
        raise click.ClickException(f"cannot start: {lines[0]}") from None


def _services(data_dir: str | None, metadata_url: str | None, object_store: str | None = None) -> Services:
    """The stores of a one-off command (export, import, progress), opened as ``serve`` opens them."""
    from .server import build_services

    return _started(lambda: build_services(_settings(data_dir, metadata_url, object_store)))


def _check_bind(host: str, settings: Settings, allowed: bool) -> None:
    """Without access keys, only loopback unless the operator opts in (then loudly, on every start)."""
    if settings.access_keys or _loopback(host):
        return
    if not allowed:
        raise click.UsageError(
            f"--host {host} is not a loopback address and OPENPERSONALIZE_ACCESS_KEYS is not set: anyone who can "
            "reach the port could use the API. Set access keys, or pass --allow-unauthenticated-network."
        )
    logging.getLogger("openpersonalize").warning(
        "LISTENING ON %s WITHOUT ACCESS KEYS (--allow-unauthenticated-network): anyone who can reach this port can "
        "read, change and delete everything", host)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")


@click.group()
def main() -> None:
    """OpenPersonalize: the Amazon Personalize API on your own machine."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--data-dir", default=None, help="Where metadata, datasets and models live (default ./var).")
@click.option("--metadata-url", default=None, help="SQLAlchemy URL of the metadata store (e.g. PostgreSQL).")
@click.option("--object-store", default=None,
              help="s3://bucket/prefix for datasets, models and job outputs (default: the data dir).")
@click.option("--no-worker", is_flag=True, help="Do not run jobs in this process (use `openpersonalize worker`).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Serving processes sharing the port and the data dir (the first one also runs jobs); users' "
                   "events reach every process through the event log.")
@click.option("--log-level", default="info", show_default=True)
@click.option("--demo/--no-demo", default=True, show_default=True,
              help="Seed a trained demo VOD dataset group, campaign and filter when the store is empty.")
@click.option("--ray-address", default=None, help="Run batch jobs, HPO trials and AutoML candidates as Ray tasks on this "
              "cluster (local, auto, ray://host:10001; default OPENPERSONALIZE_RAY_ADDRESS or RAY_ADDRESS).")
@click.option("--allow-unauthenticated-network", is_flag=True,
              help="Listen on a non-loopback address without OPENPERSONALIZE_ACCESS_KEYS (anyone who can reach it "
                   "can use the API).")
def serve(host: str, port: int, data_dir: str | None, metadata_url: str | None, object_store: str | None, no_worker: bool, workers: int,
          log_level: str, demo: bool, allow_unauthenticated_network: bool, ray_address: str | None) -> None:
    """Serve the control plane, runtime and events APIs on one port."""
    import uvicorn

    from .api.limits import guarded_protocol
    from .server import build_app

    _logging(log_level)
    settings = _started(lambda: _settings(data_dir, metadata_url, object_store))
    settings.ray_address = ray_address or settings.ray_address
    _check_bind(host, settings, allow_unauthenticated_network)
    if workers > 1:
        _serve_processes(settings, host, port, workers, run_worker=not no_worker, demo=demo, log_level=log_level)
        return
    app = _started(lambda: build_app(settings, run_worker=not no_worker))
    logging.getLogger("openpersonalize").info("listening on http://%s:%d", host, port)
    if demo:
        from .demo.seed import start_in_background

        services = app.state.services
        start_in_background(port, settings, lambda: services.store.count("dataset-group") == 0)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, http=guarded_protocol(settings),
                timeout_keep_alive=IDLE_SECONDS, proxy_headers=False)


def _serve_processes(settings: Settings, host: str, port: int, workers: int, *, run_worker: bool, demo: bool,
                     log_level: str) -> None:
    """``workers`` serving processes on one listening socket, restarted when one dies; SIGTERM/SIGINT stop all.

    The stores are opened here first, so the processes find their tables (and a migrated event log) ready.
    """
    import multiprocessing

    import uvicorn

    from .demo.seed import start_in_background
    from .server import build_services

    services = _started(lambda: build_services(settings))
    sock = uvicorn.Config("openpersonalize.server:build_app", host=host, port=port).bind_socket()
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or engines inherited

    def start(index: int) -> Any:
        process = spawn.Process(target=_serve_one, args=(settings, sock, run_worker and index == 0, log_level),
                                name=f"openpersonalize-serve-{index}")
        process.start()
        return process

    processes = [start(index) for index in range(workers)]
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    if demo:
        start_in_background(port, settings, lambda: services.store.count("dataset-group") == 0)
    while not stopped.wait(1.0):
        for index, process in enumerate(processes):
            if not process.is_alive():
                logging.getLogger("openpersonalize").warning(
                    "serving process %d exited with %s; starting another", index, process.exitcode)
                processes[index] = start(index)
    for process in processes:
        process.terminate()  # uvicorn finishes the requests in flight
    for process in processes:
        process.join(30)
    sock.close()


def _serve_one(settings: Settings, sock: Any, run_worker: bool, log_level: str) -> None:
    """One serving process of ``serve --workers N`` (its entry point, run in a spawned interpreter)."""
    import uvicorn

    from .api.limits import guarded_protocol
    from .server import build_app

    _logging(log_level)
    app = build_app(settings, run_worker=run_worker)
    config = uvicorn.Config(app, log_level="warning", access_log=False, http=guarded_protocol(settings),
                            timeout_keep_alive=IDLE_SECONDS, proxy_headers=False)
    uvicorn.Server(config).run(sockets=[sock])


@main.command()
@click.option("--data-dir", default=None)
@click.option("--metadata-url", default=None)
@click.option("--object-store", default=None,
              help="s3://bucket/prefix for datasets, models and job outputs (default: the data dir).")
@click.option("--threads", default=1, show_default=True, type=int)
@click.option("--log-level", default="info", show_default=True)
@click.option("--ray-address", default=None, help="Run batch jobs, HPO trials and AutoML candidates as Ray tasks on this "
              "cluster (local, auto, ray://host:10001; default OPENPERSONALIZE_RAY_ADDRESS or RAY_ADDRESS).")
def worker(data_dir: str | None, metadata_url: str | None, object_store: str | None, threads: int, log_level: str, ray_address: str | None) -> None:
    """Run background jobs (imports, training, batch) claimed from the shared metadata store."""
    from .server import build_services, build_worker

    _logging(log_level)
    settings = _started(lambda: _settings(data_dir, metadata_url, object_store))
    settings.ray_address = ray_address or settings.ray_address
    services = _started(lambda: build_services(settings))
    runner = build_worker(services, threads)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    runner.start()
    stopped.wait()
    runner.stop()


@main.command("generate-data")
@click.option("--domain", type=click.Choice(["vod", "ecommerce"]), default="vod", show_default=True)
@click.option("--users", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--items", default=2000, show_default=True, type=click.IntRange(min=1))
@click.option("--interactions", default=50_000, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Directory for CSVs and schemas.")
@click.option("--truth", is_flag=True, help="Also write truth.npz (planted tastes and item genres).")
def generate_data(domain: str, users: int, items: int, interactions: int, seed: int, out_dir: str, truth: bool) -> None:
    """Write synthetic interactions/items/users CSVs and their Avro schemas (see demo/generator.py)."""
    from .demo.generator import generate, write_csv

    data = generate(domain, users=users, items=items, interactions=interactions, seed=seed)
    for name, path in write_csv(data, out_dir, with_truth=truth).items():
        click.echo(f"{name:<20} {path}")


@main.command("export-model")
@click.argument("solution_version_arn")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--data-dir", default=None)
@click.option("--metadata-url", default=None)
@click.option("--object-store", default=None, help="s3://bucket/prefix holding the models (as given to serve).")
def export_model(solution_version_arn: str, directory: str, data_dir: str | None, metadata_url: str | None,
                 object_store: str | None) -> None:
    """Write a trained solution version as arrays + JSON (no pickles) into DIRECTORY."""
    from .control.model_transfer import export_model as export

    services = _services(data_dir, metadata_url, object_store)
    click.echo(str(_or_exit(lambda: export(services, solution_version_arn, Path(directory)))))


@main.command("import-model")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.argument("solution_arn")
@click.option("--data-dir", default=None)
@click.option("--metadata-url", default=None)
@click.option("--object-store", default=None, help="s3://bucket/prefix the servers read models from (as given to serve).")
def import_model(directory: str, solution_arn: str, data_dir: str | None, metadata_url: str | None,
                 object_store: str | None) -> None:
    """Register an exported model as a new ACTIVE version of SOLUTION_ARN; prints the version ARN."""
    from .control.model_transfer import import_model as load

    services = _services(data_dir, metadata_url, object_store)
    click.echo(_or_exit(lambda: load(services, Path(directory), solution_arn)))


@main.command()
@click.argument("arn")
@click.option("--endpoint-url", default="http://127.0.0.1:8080", show_default=True,
              help="The server to ask (GET /progress/<arn>, signed with your AWS credentials if any).")
@click.option("--data-dir", default=None, help="Read the metadata store under DIR instead of asking a server.")
@click.option("--metadata-url", default=None, help="Read this metadata store (e.g. PostgreSQL) instead of a server.")
@click.option("--follow", is_flag=True, help="Print every change until the job ends (ACTIVE, FAILED or STOPPED).")
@click.option("--interval", default=1.0, show_default=True, type=click.FloatRange(min=0.05), help="Seconds between polls.")
def progress(arn: str, endpoint_url: str, data_dir: str | None, metadata_url: str | None, follow: bool,
             interval: float) -> None:
    """Show what the job ARN (a solution version, batch job...) is doing: phase, step, percent, elapsed time."""
    if data_dir or metadata_url:
        from .control.progress import progress_of

        services = _services(data_dir, metadata_url)
        fetch: Callable[[], dict[str, Any]] = partial(_or_exit, partial(progress_of, services, arn))
    else:
        fetch = partial(_fetch_progress, endpoint_url, arn)
    shown = None
    while True:
        report = fetch()
        line = _progress_line(report)
        if line != shown:
            click.echo(f"[{report['elapsedSeconds']:>7.1f} s] {line}")
            sys.stdout.flush()  # one line per change, also when piped (| tee, | grep --line-buffered)
            shown = line
        if not follow or _ended(report["status"]):
            break
        time.sleep(interval)
    if "FAILED" in report["status"]:
        raise click.ClickException(f"{report['status']}: {report.get('failureReason') or 'no reason recorded'}")


def _ended(status: str) -> bool:
    return status in ("ACTIVE", "INACTIVE", "COMPLETED") or status.endswith(("FAILED", "STOPPED"))


def _progress_line(report: dict[str, Any]) -> str:
    """``STATUS  phase: detail (12.5 %)`` from a GET /progress answer."""
    parts = [report["status"]]
    if report.get("phase"):
        parts.append(report["phase"] + (f": {report['detail']}" if report.get("detail") else ""))
    if report.get("percent") is not None:
        parts.append(f"({report['percent']:.1f} %)")
    return "  ".join(parts)


def _fetch_progress(endpoint_url: str, arn: str) -> dict[str, Any]:
    """GET /progress/<arn>, SigV4-signed like the AWS CLI's requests when credentials are configured."""
    import urllib.error
    import urllib.parse
    import urllib.request

    import boto3
    import orjson
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest("GET", f"{endpoint_url.rstrip('/')}/progress/{urllib.parse.quote(arn, safe=':/')}")
    session = boto3.Session()
    credentials = session.get_credentials()
    if credentials is not None:
        SigV4Auth(credentials, "personalize", session.region_name or "us-east-1").add_auth(request)
    prepared = request.prepare()
    try:
        with urllib.request.urlopen(urllib.request.Request(prepared.url, headers=dict(prepared.headers)), timeout=30) as answer:
            return orjson.loads(answer.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as error:
        detail = orjson.loads(error.read() or b"{}")
        raise click.ClickException(f"{detail.get('__type', error.code)}: {detail.get('message', error.reason)}") from None
    except urllib.error.URLError as error:
        raise click.ClickException(f"Could not reach {endpoint_url}: {error.reason}") from None


def _or_exit(action: Callable[[], T]) -> T:
    """AWS-shaped errors become a one-line message and exit status 1, not a traceback."""
    from .errors import PersonalizeError

    try:
        return action()
    except PersonalizeError as error:
        raise click.ClickException(f"{error.code}: {error.message}") from None


if __name__ == "__main__":
    main()
