"""The job kinds this package runs → runners. Control adds its own kinds and supplies the hooks
(control/job_table.py); the worker is handed the whole table."""

from __future__ import annotations

from functools import partial

from . import lifecycle, train_job
from . import data_deletion, dataset_export
from . import dataset_import
from . import batch_inference, batch_io, batch_segment
from . import recommender_training
from .base import Hooks, Runner


def job_runners(hooks: Hooks) -> dict[str, Runner]:
    return {
        "activate": Runner(lifecycle.activate),
        "dataset_import": Runner(dataset_import.run),
        "delete": Runner(lifecycle.remove),
        "train": Runner(partial(train_job.run, on_active=hooks.version_active)),
        dataset_export.JOB_KIND: Runner(dataset_export.run),
        data_deletion.JOB_KIND: Runner(data_deletion.run, failed_status=data_deletion.FAILED),
        batch_io.INFERENCE_JOB: Runner(batch_inference.run),
        batch_io.SEGMENT_JOB: Runner(batch_segment.run),
        "recommender-create": Runner(recommender_training.create),
        # update, stop and start failures are recorded by the runners; a crash leaves the recommender serving
        "recommender-update": Runner(recommender_training.update, failed_status="ACTIVE"),
        "recommender-stop": Runner(recommender_training.stop, failed_status="INACTIVE"),
        "recommender-start": Runner(recommender_training.start, failed_status="INACTIVE"),
        "recommender-delete": Runner(recommender_training.delete),
    }
