"""Serving latency and throughput over HTTP (issue 4): prints a table.

A live ``openpersonalize serve`` on loopback holds a User-Personalization campaign over a generated VOD
catalogue (``--items``, default 10k). A separate load-generator process keeps ``--connections`` keep-alive
HTTP/1.1 connections busy with GetRecommendations (raw sockets: the client must cost little CPU, since it
shares the 2 cores with the server), with and without an EXCLUDE filter. The same run measures a bare
Starlette no-op endpoint on the same uvicorn stack, so the table shows what the service keeps of the
framework's ceiling. Also reported: the cold (first request of a user, no cached scores) in-process time.

    .venv/bin/python bench/serving.py [--items 10000] [--seconds 5] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _server import client, free_port, poll, start_server

from openpersonalize.demo.generator import generate_vod, write_csv

UP = "arn:aws:personalize:::recipe/aws-user-personalization"
NOOP_APP = """
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
async def noop(request):
    await request.body()
    return Response(b'{"itemList":[]}', media_type="application/json")
app = Starlette(routes=[Route("/recommendations", noop, methods=["POST"])])
"""










def setup(port: int, folder: Path, items: int, users: int, interactions: int) -> tuple[str, str, str, list[str]]:
    """Import generated data, train UP, deploy; returns (campaign ARN, exploring campaign ARN, filter ARN, user
    ids). The first campaign has no exploration, so its answers are deterministic (and cached between a user's
    history changes); the second keeps the default explorationWeight 0.3, so every answer draws new slots."""
    data = generate_vod(users=users, items=items, interactions=interactions, seed=7)
    files = write_csv(data, folder)
    api = client("personalize", port)
    group = api.create_dataset_group(name="bench")["datasetGroupArn"]
    poll(lambda: api.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
    for dataset_type, key in (("Interactions", "INTERACTIONS"), ("Items", "ITEMS")):
        schema = api.create_schema(name=f"bench-{key}", schema=data.schemas[key])["schemaArn"]
        dataset = api.create_dataset(name=f"bench-{key}", schemaArn=schema, datasetGroupArn=group, datasetType=dataset_type)["datasetArn"]
        poll(lambda: api.describe_dataset(datasetArn=dataset)["dataset"])
        job = api.create_dataset_import_job(jobName=f"bench-{key}", datasetArn=dataset,
                                            dataSource={"dataLocation": str(files[key.lower()])})["datasetImportJobArn"]
        imported = poll(lambda: api.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
        assert imported["status"] == "ACTIVE", imported.get("failureReason")
    solution = api.create_solution(name="bench-up", datasetGroupArn=group, recipeArn=UP, performAutoTraining=False)["solutionArn"]
    poll(lambda: api.describe_solution(solutionArn=solution)["solution"])
    started = time.monotonic()
    version = api.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    trained = poll(lambda: api.describe_solution_version(solutionVersionArn=version)["solutionVersion"])
    assert trained["status"] == "ACTIVE", trained.get("failureReason")
    print(f"trained UP on {interactions} interactions, {items} items in {time.monotonic() - started:.0f} s", file=sys.stderr)
    campaign = api.create_campaign(name="bench", solutionVersionArn=version,
                                   campaignConfig={"itemExplorationConfig": {"explorationWeight": "0"}})["campaignArn"]
    poll(lambda: api.describe_campaign(campaignArn=campaign)["campaign"])
    exploring = api.create_campaign(name="bench-exploring", solutionVersionArn=version)["campaignArn"]
    poll(lambda: api.describe_campaign(campaignArn=exploring)["campaign"])
    flt = api.create_filter(name="bench-exclude", datasetGroupArn=group,
                            filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch")')["filterArn"]
    poll(lambda: api.describe_filter(filterArn=flt)["filter"])
    return campaign, exploring, flt, sorted(set(data.interactions["USER_ID"].to_list()))


# ---- the load generator (its own process) ------------------------------------------------------------------------


def _request(port: int, body: bytes) -> bytes:
    head = (f"POST /recommendations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def _connection(port: int, requests: list[bytes], stop_at: float, latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    index = 0
    # stop_at = inf means one pass over the requests (the warm-up that caches every user's scores)
    while time.perf_counter() < stop_at and (stop_at != float("inf") or index < len(requests)):
        started = time.perf_counter()
        writer.write(requests[index % len(requests)])
        index += 1
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        if b" 200 " not in status_line:
            errors.append(1)
    writer.close()


def _load(port: int, bodies: list[bytes], seconds: float, connections: int, out: Any) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    requests = [_request(port, b) for b in bodies]
    latencies: list[float] = []
    errors: list[int] = []

    async def main() -> float:
        stop_at = time.perf_counter() + seconds if seconds > 0 else float("inf")
        started = time.perf_counter()
        shards = [requests[k::connections] or requests for k in range(connections)]
        await asyncio.gather(*(_connection(port, shards[k], stop_at, latencies, errors) for k in range(connections)))
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    out.send((latencies, len(errors), elapsed))


def measure(port: int, bodies: list[bytes], seconds: float, connections: int) -> dict[str, float]:
    parent, child = multiprocessing.Pipe()
    worker = multiprocessing.Process(target=_load, args=(port, bodies, seconds, connections, child))
    worker.start()
    latencies, errors, elapsed = parent.recv()
    worker.join()
    ms = np.asarray(latencies) * 1000
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
            "rps": len(ms) / elapsed, "errors": errors, "n": len(ms)}


def cold_time(port: int, campaign: str, users: list[str]) -> float:
    """Median wall time of a user's first request (scores not cached), sequential, over HTTP."""
    runtime = client("personalize-runtime", port)
    times = []
    for user in users:
        started = time.perf_counter()
        runtime.get_recommendations(campaignArn=campaign, userId=user)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--interactions", type=int, default=150_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port, noop_port = free_port(), free_port()
        server = start_server(folder / "data", port)  # may read its inputs beside the data dir (folder / "csv")
        (folder / "noop_app.py").write_text(NOOP_APP)
        noop = subprocess.Popen([sys.executable, "-m", "uvicorn", "noop_app:app", "--port", str(noop_port),
                                 "--log-level", "warning", "--no-access-log", "--loop", "uvloop", "--http", "httptools"],
                                cwd=folder, env=env)
        try:
            _wait_port(noop_port)
            campaign, exploring, flt, users = setup(port, folder / "csv", args.items, args.users, args.interactions)
            cold = cold_time(port, campaign, users[:100])
            plain = [json.dumps({"campaignArn": campaign, "userId": u, "numResults": 25}).encode() for u in users]
            filtered = [json.dumps({"campaignArn": campaign, "userId": u, "numResults": 25, "filterArn": flt}).encode() for u in users]
            explored = [json.dumps({"campaignArn": exploring, "userId": u, "numResults": 25}).encode() for u in users]
            first = measure(port, plain + filtered, 0, args.connections)  # one pass: every user's first visit
            rows = {
                "GetRecommendations UP, each user's first visit": first,
                "no-op endpoint (bare Starlette)": measure(noop_port, plain, args.seconds, args.connections),
                "GetRecommendations UP": measure(port, plain, args.seconds, args.connections),
                "GetRecommendations UP + EXCLUDE filter": measure(port, filtered, args.seconds, args.connections),
                "GetRecommendations UP, exploration 0.3": measure(port, explored, args.seconds, args.connections),
            }
        finally:
            server.terminate()
            noop.terminate()
            server.wait(10)
            noop.wait(10)
    print(f"\nServing bench: {args.items} items, {len(users)} users, {args.connections} keep-alive connections, "
          f"{args.seconds:g} s per row, {os.cpu_count()} cores shared by server and load generator\n")
    print(f"{'endpoint':48} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>9} {'errors':>7}")
    for name, row in rows.items():
        print(f"{name:48} {row['p50']:8.2f} {row['p99']:8.2f} {row['rps']:9.0f} {row['errors']:7d}")
    print("(first-visit row: one pass over every user with and without the filter, scores computed. Other rows: "
          "repeat visits: the ranked answer is cached until the user's history, the catalogue or the model "
          "changes; with exploration its slots are drawn anew for each request)")
    ratio = rows["GetRecommendations UP"]["rps"] / rows["no-op endpoint (bare Starlette)"]["rps"]
    print(f"\nUP throughput / no-op throughput: {ratio:.0%}")
    print(f"cold first request of a user (scores computed, sequential boto3 call): median {cold:.1f} ms")


if __name__ == "__main__":
    main()
