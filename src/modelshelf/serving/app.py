"""The scoring app behind ``modelshelf serve``: one reference, over HTTP.

:func:`create_app` returns a plain Starlette application: ``modelshelf serve``
runs it under uvicorn, and any ASGI server can run it or mount it. Routes:

- ``POST /predict`` (and ``POST /invocations``, the path MLflow's clients
  call): a body in any of MLflow's input formats (see
  :mod:`modelshelf.serving.inputs`), answered with ``{"predictions": [...]}``.
  ``?proba=1`` (or ``"params": {"proba": true}``) answers with
  ``predict_proba`` instead, plus ``"classes"``.
- ``GET /health`` (and ``GET /ping``): 200 while a verified version is loaded.
- ``GET /metadata``: the version answering now, when it was loaded, and the
  switches so far.

Every answer from ``/predict`` names the version that computed it in the
``X-Modelshelf-Model-Id`` and ``X-Modelshelf-Version`` headers. Parsing and
predicting run on Starlette's thread pool, so a slow model never blocks the
event loop; the watcher that follows the reference runs in its own thread
(see :mod:`modelshelf.serving.swap`) from start-up to shutdown.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Route

from modelshelf.errors import InvalidInputError
from modelshelf.serving.inputs import (
    BodyTooLargeError,
    InvalidRequestError,
    parse_body,
    to_jsonable,
)
from modelshelf.serving.swap import DEFAULT_POLL_INTERVAL, ModelSlot, ServedVersion, logger

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request

    from modelshelf.registry import ModelRegistry

__all__ = ["MAX_BODY_BYTES", "MODEL_ID_HEADER", "VERSION_HEADER", "create_app"]

#: A body larger than this is refused with 413 before it is parsed.
MAX_BODY_BYTES = 64 * 1024 * 1024
MODEL_ID_HEADER = "X-Modelshelf-Model-Id"
VERSION_HEADER = "X-Modelshelf-Version"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def create_app(
    registry: ModelRegistry,
    reference: int | str,
    *,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    watch: bool = True,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Starlette:
    """The scoring app for ``reference``, its version loaded and verified now.

    Loading happens here, before any server starts, so a reference that names
    nothing or a version whose bytes or signature fail raises at once and
    nothing is served. The watcher starts with the app's lifespan and stops
    with it; ``app.state.slot`` is the :class:`~modelshelf.serving.swap.ModelSlot`.

    :param registry: the registry the reference lives in; after this call only
        the watcher thread uses it.
    :param reference: ``name@alias``, ``name/Stage``, ``name``, ``name:version``
        or a model id.
    :param poll_interval: seconds between two look-ups of the reference.
    :param watch: follow the reference while serving (``False``: serve this
        version until restarted).
    :raises ModelNotFoundError: the reference names no version.
    :raises IntegrityError: the version's bytes or signature do not match its record.
    """
    slot = ModelSlot(registry, reference, poll_interval=poll_interval)
    slot.load()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if watch:
            slot.start()
        try:
            yield
        finally:
            slot.stop()

    async def predict(request: Request) -> JSONResponse:
        served = slot.current  # read once: this request finishes on this version
        try:
            proba = _flag(request.query_params.get("proba", ""), "proba")
            body = await _body(request, max_body_bytes)
            answer = await run_in_threadpool(
                _answer, served, body, request.headers.get("content-type"), proba
            )
        except InvalidInputError as exc:
            status = exc.status if isinstance(exc, InvalidRequestError) else 400
            return _error(status, "BAD_REQUEST", str(exc))
        except Exception as exc:
            logger.exception("predicting with %s failed", served.metadata.reference)
            return _error(500, "INTERNAL_ERROR", f"the model failed: {type(exc).__name__}: {exc}")
        return JSONResponse(answer, headers=_headers(served))

    async def health(request: Request) -> JSONResponse:
        served = slot.current
        return JSONResponse(
            {
                "status": "ok",
                "model_id": served.metadata.model_id,
                "version": served.metadata.version,
            },
            headers=_headers(served),
        )

    async def metadata(request: Request) -> JSONResponse:
        served = slot.current
        return JSONResponse(describe(slot, served), headers=_headers(served))

    app = Starlette(
        routes=[
            Route("/predict", predict, methods=["POST"]),
            Route("/invocations", predict, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/ping", health, methods=["GET"]),
            Route("/metadata", metadata, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.slot = slot
    return app


def describe(slot: ModelSlot, served: ServedVersion) -> dict[str, Any]:
    """What ``/metadata`` answers: the version serving now and the watcher's state."""
    meta = served.metadata
    return {
        "reference": str(slot.reference),
        "model_id": meta.model_id,
        "name": meta.model_name,
        "version": meta.version,
        "stage": meta.stage.value,
        "aliases": list(meta.aliases),
        "model_type": meta.model_type,
        "sha256": meta.artifact.sha256,
        "signed": meta.artifact.signature is not None,
        "metrics": dict(meta.metrics),
        "feature_names": list(meta.feature_names),
        "created_at": meta.created_at.isoformat(),
        "loaded_at": served.loaded_at.isoformat(),
        "switches": [switch.as_dict() for switch in slot.switches],
        "watch": {
            "poll_interval": slot.poll_interval,
            "last_check": slot.last_check.isoformat() if slot.last_check else None,
            "last_error": slot.last_error,
        },
    }


def _answer(served: ServedVersion, body: bytes, content_type: str | None, proba: bool) -> Any:
    parsed = parse_body(body, content_type)
    params = parsed.params or {}
    if "proba" in params:
        if not isinstance(params["proba"], bool):
            raise InvalidRequestError("params.proba must be true or false")
        proba = proba or params["proba"]
    # LoadedModel checks the rows against the signature, runs the preprocessing
    # steps, then the model; what it refuses is an InvalidInputError (a 400).
    loaded = served.loaded
    predictions = loaded.predict_proba(parsed.rows) if proba else loaded.predict(parsed.rows)
    answer = {"predictions": to_jsonable(predictions)}
    if proba:
        classes = getattr(served.loaded.model, "classes_", None)
        if classes is not None:
            answer["classes"] = to_jsonable(classes)
    return answer


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    too_big = BodyTooLargeError(f"the body is larger than {limit} bytes")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _flag(value: str, name: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InvalidRequestError(f"{name}={value!r}: give 1 or 0 (true or false)")


def _headers(served: ServedVersion) -> dict[str, str]:
    return {
        MODEL_ID_HEADER: str(served.metadata.model_id),
        VERSION_HEADER: served.metadata.version,
    }


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error_code": code, "message": message}, status_code=status)
