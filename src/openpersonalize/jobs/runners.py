"""The one table of job kinds → runners."""

from __future__ import annotations

from ..control import campaigns, datasets, solutions
from . import lifecycle, training
from . import data_deletion, dataset_export
from . import dataset_import
from . import batch_inference, batch_segment
from .base import Runner

RUNNERS: dict[str, Runner] = {
    "activate": Runner(lifecycle.activate),
    "dataset_import": Runner(dataset_import.run),
    "delete": Runner(lifecycle.remove),
    # a failed schema swap must leave the dataset ACTIVE (its old schema still applies)
    "dataset-update": Runner(datasets.finish_update, failed_status="ACTIVE"),
    "train": Runner(training.run),
    "solution-update": Runner(solutions.finish_update, failed_status="ACTIVE"),
    "dataset-export": Runner(dataset_export.run),
    "data-deletion": Runner(data_deletion.run, failed_status=data_deletion.FAILED),
    "campaign-deploy": Runner(campaigns.deploy),
    "batch-inference": Runner(batch_inference.run),
    "batch-segment": Runner(batch_segment.run),
    # a failed update is recorded in latestCampaignUpdate; the campaign keeps serving its current model
    "campaign-update": Runner(campaigns.finish_update, failed_status="ACTIVE"),
}
