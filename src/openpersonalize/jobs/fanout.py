"""A job's independent pieces — batch chunks, HPO trials, AutoML candidates — run in this process, or as Ray tasks.

Without a Ray address (``config.Settings.ray_address``: OPENPERSONALIZE_RAY_ADDRESS, RAY_ADDRESS or ``--ray-address``)
everything runs here, one piece after another, exactly as before. With one, each piece is a Ray task: the state the
pieces share (a model and its user index, a training split) is put in Ray's object store once and read by every
task, and results come back in submission order, so a job writes one output whatever ran where (issue 15).
``ray`` is the optional ``[ray]`` extra: it is imported only when an address is set.

Addresses are Ray's own: ``local`` starts a cluster inside this process on loopback (its workers are this machine's
cores; ``local:N`` gives it N), ``auto`` joins the cluster started on this machine by ``ray start --head``, ``ray://host:10001`` a remote one.
A process that has called ``ray.init`` itself (tests, benchmarks) is used as it is.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from ..config import Settings
from .base import JobFailed

Shared = TypeVar("Shared")
Piece = TypeVar("Piece")
Tag = TypeVar("Tag")
Result = TypeVar("Result")

log = logging.getLogger("openpersonalize.fanout")
IN_FLIGHT_PER_WORKER = 2  # streamed pieces submitted ahead per Ray CPU: workers never wait for the reader


@dataclass(frozen=True)
class Fanout:
    """Where pieces run: here (``address`` None) or on the Ray cluster at ``address``."""

    address: str | None = None

    @classmethod
    def of(cls, settings: Settings) -> Fanout:
        return cls(settings.ray_address or None)

    @property
    def remote(self) -> bool:
        return self.address is not None

    @property
    def width(self) -> int:
        """Pieces worth running at once: 1 here, the cluster's CPUs on Ray."""
        if not self.remote:
            return 1
        return max(1, int(self._ready().cluster_resources().get("CPU", 1)))

    def map(self, function: Callable[[Shared, Piece], Result], shared: Shared, pieces: Iterable[Piece]) -> list[Result]:
        """``[function(shared, piece) for piece in pieces]``, the pieces at once on Ray."""
        if not self.remote:
            return [function(shared, piece) for piece in pieces]
        ray, task = self._ready(), _task()
        handle = ray.put(shared)
        return list(ray.get([task.remote(function, handle, piece) for piece in pieces]))

    def stream(self, function: Callable[[Shared, Piece], Result], shared: Shared,
               pieces: Iterable[tuple[Piece, Tag]]) -> Iterator[tuple[Result, Tag]]:
        """(function(shared, piece), tag) in the pieces' order, reading pieces only as far ahead as workers need:
        a batch job's input is streamed, never held whole."""
        if not self.remote:
            yield from ((function(shared, piece), tag) for piece, tag in pieces)
            return
        ray, task = self._ready(), _task()
        handle, ahead = ray.put(shared), IN_FLIGHT_PER_WORKER * self.width
        pending: deque[tuple[Any, Tag]] = deque()
        for piece, tag in pieces:
            pending.append((task.remote(function, handle, piece), tag))
            if len(pending) >= ahead:
                reference, oldest = pending.popleft()
                yield ray.get(reference), oldest
        while pending:
            reference, oldest = pending.popleft()
            yield ray.get(reference), oldest

    def _ready(self) -> Any:
        assert self.address is not None  # only the remote paths call it
        connect(self.address)
        return _ray()


def _apply(function: Callable[[Any, Any], Any], shared: Any, piece: Any) -> Any:
    return function(shared, piece)


_REMOTE: dict[str, Any] = {}


def _task() -> Any:
    """``_apply`` as a Ray remote function, made once per process."""
    if "apply" not in _REMOTE:
        _REMOTE["apply"] = _ray().remote(_apply)
    return _REMOTE["apply"]


def connect(address: str) -> None:
    """Join (or, for ``local``, start) the Ray cluster, once per process."""
    ray = _ray()
    if ray.is_initialized():
        return
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING, "configure_logging": False}
    if address.split(":")[0] == "local":
        cpus = address.partition(":")[2]
        ray.init(num_cpus=int(cpus) if cpus else None, _node_ip_address="127.0.0.1", **quiet)
    else:
        ray.init(address=address, **quiet)
    log.info("Ray cluster %s joined: %s CPUs", address, ray.cluster_resources().get("CPU"))


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise JobFailed("A Ray address is configured (OPENPERSONALIZE_RAY_ADDRESS or RAY_ADDRESS) but Ray is not "
                        "installed; install the [ray] extra, or unset the address to run jobs in this process.") from None
    return ray
