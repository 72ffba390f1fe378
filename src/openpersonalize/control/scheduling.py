"""Automatic training (spec §3.4): solutions with performAutoTraining retrain on their schedule.

The first automatic version comes within an hour of the solution becoming ACTIVE (unless a version was
created meanwhile); later ones every ``rate(N days)`` (default 7) after the previous training started, and
only when interactions arrived since then. Versions it creates have trainingMode AUTOTRAIN and
trainingType AUTOMATIC. Each tick also runs the model refreshes of jobs/updates.py: automatic updates of
deployed User-Personalization models (every 2 h) and Semantic-Similarity incremental updates (~30 min).

It lives in control because it creates resources (solution versions, as CreateSolutionVersion does); the
worker calls ``tick`` from its idle loop, handed it when it is built (server.py).
"""

from __future__ import annotations

import logging
import re
import time

from ..statuses import ACTIVE, IN_FLIGHT
from ..services import Services
from ..data.metadata import Record
from ..jobs import attribution, recommender_training, updates
from .context import RequestContext
from .solution_versions import start_version

log = logging.getLogger("openpersonalize.scheduler")
FIRST_RUN_SECONDS = 3600.0
DEFAULT_DAYS = 7


def interval_seconds(solution: Record) -> float:
    expression = solution.body.get("solutionConfig", {}).get("autoTrainingConfig", {}).get("schedulingExpression", "")
    match = re.search(r"\d+", expression)
    return (int(match.group()) if match else DEFAULT_DAYS) * 86400.0


def interactions_changed_since(services: Services, group_arn: str, since: float) -> bool:
    """Bulk files or streamed events of the group's Interactions dataset newer than ``since``."""
    return updates.data_changed_since(services, group_arn, ("INTERACTIONS",), since)


def due(services: Services, solution: Record, now: float) -> bool:
    versions = services.store.list("solution-version", parent=solution.arn)
    if any(v.status in IN_FLIGHT for v in versions):
        return False
    if not versions:
        return now >= solution.created + FIRST_RUN_SECONDS
    last = max(v.created for v in versions)
    if now < last + interval_seconds(solution):
        return False
    return interactions_changed_since(services, solution.body["datasetGroupArn"], last)


def _context(services: Services, solution_arn: str) -> RequestContext:
    _, _, _, region, account, _ = solution_arn.split(":", 5)
    return RequestContext(services=services, region=region, account_id=account, request_id="scheduler")


def tick(services: Services, now: float | None = None) -> list[str]:
    """Start every automatic training that is due; returns the new version ARNs."""
    now = time.time() if now is None else now
    started = []
    for solution in services.store.list("solution", statuses=(ACTIVE,)):
        if not solution.body.get("performAutoTraining", True) or not due(services, solution, now):
            continue
        arn = start_version(_context(services, solution.arn), solution, "AUTOTRAIN", "AUTOMATIC", {})
        log.info("automatic training of %s started: %s", solution.arn, arn)
        started.append(arn)
    recommender_training.retrain_due(services, now)  # weekly recommender retraining (spec §3.4)
    updates.run_auto_updates(services, now)  # deployed User-Personalization models, every 2 h (spec §3.4)
    updates.run_incremental_updates(services, now)  # Semantic-Similarity performIncrementalUpdate (spec §3.4)
    attribution.publish_put_reports(services, now)  # PutEvents metric reports (spec §2.11), on their own interval
    return started
