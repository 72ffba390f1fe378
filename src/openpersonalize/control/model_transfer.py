"""Models users own: export a trained solution version to a directory, import it into another deployment.

An export is the model's own files (``config.json`` + ``arrays.npz``, no pickles) plus ``version.json``:
the recipe, configuration and metrics of the version it came from. Importing registers it as a new ACTIVE
version of an existing solution with the same recipe.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ..errors import InvalidInputException, ResourceInUseException, ResourceNotFoundException
from . import arns
from .common import ACTIVE, new_record, pick
from .context import Services
from .solutions import KIND as SOLUTION_KIND
from .solutions import VERSION_KIND

MANIFEST = "version.json"
CARRIED = ("recipeArn", "solutionConfig", "eventType", "trainingMode", "tunedHPOParams", "trainingHours", "_metrics")


def export_model(services: Services, version_arn: str, target: Path) -> Path:
    """Copy an ACTIVE version's model and description into ``target`` (created; must be empty if it exists)."""
    version = services.store.require(version_arn, VERSION_KIND, "solution version")
    if version.status != ACTIVE:
        raise ResourceInUseException(f"Solution version {version_arn} is {version.status}; only ACTIVE versions can be exported.")
    if target.exists() and any(target.iterdir()):
        raise InvalidInputException(f"Export directory {target} is not empty.")
    try:
        services.data.artifacts.copy_out(version_arn, target)
    except FileNotFoundError as missing:  # e.g. the command was not given the servers' --object-store
        raise ResourceNotFoundException(str(missing)) from None
    manifest = {"format": "openpersonalize-model/1", "solutionVersionArn": version_arn, **pick(version.body, CARRIED)}
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return target


def import_model(services: Services, source: Path, solution_arn: str) -> str:
    """Register the exported model in ``source`` as a new ACTIVE version of ``solution_arn``."""
    manifest = _manifest(source)
    solution = services.store.require(solution_arn, SOLUTION_KIND, "solution")
    if solution.body["recipeArn"] != manifest["recipeArn"]:
        raise InvalidInputException(
            f"The model was trained with {manifest['recipeArn']} but solution {solution_arn} uses {solution.body['recipeArn']}."
        )
    arn = arns.solution_version_arn(solution_arn)
    with services.data.artifacts.publishing(arn) as folder:
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns(MANIFEST), dirs_exist_ok=True)
    body: dict[str, Any] = {
        **pick(solution.body, ("solutionArn", "datasetGroupArn", "performHPO", "performAutoML", "performIncrementalUpdate")),
        **pick(manifest, CARRIED),
        "solutionVersionArn": arn,
        "trainingType": "MANUAL",
        "status": ACTIVE,
    }
    services.store.create(new_record(VERSION_KIND, arn, arns.name_of(arn), solution_arn, body, {}))
    return arn


def _manifest(source: Path) -> dict[str, Any]:
    path = source / MANIFEST
    if not path.is_file():
        raise InvalidInputException(f"{source} is not an exported model: {MANIFEST} is missing.")
    manifest: dict[str, Any] = json.loads(path.read_text())
    if manifest.get("format") != "openpersonalize-model/1" or "recipeArn" not in manifest:
        raise InvalidInputException(f"{path} is not an OpenPersonalize model manifest.")
    return manifest
