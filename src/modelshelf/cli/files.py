"""Files the command line writes for people: model files and prediction tables."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any


def write_model_file(model: Any, path: Path) -> Path:
    """Write ``model`` to ``path`` with joblib, atomically, creating missing folders.

    The registry verified the stored bytes before it unpickled them; what
    lands here is a fresh joblib file that ``joblib.load`` reads, whatever
    serializer the registry stores with.
    """
    import joblib

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            joblib.dump(model, stream)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
