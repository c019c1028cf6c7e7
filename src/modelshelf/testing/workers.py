"""Child processes for the store suite: a deadline on every step, every failure reported.

A multiprocess test can go wrong in ways that hang a plain
``Pool.starmap``: a store that cannot be opened in a child blocks forever,
and an exception that pickles but cannot be unpickled kills the pool's
result thread, so the parent waits for a result that never comes. Here
each child reports exactly one outcome through a queue (its result, or the
traceback of what it raised, as text when the error itself would not
survive the trip), and the parent waits for each step against one
deadline, then terminates whatever is left and says what was missing.

Nothing here needs pytest or Hypothesis; failures are ``WorkerError``, an
``AssertionError``, so a test reports them as failures with the message.
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any

from modelshelf.errors import DuplicateVersionError
from modelshelf.metadata import Stage
from modelshelf.testing.reference import ReferenceScheme, change_stage, make_draft

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from multiprocessing.synchronize import Barrier

    from modelshelf.protocols import MetadataStore


class WorkerError(AssertionError):
    """A worker process failed, hung, or sent back something the parent cannot read."""


def _child(
    index: int,
    opener: Callable[[], MetadataStore],
    job: Callable[..., Any],
    args: tuple[Any, ...],
    ready: Barrier,
    results: multiprocessing.Queue[tuple[str, int, Any]],
    timeout: float,
) -> None:
    """One worker: open the store, wait for the others, run ``job``, report once."""
    try:
        store = opener()
    except BaseException as exc:
        ready.abort()  # wake the parent now instead of at its deadline
        results.put(("error", index, "opening the store failed:\n" + _describe(exc)))
        return
    try:
        ready.wait(timeout)
        outcome = job(store, *args)
    except BaseException as exc:
        results.put(("error", index, _describe(exc)))
        return
    finally:
        store.close()
    try:
        payload = pickle.dumps(outcome)
        pickle.loads(payload)
    except BaseException as exc:
        results.put(
            (
                "error",
                index,
                f"the worker's result {outcome!r} cannot be sent back to the parent: it does "
                "not survive pickle.dumps/pickle.loads (an error class whose __init__ takes "
                "other arguments than its message, or an attribute such as a connection?)\n"
                + _describe(exc),
            )
        )
        return
    results.put(("ok", index, payload))


def _describe(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def run_workers(
    opener: Callable[[], MetadataStore],
    job: Callable[..., Any],
    calls: Sequence[tuple[Any, ...]],
    *,
    timeout: float,
    watch: Callable[[], None] | None = None,
) -> list[Any]:
    """Run ``job(store, *args)`` for each of ``calls``, each in its own process.

    Each child opens the store with ``opener``; all start their job together
    (a barrier), so their work overlaps. While they run, the parent calls
    ``watch()`` again and again (a reader checking an invariant; it raises
    to fail). Returns the jobs' results in call order. Raises
    :class:`WorkerError` when a child fails, or when the children do not all
    finish within ``timeout`` seconds; no child outlives the call.
    """
    context = multiprocessing.get_context("spawn")
    count = len(calls)
    ready = context.Barrier(count + 1)
    results: multiprocessing.Queue[tuple[str, int, Any]] = context.Queue()
    processes = [
        context.Process(
            target=_child,
            args=(index, opener, job, args, ready, results, timeout),
            name=f"modelshelf-suite-worker-{index}",
            daemon=True,
        )
        for index, args in enumerate(calls)
    ]
    deadline = time.monotonic() + timeout
    outcomes: dict[int, Any] = {}
    finished = False
    try:
        for process in processes:
            process.start()
        try:
            ready.wait(max(0.0, deadline - time.monotonic()))
        except threading.BrokenBarrierError:
            errors = _drain(results, wait=min(2.0, max(0.1, deadline - time.monotonic())))
            if errors:
                raise WorkerError("a worker process failed:\n" + "\n".join(errors)) from None
            raise WorkerError(
                f"the {count} worker processes did not all open the store within {timeout} s; "
                "does opening a second connection wait for the first one (an exclusive lock "
                "held for the store's lifetime)?"
            ) from None
        while len(outcomes) < count:
            if watch is not None:
                watch()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                missing = sorted(set(range(count)) - set(outcomes))
                raise WorkerError(
                    f"worker processes {missing} did not finish within {timeout} s "
                    f"({len(outcomes)} of {count} did); a worker is waiting for a lock "
                    "nobody releases, or for a result it cannot read"
                )
            try:
                status, index, payload = results.get(
                    timeout=0.01 if watch is not None else min(remaining, 1.0)
                )
            except queue.Empty:
                _check_alive(processes, outcomes, results)
                continue
            if status != "ok":
                raise WorkerError(f"worker process {index} failed:\n{payload}")
            try:
                outcomes[index] = pickle.loads(payload)
            except Exception as exc:
                raise WorkerError(
                    f"worker process {index}'s result cannot be unpickled in the parent: "
                    + _describe(exc)
                ) from exc
        if watch is not None:
            watch()
        finished = True
        return [outcomes[index] for index in range(count)]
    finally:
        _stop(processes, grace=2.0 if finished else 0.0)
        results.cancel_join_thread()
        results.close()


def _drain(results: multiprocessing.Queue[tuple[str, int, Any]], *, wait: float) -> list[str]:
    """The error reports that arrive within ``wait`` seconds."""
    errors: list[str] = []
    end = time.monotonic() + wait
    while True:
        try:
            status, index, payload = results.get(timeout=max(0.01, end - time.monotonic()))
        except queue.Empty:
            return errors
        if status != "ok":
            errors.append(f"worker process {index}: {payload}")


def _check_alive(
    processes: Sequence[multiprocessing.process.BaseProcess],
    outcomes: dict[int, Any],
    results: multiprocessing.Queue[tuple[str, int, Any]],
) -> None:
    """Fail at once for a child that died without reporting (killed, ``os._exit``)."""
    for index, process in enumerate(processes):
        if index in outcomes or process.exitcode is None:
            continue
        # Its report may still be in the pipe: a child exits after flushing it.
        try:
            status, reported, payload = results.get(timeout=1.0)
        except queue.Empty:
            raise WorkerError(
                f"worker process {index} exited with code {process.exitcode} "
                "without reporting a result"
            ) from None
        if status != "ok":
            raise WorkerError(f"worker process {reported} failed:\n{payload}")
        outcomes[reported] = pickle.loads(payload)


def _stop(processes: Sequence[multiprocessing.process.BaseProcess], *, grace: float) -> None:
    """Let finished children exit for up to ``grace`` seconds, then end the rest."""
    started = [process for process in processes if process.pid is not None]
    end = time.monotonic() + grace
    for process in started:
        process.join(max(0.0, end - time.monotonic()))
    for process in started:
        if process.is_alive():
            process.terminate()
    for process in started:
        process.join(timeout=2.0)
        if process.is_alive():
            process.kill()
            process.join(timeout=2.0)


# -- the jobs -------------------------------------------------------------------------


def add_versions_and_a_duplicate(
    store: MetadataStore, model_name: str, count: int
) -> tuple[list[str], DuplicateVersionError | None]:
    """Add ``count`` automatic versions, then ask again for the first of them.

    Returns the versions and the error the duplicate raised (None if it did
    not), so the parent can check the error arrived whole across processes.
    """
    scheme = ReferenceScheme()
    versions = [store.add(make_draft(model_name), scheme).version for _ in range(count)]
    try:
        store.add(make_draft(model_name, requested_version=versions[0]), scheme)
    except DuplicateVersionError as exc:
        return versions, exc
    return versions, None


def promote_in_turn(store: MetadataStore, model_ids: Sequence[int], rounds: int, actor: str) -> int:
    """Promote each version to Production (archiving the others), ``rounds`` times."""
    done = 0
    for _ in range(rounds):
        for model_id in model_ids:
            changed = change_stage(
                store, model_id, Stage.PRODUCTION, archive_others=True, actor=actor, reason="race"
            )
            if not changed or changed[0].model_id != model_id:
                raise AssertionError(f"change_stage({model_id}) returned {changed!r}")
            done += 1
    return done


__all__ = ["WorkerError", "add_versions_and_a_duplicate", "promote_in_turn", "run_workers"]
