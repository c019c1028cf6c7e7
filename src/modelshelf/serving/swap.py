"""The version a server answers with, and the watcher that moves it.

A :class:`ModelSlot` holds one verified :class:`ServedVersion` behind a plain
attribute. A request reads that attribute once and keeps the object for its
whole life, so replacing it is atomic: requests in flight finish on the
version they started with, the next one gets the new version, and none sees
half of each.

The watcher is one background thread that resolves the reference every
``poll_interval`` seconds. When it names another version, the thread loads
it through ``registry.load`` (bytes checked against the recorded sha256, and
the signature when a signing key is set) while the old version keeps
answering, then swaps. A version that fails is logged as an error and the old
one keeps serving. After the first load only this thread touches the
registry, so every store works unchanged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from attrs import evolve, frozen

from modelshelf.errors import InvalidInputError, ModelShelfError
from modelshelf.registry import LoadedModel

if TYPE_CHECKING:
    from modelshelf.metadata import ModelMetadata
    from modelshelf.registry import ModelRegistry

__all__ = ["DEFAULT_POLL_INTERVAL", "ModelSlot", "ServedVersion", "Switch", "logger"]

logger = logging.getLogger("modelshelf.serve")

DEFAULT_POLL_INTERVAL = 2.0
#: A version that failed to load is tried again after this many seconds, not
#: on every poll: reading a large damaged file every two seconds helps nobody.
RETRY_FAILED_SECONDS = 60.0
#: How many switches ``/metadata`` remembers.
SWITCHES_KEPT = 20


def _now() -> datetime:
    return datetime.now(timezone.utc)


@frozen(kw_only=True)
class ServedVersion:
    """One verified version, loaded, and when it began to answer."""

    loaded: LoadedModel
    loaded_at: datetime

    @property
    def metadata(self) -> ModelMetadata:
        return self.loaded.metadata


@frozen(kw_only=True)
class Switch:
    """The server moved from one version to another."""

    at: datetime
    from_model_id: int
    from_version: str
    to_model_id: int
    to_version: str
    seconds: float  # spent loading and verifying the new version

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "from": {"model_id": self.from_model_id, "version": self.from_version},
            "to": {"model_id": self.to_model_id, "version": self.to_version},
            "load_seconds": round(self.seconds, 3),
        }


def _key(metadata: ModelMetadata) -> tuple[int, str]:
    """What makes a version another one: its id, and the bytes it records."""
    return metadata.model_id, metadata.artifact.sha256


def _label(metadata: ModelMetadata) -> str:
    return f"{metadata.reference} (model id {metadata.model_id})"


class ModelSlot:
    """Serves the version ``reference`` names and follows it when it moves.

    :param registry: where the versions live; after :meth:`load`, only the
        watcher thread uses it.
    :param reference: ``name@alias``, ``name/Stage``, ``name``, ``name:version``
        or a model id.
    :param poll_interval: seconds between two look-ups of the reference.
    """

    def __init__(
        self,
        registry: ModelRegistry,
        reference: int | str,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> None:
        if isinstance(poll_interval, bool) or not (
            isinstance(poll_interval, (int, float)) and 0 < poll_interval < float("inf")
        ):
            raise InvalidInputError(
                f"poll_interval: must be a number of seconds > 0, got {poll_interval!r}"
            )
        self.registry = registry
        self.reference = reference
        self.poll_interval = float(poll_interval)
        self._current: ServedVersion | None = None
        self._switches: deque[Switch] = deque(maxlen=SWITCHES_KEPT)
        self._failed: dict[tuple[int, str], float] = {}
        self._lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._check_lock = threading.Lock()
        #: When the watcher last resolved the reference, and what went wrong then.
        self.last_check: datetime | None = None
        self.last_error: str | None = None

    # -- what requests read ---------------------------------------------------------------

    @property
    def current(self) -> ServedVersion:
        """The version answering now. Read it once per request and keep it."""
        served = self._current
        if served is None:
            raise RuntimeError("no version is loaded yet: call load() first")
        return served

    @property
    def ready(self) -> bool:
        return self._current is not None

    @property
    def switches(self) -> list[Switch]:
        """The most recent switches, oldest first."""
        return list(self._switches)

    # -- loading and swapping ---------------------------------------------------------------

    def load(self) -> ServedVersion:
        """Load and verify the version the reference names now; raises on any failure.

        :raises ModelNotFoundError: the reference names no version.
        :raises IntegrityError: its bytes or signature do not match the record.
        """
        loaded = self.registry.load(self.reference)
        served = ServedVersion(loaded=loaded, loaded_at=_now())
        self._current = served
        self.last_check = served.loaded_at
        logger.info("serving %s: %s", self.reference, _label(loaded.metadata))
        return served

    def check(self) -> bool:
        """Resolve the reference once; switch if it names another version.

        What the watcher calls every ``poll_interval``; call it directly to
        follow a move at once. Returns whether the served version changed.
        Never raises for a store or a version that fails: it logs, records
        ``last_error``, and the current version keeps serving.
        """
        with self._check_lock:
            try:
                return self._check()
            except ModelShelfError as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                logger.error("cannot resolve %s: %s", self.reference, self.last_error)
                return False

    def _check(self) -> bool:
        served = self.current
        self.last_check = _now()
        try:
            metadata = self.registry.get_metadata(self.reference)
        except LookupError as exc:
            if not self._lost:
                logger.warning(
                    "%s names no version now (%s); still serving %s",
                    self.reference,
                    exc,
                    _label(served.metadata),
                )
            self._lost = True
            self.last_error = f"{type(exc).__name__}: {exc}"
            return False
        self._lost = False
        key = _key(metadata)
        if key == _key(served.metadata):
            self.last_error = None
            if metadata != served.metadata:
                # Same version, new stage, aliases or metrics: /metadata says so.
                self._current = evolve(served, loaded=evolve(served.loaded, metadata=metadata))
            return False
        failed_at = self._failed.get(key)
        if failed_at is not None and time.monotonic() - failed_at < RETRY_FAILED_SECONDS:
            return False
        return self._switch(served, metadata)

    def _switch(self, served: ServedVersion, metadata: ModelMetadata) -> bool:
        started = time.monotonic()
        try:
            loaded = self.registry.load(metadata.model_id)
        except Exception as exc:  # unpickling runs the model's own code: anything can fail
            self._failed[_key(metadata)] = time.monotonic()
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.error(
                "%s now names %s, which failed to load (%s); still serving %s",
                self.reference,
                _label(metadata),
                self.last_error,
                _label(served.metadata),
            )
            return False
        seconds = time.monotonic() - started
        self._failed.pop(_key(metadata), None)
        new = ServedVersion(loaded=loaded, loaded_at=_now())
        self._current = new  # the swap: one reference assignment
        self.last_error = None
        switch = Switch(
            at=new.loaded_at,
            from_model_id=served.metadata.model_id,
            from_version=served.metadata.version,
            to_model_id=loaded.metadata.model_id,
            to_version=loaded.metadata.version,
            seconds=seconds,
        )
        self._switches.append(switch)
        logger.info(
            "%s moved: switched from %s to %s (loaded and verified in %.2f s)",
            self.reference,
            _label(served.metadata),
            _label(loaded.metadata),
            seconds,
        )
        return True

    # -- the watcher thread -------------------------------------------------------------------

    def start(self) -> None:
        """Start watching the reference in a daemon thread (once)."""
        if self._thread is not None:
            return
        if self._current is None:
            raise RuntimeError("nothing to watch yet: call load() first")
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._watch, name="modelshelf-serve-watcher", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the watcher and wait for it (a load in progress finishes first)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.check()
            except Exception:  # the watcher must outlive any one failure
                logger.exception("watching %s failed; trying again", self.reference)
