"""The one table of job kinds → runners."""

from __future__ import annotations

from ..control import campaigns, datasets, solutions
from . import lifecycle, training
from . import data_deletion, dataset_export
from . import dataset_import
from . import batch_inference, batch_segment
from . import recommender_training
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
    "recommender-create": Runner(recommender_training.create),
    # update, stop and start failures are recorded by the runners; a crash leaves the recommender serving
    "recommender-update": Runner(recommender_training.update, failed_status="ACTIVE"),
    "recommender-stop": Runner(recommender_training.stop, failed_status="INACTIVE"),
    "recommender-start": Runner(recommender_training.start, failed_status="INACTIVE"),
    "recommender-delete": Runner(recommender_training.delete),
}
