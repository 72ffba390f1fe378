"""Where trained models live: one directory per solution version under the data directory."""

from __future__ import annotations

from pathlib import Path


def model_dir(root: Path, version_arn: str) -> Path:
    """``<root>/models/<solution>__<version>``; ARNs hold ':' and '/', so only the resource path is used."""
    safe = version_arn.split(":", 5)[-1].replace("/", "__")
    return root / "models" / safe
