"""Several serving processes over one data directory (``serve --workers N``, or several servers): an event
accepted by one process changes the next answer of every other, answer caches included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import LiveServer, unique, wait_for
from test_campaigns import POPULARITY, deploy, make_serving_group, solution, train

WATCHED = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch")'


def _filter(personalize: Any, group: str) -> str:
    arn = personalize.create_filter(name=unique("watched"), datasetGroupArn=group, filterExpression=WATCHED)["filterArn"]
    assert wait_for(lambda: personalize.describe_filter(filterArn=arn)["filter"])["status"] == "ACTIVE"
    return str(arn)


def test_processes_alternating_events_and_answers_see_every_event(tmp_path: Path) -> None:
    first = LiveServer(tmp_path / "data", args=("--workers", "2"))
    first.start()
    second = LiveServer(tmp_path / "data", args=("--no-worker",))  # another node on the same data
    try:
        personalize = first.client("personalize")
        group = make_serving_group(personalize, tmp_path / "csv", users=100, items=80, interactions=2000)
        campaign = deploy(personalize, train(personalize, solution(personalize, group.arn, POPULARITY)))
        watched_filter = _filter(personalize, group.arn)
        second.start()
        servers = [first, second]
        runtimes = [s.client("personalize-runtime") for s in servers]
        senders = [s.client("personalize-events") for s in servers]
        user = unique("user")
        watched: list[str] = []
        for step in range(6):
            reader, writer = runtimes[step % 2], senders[(step + 1) % 2]
            before = [i["itemId"] for i in reader.get_recommendations(
                campaignArn=campaign, userId=user, numResults=10, filterArn=watched_filter)["itemList"]]
            assert not set(before) & set(watched), (step, watched, before)  # every earlier event, either process
            watched.append(before[0])  # the top answer, watched: it must leave the next answer of every process
            writer.put_events(trackingId=group.tracking_id, userId=user, sessionId=user,
                              eventList=[{"eventType": "Watch", "itemId": before[0], "sentAt": 1_700_000_000 + step}])
            for runtime in runtimes:  # answered (and cached) by each process before: the cache must not hide it
                after = [i["itemId"] for i in runtime.get_recommendations(
                    campaignArn=campaign, userId=user, numResults=10, filterArn=watched_filter)["itemList"]]
                assert before[0] not in after, (step, before[0], after)
    finally:
        second.stop()
        first.stop()
