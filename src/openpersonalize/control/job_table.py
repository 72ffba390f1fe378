"""Every job kind → its runner: jobs/runners.py's, with control's hooks installed, plus the kinds whose work is
control's own (schema swaps, solution updates, campaign deployments). The worker is built with this table."""

from __future__ import annotations

from ..jobs.base import Hooks, Runner
from ..jobs.runners import job_runners
from . import campaigns, datasets, solutions

HOOKS = Hooks(version_active=campaigns.follow_latest)


def all_runners() -> dict[str, Runner]:
    return {
        **job_runners(HOOKS),
        # a failed schema swap must leave the dataset ACTIVE (its old schema still applies)
        "dataset-update": Runner(datasets.finish_update, failed_status="ACTIVE"),
        "solution-update": Runner(solutions.finish_update, failed_status="ACTIVE"),
        "campaign-deploy": Runner(campaigns.deploy),
        # a failed update is recorded in latestCampaignUpdate; the campaign keeps serving its current model
        "campaign-update": Runner(campaigns.finish_update, failed_status="ACTIVE"),
    }
