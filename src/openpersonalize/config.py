"""One settings object, read from the environment (``OPENPERSONALIZE_*``) and CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str = "") -> str:
    return os.environ.get(f"OPENPERSONALIZE_{name}", default)


def _parse_keys(text: str) -> dict[str, str]:
    """``AKID:secret,AKID2:secret2`` → {access key id: secret}."""
    keys: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key_id, _, secret = pair.partition(":")
        if not key_id or not secret:
            raise ValueError(f"OPENPERSONALIZE_ACCESS_KEYS entry {pair!r} is not AKID:secret")
        keys[key_id] = secret
    return keys


@dataclass
class Settings:
    """Everything a server or worker process needs to know about its deployment."""

    data_dir: Path = field(default_factory=lambda: Path(_env("DATA_DIR", "./var")))
    metadata_url: str = field(default_factory=lambda: _env("METADATA_URL"))
    account_id: str = field(default_factory=lambda: _env("ACCOUNT_ID", "123456789012"))
    default_region: str = field(default_factory=lambda: _env("REGION", "us-east-1"))
    access_keys: dict[str, str] = field(default_factory=lambda: _parse_keys(_env("ACCESS_KEYS")))
    # Personalize's minimum-data rules (1000 interactions, 25 users...) can be relaxed for tiny fixtures.
    relaxed_minimums: bool = field(default_factory=lambda: _env("RELAXED_MINIMUMS") == "1")
    worker_threads: int = field(default_factory=lambda: int(_env("WORKER_THREADS", "1")))
    # How often PutEvents metric-attribution reports are published (spec §2.11: 15-minute aggregates).
    attribution_report_seconds: float = field(default_factory=lambda: float(_env("ATTRIBUTION_REPORT_SECONDS", "900")))
    # A served model unused this long is dropped from memory; it reloads on its next request.
    model_idle_seconds: float = field(default_factory=lambda: float(_env("MODEL_IDLE_SECONDS", "900")))
    # Automatic updates of deployed User-Personalization models (new items and events, no new version).
    auto_update_seconds: float = field(default_factory=lambda: float(_env("AUTO_UPDATE_SECONDS", "7200")))
    # Semantic-Similarity's performIncrementalUpdate interval (AWS: about 30 minutes).
    incremental_update_seconds: float = field(default_factory=lambda: float(_env("INCREMENTAL_UPDATE_SECONDS", "1800")))
    # spec §2.7: recommenders retrain every 7 days while ACTIVE.
    recommender_retrain_days: float = field(default_factory=lambda: float(_env("RECOMMENDER_RETRAIN_DAYS", "7")))
    # How long a deleted resource stays visible as DELETE PENDING before its deletion job runs. AWS takes
    # minutes; clients poll a describe after the delete (AWS's clean-up notebooks break out of their wait
    # loops on the describe succeeding, or on ResourceNotFoundException), so both must be observable.
    delete_seconds: float = field(default_factory=lambda: float(_env("DELETE_SECONDS", "2")))
    # Quota overrides, e.g. OPENPERSONALIZE_QUOTA_ACTIVE_DATASET_GROUPS=50 (spec §11 defaults otherwise).
    quota_overrides: dict[str, int] = field(
        default_factory=lambda: {
            k.removeprefix("OPENPERSONALIZE_QUOTA_").lower(): int(v)
            for k, v in os.environ.items()
            if k.startswith("OPENPERSONALIZE_QUOTA_")
        }
    )

    @property
    def metadata_database_url(self) -> str:
        """SQLite file under the data dir unless a URL (e.g. PostgreSQL) is given."""
        return self.metadata_url or f"sqlite:///{(self.data_dir / 'metadata.sqlite3').resolve()}"

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
