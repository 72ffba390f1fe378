"""Dataset storage: Parquet files under the data directory (the embedded default object store)."""

from __future__ import annotations

from pathlib import Path


class DataStore:
    """Where datasets, the event log and artifacts live for one deployment."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def dataset_dir(self, dataset_arn: str) -> Path:
        # ARNs contain ':' and '/', so the directory is keyed by a filesystem-safe form.
        safe = dataset_arn.split(":", 5)[-1].replace("/", "__")
        path = self.root / "datasets" / safe
        path.mkdir(parents=True, exist_ok=True)
        return path
