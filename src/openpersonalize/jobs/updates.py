"""Refreshing trained models without retraining them (spec §2.5, §3.4, §5.3).

Three callers share one mechanism, ``Recipe.update(data)``: the model is loaded, handed the data as it is now
(new items, new interactions) and keeps its learnt matrices while its catalogue and cheap statistics catch up.

- **trainingMode UPDATE** (``train_update``, from the "train" job): a new solution version warm-started from
  the solution's newest ACTIVE version. It is not evaluated again: the learnt model is the base version's, so
  GetSolutionMetrics returns the base version's metrics (kept on the new version, with ``_baseSolutionVersionArn``).
- **Automatic updates** (``run_auto_updates``, from the scheduler): every ``OPENPERSONALIZE_AUTO_UPDATE_SECONDS``
  (default 7200, AWS's 2 hours) the newest FULL-trained User-Personalization(-v2) version deployed in an ACTIVE
  campaign is refreshed *in place* when items or interactions arrived since — no new version, no new metrics,
  never for UPDATE-mode versions, and no longer once an UPDATE version was made from it (as AWS documents).
- **Semantic-Similarity incremental updates** (``run_incremental_updates``): with ``performIncrementalUpdate``
  the solution's newest ACTIVE version embeds new or changed items every
  ``OPENPERSONALIZE_INCREMENTAL_UPDATE_SECONDS`` (default 1800, AWS's ~30 minutes) when the Items dataset changed.

In-place refreshes write the new arrays next to the model and rename them over the old file, so a reader sees
one revision or the other; serving notices the new file and swaps models without failing a request
(serving/models.py). Each refresh is logged and recorded on the version (``_modelUpdatedAt``, ``_autoUpdates``)
and on the campaigns that deploy it, whose lastUpdatedDateTime is the visible trace on the wire.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ..statuses import ACTIVE
from ..services import Services
from ..data.metadata import Record
from ..recipes import catalogue
from ..recipes.base import Recipe, TrainingData
from . import training
from .base import JobFailed

log = logging.getLogger("openpersonalize.updates")
FULL_MODES = ("FULL", "AUTOTRAIN")  # automatic training is a full training too
VERSION_KIND, CAMPAIGN_KIND = "solution-version", "campaign"


# ---- the shared mechanism ------------------------------------------------------------------------------------


def current_data(services: Services, body: dict[str, Any]) -> TrainingData:
    """The version's training data as it is now: same dataset columns, event selection and item roles."""
    config = body.get("solutionConfig", {})
    needs = catalogue.recipe(body["recipeArn"]).needs
    frames = training._load(services, body["datasetGroupArn"], config.get("trainingDataConfig", {}),
                            need_interactions="INTERACTIONS" in needs.datasets)
    interactions = training._select_events(frames.interactions, body.get("eventType"), config)
    roles = training.item_roles(frames.schemas.get("ITEMS"))
    return TrainingData.from_frames(interactions, frames.items, frames.users, item_roles=roles)


def refreshed_model(services: Services, body: dict[str, Any], source_arn: str) -> tuple[Recipe, TrainingData, int]:
    """The model of ``source_arn`` updated with the current data of the version described by ``body``, the
    data, and how many items the catalogue gained."""
    try:
        recipe = Recipe.load(services.data.artifacts.local(source_arn))
    except FileNotFoundError:
        raise JobFailed(f"Create failed. The model of solution version {source_arn} is missing; train it again with FULL.") from None
    before = len(recipe.item_ids_)
    data = current_data(services, body)
    try:
        recipe.update(data)
    except NotImplementedError as err:
        raise JobFailed(f"Create failed. {err}") from None
    return recipe, data, len(recipe.item_ids_) - before


def save_in_place(services: Services, recipe: Recipe, version_arn: str) -> None:
    """Replace a served model's files one by one (renames or PUTs): readers see the old arrays or the new, never
    a mix (an update keeps the class and hyperparameters, so the config is the same in both)."""
    with services.data.artifacts.publishing(version_arn) as folder:
        recipe.save(folder)


def data_changed_since(services: Services, group_arn: str, dataset_types: tuple[str, ...], since: float) -> bool:
    """Whether bulk files or individually recorded rows of those datasets are newer than ``since``."""
    for dataset in services.store.list("dataset", parent=group_arn):
        if dataset.body.get("datasetType") in dataset_types:
            newest = max(services.data.dataset_modified(dataset.arn), services.data.events.changed_at(dataset.arn))
            if newest > since:
                return True
    return False


# ---- trainingMode UPDATE -------------------------------------------------------------------------------------


def base_version(services: Services, version: Record) -> Record | None:
    """The newest ACTIVE version of the same solution created before ``version`` (FULL, AUTOTRAIN or UPDATE)."""
    older = [v for v in services.store.list(VERSION_KIND, parent=version.body["solutionArn"], statuses=(ACTIVE,))
             if v.arn != version.arn and v.created <= version.created]
    return max(older, key=lambda v: v.created, default=None)


def train_update(services: Services, version: Record) -> dict[str, Any]:
    """The "train" job of a trainingMode UPDATE version: the base model refreshed, saved as this version's."""
    started = time.monotonic()
    base = base_version(services, version)
    if base is None:
        raise JobFailed(f"Create failed. trainingMode UPDATE needs an ACTIVE solution version of {version.body['solutionArn']} to start from; it has none.")
    _log_phase(version.arn, f"loading data; updating the model of {base.arn} without refitting it", started)
    recipe, data, new_items = refreshed_model(services, version.body, base.arn)
    _log_phase(version.arn, f"{data.n_interactions} interactions, {data.n_items} items ({new_items} new); saving the model", started)
    save_in_place(services, recipe, version.arn)
    changes: dict[str, Any] = {"_metrics": dict(base.body.get("_metrics", {})), "_baseSolutionVersionArn": base.arn}
    if "tunedHPOParams" in base.body:
        changes["tunedHPOParams"] = base.body["tunedHPOParams"]
    return changes


def _log_phase(arn: str, text: str, started: float) -> None:
    """The same log line as a full training's phases, so one grep follows every version."""
    log.info("training %s: %s (%.1f s)", arn, text, time.monotonic() - started)


# ---- automatic updates ----------------------------------------------------------------------------------------


def auto_updatable(services: Services, version: Record) -> bool:
    """The newest FULL-trained ACTIVE User-Personalization(-v2) version, with no UPDATE version made after it."""
    if version.status != ACTIVE or version.body.get("trainingMode") not in FULL_MODES:
        return False
    if not catalogue.recipe(version.body["recipeArn"]).capabilities.auto_update:
        return False
    siblings = services.store.list(VERSION_KIND, parent=version.body["solutionArn"])
    full = [v for v in siblings if v.status == ACTIVE and v.body.get("trainingMode") in FULL_MODES]
    if max(full, key=lambda v: v.created).arn != version.arn:
        return False  # an older version: AWS updates only the latest
    return not any(v.body.get("trainingMode") == "UPDATE" and v.created > version.created for v in siblings)


def _due(services: Services, version: Record, now: float, interval: float, dataset_types: tuple[str, ...]) -> bool:
    last = float(version.body.get("_modelUpdatedAt", version.created))
    if now < last + interval:
        return False
    data_at = float(version.body.get("_modelDataAt", version.created))
    return data_changed_since(services, version.body["datasetGroupArn"], dataset_types, data_at)


def run_auto_updates(services: Services, now: float | None = None) -> list[str]:
    """Refresh every deployed model due an automatic update; returns the refreshed version ARNs."""
    now = time.time() if now is None else now
    deployed: dict[str, list[Record]] = {}
    for campaign in services.store.list(CAMPAIGN_KIND, statuses=(ACTIVE,)):
        deployed.setdefault(campaign.body.get("solutionVersionArn", ""), []).append(campaign)
    done = []
    for arn, campaigns in deployed.items():
        version = services.store.get(arn, VERSION_KIND)
        if version is None or not auto_updatable(services, version):
            continue
        if _due(services, version, now, services.settings.auto_update_seconds, ("INTERACTIONS", "ITEMS")):
            if _refresh(services, version, campaigns, now, "automatic update"):
                done.append(arn)
    return done


def run_incremental_updates(services: Services, now: float | None = None) -> list[str]:
    """Semantic-Similarity solutions with performIncrementalUpdate: embed new and changed items."""
    now = time.time() if now is None else now
    done = []
    for solution in services.store.list("solution", statuses=(ACTIVE,)):
        if not solution.body.get("performIncrementalUpdate"):
            continue
        if not catalogue.recipe(solution.body.get("recipeArn", "")).capabilities.incremental_update:
            continue
        active = services.store.list(VERSION_KIND, parent=solution.arn, statuses=(ACTIVE,))
        if not active:
            continue
        version = max(active, key=lambda v: v.created)
        if _due(services, version, now, services.settings.incremental_update_seconds, ("ITEMS",)):
            campaigns = [c for c in services.store.list(CAMPAIGN_KIND, statuses=(ACTIVE,))
                         if c.body.get("solutionVersionArn") == version.arn]
            if _refresh(services, version, campaigns, now, "incremental update"):
                done.append(version.arn)
    return done


def _refresh(services: Services, version: Record, campaigns: list[Record], now: float, what: str) -> bool:
    """Refresh one version's model in place (serving notices the new revision); failures are retried later."""
    started, data_at = time.monotonic(), time.time()
    try:
        recipe, data, new_items = refreshed_model(services, version.body, version.arn)
        save_in_place(services, recipe, version.arn)
    except Exception:  # the scheduler must go on; the old model keeps serving
        log.exception("%s of %s failed", what, version.arn)
        return False
    count = int(version.body.get("_autoUpdates", 0)) + 1
    services.store.update(version.arn, {"_modelUpdatedAt": now, "_modelDataAt": data_at, "_autoUpdates": count})
    for campaign in campaigns:  # lastUpdatedDateTime shows when the deployed model last changed
        services.store.update(campaign.arn, {"_modelUpdatedAt": now})
    log.info("%s of %s (campaigns: %s): %d items (%d new), %d interactions, %.1f s", what, version.arn,
             ", ".join(c.arn for c in campaigns) or "none", len(recipe.item_ids_), new_items, data.n_interactions,
             time.monotonic() - started)
    return True
