"""The ``batch-segment`` job: users for items or item attributes, from USER_SEGMENTATION versions (spec §8.2).

Item-Affinity lines are ``{"itemId": "105"}``, Item-Attribute-Affinity lines
``{"itemAttributes": "ITEMS.GENRES = \\"Comedy\\""}``; both answer ``{"input": {...}, "output": {"usersList":
[...]}, "error": null}``. That is what the service writes (AWS's sample notebooks record it and read
``x['input']['itemId']`` and ``x['output']['usersList']``); the developer guide's examples show
``recommendedUsers`` and, for attributes, no ``input`` wrapper, which clients written against the service
do not read. Users
are sorted by descending affinity (recipes/affinity.py). A line may carry ``filterValues`` for the job's user
filter (target UserID). A query the model cannot answer (an item not in the training data, a malformed
expression) gets an ``error`` and the job goes on; a file with more queries than AWS allows per file (500 /
10) fails the job, as an oversized input does. jobs/batch_io.py streams the files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..errors import InvalidInputException
from ..statuses import ACTIVE
from ..services import Services
from ..data.metadata import Job, Record
from ..recipes import catalogue
from ..data.readers import BadData, bounded_lines
from ..recipes.affinity import ItemAffinity, ItemAttributeAffinity
from ..recipes.base import QueryError
from .base import JobFailed, Progress
from .batch_inference import JobFilter, group_frames, load_recipe, make_filter
from .batch_io import SEGMENT_KIND, Answer, InputFile, LineError, error_line, filter_values, id_member, parse_line, run_batch, show

MAX_QUERIES = {False: 500, True: 10}  # per input file, Item-Affinity / Item-Attribute-Affinity (spec §8.2)
MAX_CACHED_MASKS = 64  # user masks kept per distinct filterValues


class Segments:
    """Answers chunks of segment queries for one Item-Affinity or Item-Attribute-Affinity model."""

    def __init__(self, model: ItemAffinity, by_attributes: bool, job_filter: JobFilter | None, num_results: int) -> None:
        self.model, self.by_attributes, self.filter = model, by_attributes, job_filter
        self.num_results = num_results
        self._candidates: dict[tuple[tuple[str, str], ...], list[str]] = {}

    def __call__(self, raws: list[bytes]) -> list[bytes]:
        return [self._answer(raw) for raw in raws]

    def _answer(self, raw: bytes) -> bytes:
        parsed = None
        try:
            parsed = parse_line(raw)
            users = self._users(parsed)
        except (LineError, QueryError) as error:
            return error_line(raw, parsed, str(error))
        return orjson.dumps({"input": parsed, "output": {"usersList": users}, "error": None}) + b"\n"

    def _users(self, line: dict[str, Any]) -> list[str]:
        candidates = self._allowed(filter_values(line))
        if self.by_attributes:
            expression = line.get("itemAttributes")
            if not isinstance(expression, str):
                raise LineError(f"itemAttributes must be a string such as ITEMS.GENRES = \"Comedy\"; got {show(expression)}.")
            assert isinstance(self.model, ItemAttributeAffinity)  # by_attributes is set from the recipe
            ids, _ = self.model.users_for_attributes(expression, num_results=self.num_results,
                                                     candidate_user_ids=candidates)
        else:
            ids, _ = self.model.users_for_items([id_member(line, "itemId")], num_results=self.num_results,
                                                candidate_user_ids=candidates)
        return [str(u) for u in ids.tolist()]

    def _allowed(self, values: dict[str, str]) -> list[str] | None:
        """The users the job's filter lets into a segment with these filterValues (None: every user)."""
        if self.filter is None:
            return None
        key = tuple(sorted(values.items()))
        found = self._candidates.get(key)
        if found is None:
            try:
                mask = self.filter.compiled.user_mask(self.filter.catalog, values=values)
            except InvalidInputException as error:  # e.g. a missing INCLUDE placeholder: this line's problem
                raise LineError(error.message) from None
            found = self.model.user_ids_[np.asarray(mask, dtype=bool)].tolist()
            if len(self._candidates) >= MAX_CACHED_MASKS:
                self._candidates.pop(next(iter(self._candidates)))
            self._candidates[key] = found
        return found


def _count_queries(by_attributes: bool) -> Any:
    limit = MAX_QUERIES[by_attributes]

    def check(path: Path, source: InputFile) -> None:
        try:
            with open(path, "rb") as handle:
                count = sum(1 for raw in bounded_lines(handle, source.label) if raw.strip())
        except BadData as error:
            raise JobFailed(str(error)) from None
        if count > limit:
            kind = "Item-Attribute-Affinity" if by_attributes else "Item-Affinity"
            raise JobFailed(f"The input file {source.label} has {count} queries; {kind} jobs allow at most {limit} per file.")

    return check


def _segments(services: Services, record: Record, by_attributes: bool) -> Answer:
    version = services.store.get(record.body["solutionVersionArn"], "solution-version")
    if version is None or version.status != ACTIVE:
        raise JobFailed(f"The solution version {record.body['solutionVersionArn']} is no longer ACTIVE.")
    model = load_recipe(services, version)
    if not isinstance(model, ItemAffinity):
        raise JobFailed(f"The model of {version.arn} is not a USER_SEGMENTATION model.")
    frames, schemas = group_frames(services, version.body["datasetGroupArn"])
    job_filter = make_filter(services, record.body.get("filterArn"), frames, schemas, model.item_ids_,
                             user_ids=model.user_ids_)
    return Segments(model, by_attributes, job_filter, int(record.body["numResults"]))


def run(services: Services, job: Job, progress: Progress) -> None:
    """The batch-segment runner (jobs/runners.py)."""
    record = services.store.get(job.arn, SEGMENT_KIND)
    if record is None:
        return
    version = services.store.get(record.body["solutionVersionArn"], "solution-version")
    by_attributes = version is not None and catalogue.recipe(version.body["recipeArn"]).capabilities.segments == "attributes"
    run_batch(services, job, SEGMENT_KIND, progress, lambda r: _segments(services, r, by_attributes),
              check_file=_count_queries(by_attributes))
