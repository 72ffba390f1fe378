"""DeleteFilter while batch jobs use the filter (spec §2.8, issue 5): refused while a job that reads it is pending
or in progress, allowed once the jobs end; campaigns never hold a filter (it is named per request).

The job is kept in progress without timing games: its input is an HTTP URL whose answer the test holds back,
so the job (and, behind it on the server's single worker thread, any later job) waits for the test to release it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import unique, wait_for
from test_campaigns import POPULARITY, ServingGroup, deploy, make_serving_group, solution, train
from test_datasets import error_of, wait_gone

ROLE = "arn:aws:iam::123456789012:role/batch"
EXPRESSION = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch")'
HOLD_SECONDS = 50  # the server's reader gives up after 60 s; a test that forgets to release fails, never hangs


class HeldInput:
    """A JSON Lines file on a local HTTP server that answers only after ``release()``."""

    def __init__(self, lines: list[dict[str, Any]]) -> None:
        payload = "".join(json.dumps(line) + "\n" for line in lines).encode()
        released = self.released = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                released.wait(HOLD_SECONDS)
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/users.jsonl"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def held(group: ServingGroup) -> Iterator[HeldInput]:
    users = group.data.interactions["USER_ID"].unique(maintain_order=True)[:3].to_list()
    source = HeldInput([{"userId": user} for user in users])
    yield source
    source.close()


@pytest.fixture(scope="module")
def group(personalize: Any, tmp_path_factory: pytest.TempPathFactory) -> ServingGroup:
    return make_serving_group(personalize, tmp_path_factory.mktemp("filter-in-use"), users=120, items=80, interactions=2000)


@pytest.fixture(scope="module")
def version(personalize: Any, group: ServingGroup) -> str:
    return train(personalize, solution(personalize, group.arn, POPULARITY))


def _filter(personalize: Any, group: ServingGroup) -> str:
    arn = personalize.create_filter(name=unique("f"), datasetGroupArn=group.arn, filterExpression=EXPRESSION)["filterArn"]
    assert wait_for(lambda: personalize.describe_filter(filterArn=arn)["filter"])["status"] == "ACTIVE"
    return str(arn)


def _job(personalize: Any, version: str, source: str, target: Path, filter_arn: str) -> str:
    return str(personalize.create_batch_inference_job(
        jobName=unique("bij"), solutionVersionArn=version, roleArn=ROLE, filterArn=filter_arn,
        jobInput={"s3DataSource": {"path": source}}, jobOutput={"s3DataDestination": {"path": f"{target}/"}},
    )["batchInferenceJobArn"])


def _describe(personalize: Any, arn: str) -> dict[str, Any]:
    return dict(personalize.describe_batch_inference_job(batchInferenceJobArn=arn)["batchInferenceJob"])


def test_refused_while_a_batch_job_is_pending_or_running(personalize: Any, group: ServingGroup, version: str,
                                                         held: HeldInput, tmp_path: Path) -> None:
    filter_arn = _filter(personalize, group)
    first = _job(personalize, version, held.url, tmp_path / "a", filter_arn)
    # Pending or already reading the held input: either way the job has not read the filter yet.
    code, message = error_of(personalize.delete_filter, filterArn=filter_arn)
    assert code == "ResourceInUseException"
    assert message.startswith(f"Filter {filter_arn} is used by batch inference job {first}, which is CREATE ")
    assert message.endswith("; delete the filter once the job has finished.")
    running = wait_for(lambda: _describe(personalize, first), done=("CREATE IN_PROGRESS",))
    assert running["status"] == "CREATE IN_PROGRESS"
    second = _job(personalize, version, held.url, tmp_path / "b", filter_arn)  # queued behind the held job
    code, message = error_of(personalize.delete_filter, filterArn=filter_arn)
    assert code == "ResourceInUseException"
    assert message == (f"Filter {filter_arn} is used by batch inference job {second}, which is CREATE PENDING "
                       "(and 1 more batch jobs); delete the filter once the job has finished.")
    assert personalize.describe_filter(filterArn=filter_arn)["filter"]["status"] == "ACTIVE"
    held.release()
    for arn in (first, second):
        finished = wait_for(lambda arn=arn: _describe(personalize, arn), timeout=120)
        assert finished["status"] == "ACTIVE", finished.get("failureReason")
    personalize.delete_filter(filterArn=filter_arn)
    wait_gone(lambda: personalize.describe_filter(filterArn=filter_arn))


def test_jobs_with_other_filters_do_not_block(personalize: Any, group: ServingGroup, version: str,
                                              held: HeldInput, tmp_path: Path) -> None:
    used, unused = _filter(personalize, group), _filter(personalize, group)
    job = _job(personalize, version, held.url, tmp_path / "a", used)
    personalize.delete_filter(filterArn=unused)  # accepted; the removal itself queues behind the held job
    assert personalize.describe_filter(filterArn=unused)["filter"]["status"] == "DELETE PENDING"
    assert error_of(personalize.delete_filter, filterArn=used)[0] == "ResourceInUseException"
    held.release()
    assert wait_for(lambda: _describe(personalize, job), timeout=120)["status"] == "ACTIVE"
    wait_gone(lambda: personalize.describe_filter(filterArn=unused))


def test_campaigns_never_hold_a_filter(personalize: Any, runtime: Any, group: ServingGroup, version: str) -> None:
    filter_arn = _filter(personalize, group)
    campaign = deploy(personalize, version)
    user = str(group.data.interactions["USER_ID"][0])
    assert runtime.get_recommendations(campaignArn=campaign, userId=user, filterArn=filter_arn)["itemList"]
    personalize.delete_filter(filterArn=filter_arn)  # Personalize keeps no link from campaigns to filters
    # From the next request on, the runtime no longer applies it (its record cache is dropped on delete).
    code, message = error_of(runtime.get_recommendations, campaignArn=campaign, userId=user, filterArn=filter_arn)
    # (DELETE PENDING: not ACTIVE; or already removed by the worker: not found.)
    assert code in ("InvalidInputException", "ResourceNotFoundException") and filter_arn in message
    wait_gone(lambda: personalize.describe_filter(filterArn=filter_arn))
    personalize.delete_campaign(campaignArn=campaign)
