"""The ``modelshelf`` command: every registry workflow from a shell.

Each command opens the registry named by ``--registry`` (or
``MODELSHELF_REGISTRY``, default ``data/models/registry``), does one thing
through the public Python API, and prints a table for people or, with
``--json``, JSON for programs. Errors are one line on stderr and an exit code
a script can branch on (see :data:`EXIT_CODES`); ``--debug`` shows the
traceback instead.

Only this package imports click and rich; ``import modelshelf`` stays cheap.
"""

from __future__ import annotations

from modelshelf.cli._core import (
    _BEFORE_KEY as _BEFORE_KEY,
)
from modelshelf.cli._core import (
    _COMMON as _COMMON,
)
from modelshelf.cli._core import (
    _COMMON_BEFORE as _COMMON_BEFORE,
)
from modelshelf.cli._core import (
    _COMMON_NAMES as _COMMON_NAMES,
)
from modelshelf.cli._core import (
    _DEBUG_KEY as _DEBUG_KEY,
)
from modelshelf.cli._core import (
    _JSON_KEY as _JSON_KEY,
)
from modelshelf.cli._core import (
    DEFAULT_REGISTRY as DEFAULT_REGISTRY,
)
from modelshelf.cli._core import (
    EXIT_BACKEND as EXIT_BACKEND,
)

# The group, its shared options and helpers live in _core and _helpers; the
# names are re-exported here because command modules, tests and scripts import
# them from ``modelshelf.cli``.
from modelshelf.cli._core import (
    EXIT_CODES as EXIT_CODES,
)
from modelshelf.cli._core import (
    EXIT_CONFLICT as EXIT_CONFLICT,
)
from modelshelf.cli._core import (
    EXIT_INTEGRITY as EXIT_INTEGRITY,
)
from modelshelf.cli._core import (
    EXIT_INTERRUPTED as EXIT_INTERRUPTED,
)
from modelshelf.cli._core import (
    EXIT_MISSING_CODE as EXIT_MISSING_CODE,
)
from modelshelf.cli._core import (
    EXIT_NOT_FOUND as EXIT_NOT_FOUND,
)
from modelshelf.cli._core import (
    EXIT_USAGE as EXIT_USAGE,
)
from modelshelf.cli._core import (
    EXIT_VETO as EXIT_VETO,
)
from modelshelf.cli._core import (
    Env as Env,
)
from modelshelf.cli._core import (
    Failure as Failure,
)
from modelshelf.cli._core import (
    ShelfGroup as ShelfGroup,
)
from modelshelf.cli._core import (
    _common_before as _common_before,
)
from modelshelf.cli._core import (
    _given_before as _given_before,
)
from modelshelf.cli._core import (
    _remember as _remember,
)
from modelshelf.cli._core import (
    _set_flag as _set_flag,
)
from modelshelf.cli._core import (
    _version as _version,
)
from modelshelf.cli._core import (
    _warnings_on_stderr as _warnings_on_stderr,
)
from modelshelf.cli._core import (
    cli as cli,
)
from modelshelf.cli._core import (
    exit_code_for as exit_code_for,
)
from modelshelf.cli._core import (
    main as main,
)
from modelshelf.cli._core import (
    shelf_command as shelf_command,
)
from modelshelf.cli._helpers import (
    _filter_options as _filter_options,
)
from modelshelf.cli._helpers import (
    _json_value as _json_value,
)
from modelshelf.cli._helpers import (
    _list_filters as _list_filters,
)
from modelshelf.cli._helpers import (
    _load_model_file as _load_model_file,
)
from modelshelf.cli._helpers import (
    _meta as _meta,
)
from modelshelf.cli._helpers import (
    _numbers as _numbers,
)
from modelshelf.cli._helpers import (
    _out as _out,
)
from modelshelf.cli._helpers import (
    _pairs as _pairs,
)
from modelshelf.cli._helpers import (
    _read_mapping as _read_mapping,
)
from modelshelf.cli._helpers import (
    _reference as _reference,
)
from modelshelf.cli._helpers import (
    _say as _say,
)
from modelshelf.cli._helpers import (
    _timestamp as _timestamp,
)

__all__ = ["EXIT_CODES", "cli", "exit_code_for", "main"]

# Importing the command modules registers their commands on ``cli``. They import
# from ``_core`` and ``_helpers``; the names above stay importable from here for
# code written against this package.
from modelshelf.cli import (  # noqa: F401
    browse,
    bundles,
    checkpoints,
    governance,
    lifecycle,
    migrate,
    predict,
    saving,
    serve,
    setup,
    storage,
    web,
)
