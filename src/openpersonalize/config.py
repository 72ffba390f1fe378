"""One settings object, read from the environment (``OPENPERSONALIZE_*``) and CLI flags."""

from __future__ import annotations

import json
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


def _paths(text: str) -> tuple[Path, ...]:
    """An ``os.pathsep``-separated list of directories (empty entries ignored)."""
    return tuple(Path(p) for p in text.split(os.pathsep) if p.strip())


def _names(text: str) -> frozenset[str]:
    """A comma-separated list of host names, lower-cased."""
    return frozenset(n.strip().lower() for n in text.split(",") if n.strip())


def _deadlines(text: str) -> dict[str, float]:
    """``kind=seconds,...`` → {job kind: seconds} (OPENPERSONALIZE_JOB_DEADLINES)."""
    pairs = (p.strip().partition("=") for p in text.split(",") if p.strip())
    return {kind.strip(): float(seconds) for kind, _, seconds in pairs}


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _bytes(text: str) -> int | None:
    """``12G``, ``512M``, ``1.5T`` or a plain byte count → bytes (binary units; an ``iB``/``B`` tail is allowed);
    empty → None."""
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    if not text:
        return None
    number, unit = (text[:-1], text[-1]) if text[-1] in _UNITS else (text, "")
    try:
        value = float(number) * _UNITS[unit]
    except ValueError:
        raise ValueError(f"OPENPERSONALIZE_TRAINING_MEMORY {text!r} is not a size such as 12G, 512M or 1073741824") from None
    if value <= 0:
        raise ValueError(f"OPENPERSONALIZE_TRAINING_MEMORY must be positive; got {text!r}")
    return int(value)


def _roles(path: str) -> dict[str, dict[str, list[str]]] | None:
    """The roles file: ``{"<role ARN>": {"s3": ["s3://bucket/prefix/"], "local": ["/srv/data"]}}``."""
    if not path:
        return None
    with open(path, encoding="utf-8") as handle:
        roles = json.load(handle)
    if not isinstance(roles, dict) or not all(isinstance(v, dict) for v in roles.values()):
        raise ValueError(f"OPENPERSONALIZE_ROLES_FILE {path!r} must map role ARNs to {{\"s3\": [...], \"local\": [...]}}")
    return {arn: {"s3": list(g.get("s3", [])), "local": list(g.get("local", []))} for arn, g in roles.items()}


@dataclass
class Settings:
    """Everything a server or worker process needs to know about its deployment."""

    data_dir: Path = field(default_factory=lambda: Path(_env("DATA_DIR", "./var")))
    metadata_url: str = field(default_factory=lambda: _env("METADATA_URL"))
    # Datasets, model artifacts and job outputs: s3://bucket/prefix (endpoint and credentials from the standard
    # AWS settings, e.g. AWS_ENDPOINT_URL_S3), or empty for the data directory itself.
    object_store: str = field(default_factory=lambda: _env("OBJECT_STORE"))
    account_id: str = field(default_factory=lambda: _env("ACCOUNT_ID", "123456789012"))
    default_region: str = field(default_factory=lambda: _env("REGION", "us-east-1"))
    access_keys: dict[str, str] = field(default_factory=lambda: _parse_keys(_env("ACCESS_KEYS")))
    # Personalize's minimum-data rules (1000 interactions, 25 users...) can be relaxed for tiny fixtures.
    relaxed_minimums: bool = field(default_factory=lambda: _env("RELAXED_MINIMUMS") == "1")
    # Two job threads: one slow source (bounded by the HTTP deadline) cannot hold every other job back.
    worker_threads: int = field(default_factory=lambda: int(_env("WORKER_THREADS", "2")))
    # How often PutEvents metric-attribution reports are published (spec §2.11: 15-minute aggregates).
    attribution_report_seconds: float = field(default_factory=lambda: float(_env("ATTRIBUTION_REPORT_SECONDS", "900")))
    # A served model unused this long is dropped from memory; it reloads on its next request.
    model_idle_seconds: float = field(default_factory=lambda: float(_env("MODEL_IDLE_SECONDS", "900")))
    # Per served model: the best items of its known users, computed in the background after it loads, so a
    # first visit costs a filter over a short list instead of scoring the catalogue (0 turns it off). About
    # 2.2 kB a user: 512 MiB holds 240k users (at 256 MiB, 40 % of a 200k-user, 1M-item catalogue's first
    # visits were scored: 383 req/s against 4,259 with every user listed, bench/large_catalog.py).
    shortlist_bytes: int = field(default_factory=lambda: int(_env("SHORTLIST_BYTES", str(512 << 20))))
    # Users whose recent events (since the served snapshot) stay in memory per dataset group, least recently
    # used out first; an evicted user's events are read back from the event log on their next request.
    realtime_users: int = field(default_factory=lambda: int(_env("REALTIME_USERS", "100000")))
    # SQLAlchemy URL of the durable event log (e.g. PostgreSQL shared by several API nodes); empty: its own
    # SQLite file under the data dir (<data dir>/eventlog/events.sqlite3).
    events_url: str = field(default_factory=lambda: _env("EVENTS_URL"))
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
    # What jobs may read and write on the local disk (README "Security"); the default is the directory the
    # server was started in (its own data directory, /proc, /sys and /dev are refused whatever the setting).
    local_paths: tuple[Path, ...] = field(default_factory=lambda: _paths(_env("LOCAL_PATHS", os.getcwd())))
    # http(s) import and batch sources: off unless hosts are listed ("*": any public host).
    http_sources: frozenset[str] = field(default_factory=lambda: _names(_env("HTTP_SOURCES")))
    # Let listed HTTP hosts resolve to loopback/private addresses (an intranet source; never the default).
    http_allow_private: bool = field(default_factory=lambda: _env("HTTP_ALLOW_PRIVATE") == "1")
    http_max_bytes: int = field(default_factory=lambda: int(_env("HTTP_MAX_BYTES", str(1 << 30))))
    http_deadline_seconds: float = field(default_factory=lambda: float(_env("HTTP_DEADLINE_SECONDS", "300")))
    # Role ARN → the S3 prefixes and local roots its jobs may use (None: no roles file, roles are not checked).
    roles: dict[str, dict[str, list[str]]] | None = field(default_factory=lambda: _roles(_env("ROLES_FILE")))
    # Host header names answered when no access keys are set (DNS rebinding: a web page's host is refused).
    allowed_hosts: frozenset[str] = field(
        default_factory=lambda: _names(_env("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],::1"))
    )
    # Request caps, checked before anything is buffered (README "Security").
    max_body_bytes: int = field(default_factory=lambda: int(_env("MAX_BODY_BYTES", str(4 << 20))))
    # A CSV uploaded in the console streams to disk under the data directory (uploads/) up to this size.
    max_upload_bytes: int = field(default_factory=lambda: int(_env("MAX_UPLOAD_BYTES", str(1 << 30))))
    max_header_bytes: int = field(default_factory=lambda: int(_env("MAX_HEADER_BYTES", str(64 << 10))))
    # The request head, and then the body, must each arrive within this (slow-drip clients are cut off).
    request_seconds: float = field(default_factory=lambda: float(_env("REQUEST_SECONDS", "30")))
    # A job that runs longer fails at its next progress report, freeing its worker thread: the default, and
    # per job kind overrides ("train=28800,dataset_import=3600"; kinds as in jobs/runners.py).
    job_deadline_seconds: float = field(default_factory=lambda: float(_env("JOB_DEADLINE_SECONDS", str(4 * 3600))))
    job_deadlines: dict[str, float] = field(default_factory=lambda: _deadlines(_env("JOB_DEADLINES")))
    # A running job whose worker sent no heartbeat for this long is taken over by another worker (it died, or
    # lost the store); workers beat every 2 s. A dead worker on the same host is noticed at once, by its pid.
    job_lease_seconds: float = field(default_factory=lambda: float(_env("JOB_LEASE_SECONDS", "120")))
    # A training job whose estimated peak memory (data, working copies, item × item matrices) is above this
    # fails before fitting, with the estimate in its failureReason, instead of being killed by the kernel.
    training_memory: int | None = field(default_factory=lambda: _bytes(_env("TRAINING_MEMORY")))
    # Ray cluster for the fan-out of batch jobs, HPO trials and AutoML candidates (jobs/fanout.py): "local" (or
    # "local:N", N workers) starts one in-process, "auto" joins this machine's `ray start --head`,
    # "ray://host:10001" a remote one; empty: no Ray.
    ray_address: str = field(default_factory=lambda: _env("RAY_ADDRESS", os.environ.get("RAY_ADDRESS", "")))
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

    @property
    def upload_dir(self) -> Path:
        """Where the console keeps uploaded files; import jobs may read them (data/access.py)."""
        return self.data_dir / "uploads"

    def deadline_of(self, job_kind: str) -> float:
        return self.job_deadlines.get(job_kind, self.job_deadline_seconds)

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
