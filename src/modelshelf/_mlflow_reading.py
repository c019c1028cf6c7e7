"""Reading an MLflow registry: its client, its pages of results and its model files.

MLflow is imported here only when a migration runs. A downloaded model
directory becomes a file to copy byte for byte (a scikit-learn model MLflow
pickled or saved with skops) or one archive of the whole directory; nothing
is unpickled while reading.
"""

from __future__ import annotations

import hashlib
import os
import pickletools
import shutil
import tarfile
import warnings
import zipfile
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import frozen

from modelshelf._migration_report import (
    _CHUNK,
    DOWNLOAD_CACHE,
    MLFLOW_SERIALIZER,
    SKLEARN_FORMATS,
    MlflowMissingError,
)
from modelshelf.errors import (
    InvalidInputError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping


# -- reading MLflow ---------------------------------------------------------------------------


@contextmanager
def _quiet() -> Iterator[None]:
    """MLflow and SQLAlchemy warn about their own deprecations (stages, loader
    strategies) while we only read; a user migrating cannot act on them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            from sqlalchemy.exc import SADeprecationWarning

            warnings.simplefilter("ignore", SADeprecationWarning)
        except ImportError:  # pragma: no cover - http stores need no SQLAlchemy
            pass
        yield


@contextmanager
def _file_stores_allowed() -> Iterator[None]:
    """MLflow 3 refuses its file store (``./mlruns``) unless ``MLFLOW_ALLOW_FILE_STORE``
    is set; a migration only reads it, on its way out of that store."""
    previous = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["MLFLOW_ALLOW_FILE_STORE"]
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = previous


@contextmanager
def _process_tracking_uri(tracking_uri: str) -> Iterator[None]:
    """Point the process's MLflow tracking URI at the migrated store meanwhile.

    Parts of MLflow ignore the client they serve and open ``MlflowClient()``
    with the process's URI (the file registry store reading a version does):
    without this they would read, or create, ``./mlflow.db``. The previous
    URI is restored afterwards.
    """
    try:
        from mlflow.tracking._tracking_service import utils
    except ImportError as exc:
        raise MlflowMissingError() from exc
    use = getattr(utils, "_use_tracking_uri", None)
    if use is None:  # pragma: no cover - MLflow has had it since 1.x
        yield
        return
    with use(tracking_uri):
        yield


def _client(tracking_uri: str, registry_uri: str | None) -> Any:
    try:
        import mlflow
    except ImportError as exc:
        raise MlflowMissingError() from exc
    with _quiet():
        # MLflow 3 does not default the registry to a file tracking store: it would
        # open (and create) ./mlflow.db instead.
        return mlflow.MlflowClient(
            tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri
        )


def _paged(search: Callable[..., Any], **arguments: Any) -> Iterator[Any]:
    token = None
    while True:
        with _quiet():
            page = search(page_token=token, **arguments)
        yield from page
        token = getattr(page, "token", None)
        if not token:
            return


@frozen(kw_only=True)
class _Model:
    """One downloaded MLflow model, ready to be recorded."""

    file: Path
    serializer: str
    suffix: str
    sha256: str
    size: int
    model_type: str
    feature_names: tuple[str, ...]
    facts: dict[str, Any]


def _hash(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _pickled_class(path: Path) -> str:
    """The class a pickle starts with (``sklearn...LogisticRegression``), read from its
    opcodes without unpickling anything; empty if it does not say."""
    strings: list[str] = []
    try:
        with open(path, "rb") as stream:
            for opcode, argument, _ in pickletools.genops(stream):
                if opcode.name == "GLOBAL" and isinstance(argument, str):
                    return argument.replace(" ", ".")
                if opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                    return f"{strings[-2]}.{strings[-1]}"
                if isinstance(argument, str) and "UNICODE" in opcode.name:
                    strings.append(argument)
    except (ValueError, EOFError, OSError):
        return ""
    return ""


def _skops_class(path: Path) -> str:
    """The class a skops file holds, from its schema.json (no object is built)."""
    import json

    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return ""
    module, name = schema.get("__module__"), schema.get("__class__")
    return f"{module}.{name}" if isinstance(module, str) and isinstance(name, str) else ""


def _feature_names(mlmodel: Mapping[str, Any]) -> tuple[str, ...]:
    import json

    signature = mlmodel.get("signature") or {}
    try:
        inputs = json.loads(signature.get("inputs") or "[]")
    except (TypeError, ValueError):
        return ()
    names = [column.get("name") for column in inputs if isinstance(column, dict)]
    if names and all(isinstance(n, str) for n in names):
        return tuple(str(n) for n in names)
    return ()


def _archive(directory: Path, target: Path) -> None:
    """The MLflow directory as one tar, byte-identical for identical content."""

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(target, "w") as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and not path.is_symlink():
                archive.add(path, arcname=path.relative_to(directory).as_posix(), filter=clean)


def _prepare(directory: Path) -> _Model:
    """Choose what to store for a downloaded MLflow model directory."""
    import yaml

    mlmodel_path = directory / "MLmodel"
    if not mlmodel_path.is_file():
        raise InvalidInputError(f"{directory.name}: not an MLflow model (no MLmodel file)")
    mlmodel = yaml.safe_load(mlmodel_path.read_text()) or {}
    flavors = mlmodel.get("flavors") or {}
    sklearn = flavors.get("sklearn") or {}
    fmt = sklearn.get("serialization_format")
    facts: dict[str, Any] = {
        "flavors": sorted(flavors),
        "mlflow_version": str(mlmodel.get("mlflow_version", "")),
    }
    pickled = sklearn.get("pickled_model")
    if sklearn and fmt in SKLEARN_FORMATS and not sklearn.get("code") and pickled:
        file = directory / str(pickled)
        if not file.is_file() or file.parent != directory:
            raise InvalidInputError(f"MLmodel names {pickled!r}, which is not in the model")
        serializer = SKLEARN_FORMATS[str(fmt)]
        model_type = _skops_class(file) if fmt == "skops" else _pickled_class(file)
        facts.update(
            flavor="sklearn",
            serialization_format=fmt,
            sklearn_version=str(sklearn.get("sklearn_version", "")),
        )
        suffix = ".skops" if fmt == "skops" else ".pkl"
    else:
        file = directory.parent / f"{directory.name}.mlflow.tar"
        _archive(directory, file)
        serializer = MLFLOW_SERIALIZER
        pyfunc = flavors.get("python_function") or {}
        model_type = str(pyfunc.get("loader_module") or next(iter(flavors), "mlflow"))
        facts.update(flavor=next((f for f in flavors if f != "python_function"), "pyfunc"))
        suffix = ".tar"
    requirements = directory / "requirements.txt"
    if requirements.is_file():
        facts["requirements"] = [
            line.strip()
            for line in requirements.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
    sha256, size = _hash(file)
    return _Model(
        file=file,
        serializer=serializer,
        suffix=suffix,
        sha256=sha256,
        size=size,
        model_type=model_type.rsplit(".", 1)[-1] if model_type else "",
        feature_names=_feature_names(mlmodel),
        facts={**facts, "model_class": model_type},
    )


class _Downloads:
    """Model directories by download URI; the least recently used go first."""

    def __init__(self, client: Any, tracking_uri: str, root: Path) -> None:
        self.client = client
        self.tracking_uri = tracking_uri
        self.root = root
        self.kept: OrderedDict[str, tuple[Path, _Model]] = OrderedDict()
        self.count = 0

    def uri(self, version: Any) -> str:
        """Where MLflow keeps the version's model, worked out from its source.

        ``MlflowClient.get_model_version_download_uri`` would do it, but loads
        every version of the name on each call (MLflow 3), which makes a
        migration quadratic; and MLflow resolves a logged model (``models:/m-...``)
        with the process's default tracking URI, not the one migrated from.
        """
        source = str(version.source or "")
        with _quiet():
            if source.startswith("models:/m-"):
                model_id = source.removeprefix("models:/").split("/", 1)[0]
                return str(self.client.get_logged_model(model_id).artifact_location)
            if source.startswith("models:/") or not source:
                return str(
                    self.client.get_model_version_download_uri(version.name, str(version.version))
                )
        return source

    def get(self, version: Any) -> _Model:
        import mlflow.artifacts

        uri = self.uri(version)
        if uri in self.kept:
            self.kept.move_to_end(uri)
            return self.kept[uri][1]
        self.count += 1
        where = self.root / f"d{self.count}"
        where.mkdir()
        try:
            with _quiet():
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=uri, dst_path=str(where), tracking_uri=self.tracking_uri
                )
            model = _prepare(Path(local))
        except BaseException:
            shutil.rmtree(where, ignore_errors=True)
            raise
        self.kept[uri] = (where, model)
        while len(self.kept) > DOWNLOAD_CACHE:
            _, (old, _) = self.kept.popitem(last=False)
            shutil.rmtree(old, ignore_errors=True)
        return model
