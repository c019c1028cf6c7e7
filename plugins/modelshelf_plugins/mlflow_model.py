"""mlflow: an MLflow model directory stored whole, loaded through ``mlflow.pyfunc``.

A migration from MLflow copies scikit-learn models as the bytes MLflow
pickled; every other flavour (and a model that ships its own code) keeps its
MLflow directory (``MLmodel``, the flavour's files, requirements) as one tar
archive, so nothing MLflow needs to load it is lost. Loading extracts the
archive into a temporary directory, removed when the loaded model is garbage
collected, and returns ``mlflow.pyfunc.load_model(directory)``: MLflow must
be installed where the model is loaded (``pip install 'modelshelf[mlflow]'``
plus the flavour's own library).

Saving accepts the path of an MLflow model directory (one holding an
``MLmodel`` file), e.g. what ``mlflow.pyfunc.save_model`` wrote::

    registry.save_model(Path("my_model"), "forecaster", serializer="mlflow")
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
import weakref
from pathlib import Path
from typing import IO, Any

from modelshelf import hookimpl
from modelshelf.protocols import Provider, Serializer


def _clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class MlflowModelSerializer:
    name = "mlflow"
    file_extension = ".tar"

    def dump(self, obj: Any, stream: IO[bytes]) -> None:
        """Archive the MLflow model directory ``obj`` names (same files, same bytes)."""
        if not isinstance(obj, (str, os.PathLike)) or not (Path(obj) / "MLmodel").is_file():
            raise TypeError(
                "the mlflow serializer stores an MLflow model directory: pass the path of "
                f"a directory holding an MLmodel file, not {type(obj).__name__}"
            )
        root = Path(obj)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for path in sorted(root.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    archive.add(path, arcname=path.relative_to(root).as_posix(), filter=_clean)
        stream.write(buffer.getvalue())

    def load(self, stream: IO[bytes]) -> Any:
        import mlflow.pyfunc  # ImportError here: the registry says MLflow is missing

        directory = tempfile.mkdtemp(prefix="modelshelf-mlflow-")
        try:
            with tarfile.open(fileobj=stream, mode="r:") as archive:
                # The archive's bytes were checked against the record before this
                # runs; links and paths that would leave the directory are still refused.
                members = archive.getmembers()
                for member in members:
                    target = Path(directory, member.name).resolve()
                    if not (member.isfile() or member.isdir()) or not target.is_relative_to(
                        Path(directory).resolve()
                    ):
                        raise ValueError(f"unsafe member {member.name!r} in the archive")
                archive.extractall(directory, members=members)
            model = mlflow.pyfunc.load_model(directory)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        weakref.finalize(model, shutil.rmtree, directory, True)
        return model


def _create() -> Serializer:
    return MlflowModelSerializer()


@hookimpl
def modelshelf_serializers() -> list[Provider[Serializer]]:
    return [
        Provider(
            name="mlflow",
            factory=_create,
            description="an MLflow model directory, loaded with mlflow.pyfunc "
            "(needs modelshelf[mlflow])",
            capabilities={"mlflow"},
        )
    ]
