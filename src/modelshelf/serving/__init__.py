"""``modelshelf serve``: one reference over HTTP, verified, swapped when it moves.

Speaks the scoring protocol of ``mlflow models serve`` (``POST /predict`` or
``/invocations`` with ``dataframe_split``, ``dataframe_records``,
``instances``, ``inputs`` or CSV; ``{"predictions": [...]}`` back), so its
clients work unchanged. Needs the ``serve`` extra (``pip install
'modelshelf[serve]'``: Starlette, uvicorn, pandas). Nothing outside this
package imports it, so ``import modelshelf`` never pays for a web framework.

>>> from modelshelf.serving import create_app               # doctest: +SKIP
>>> app = create_app(registry, "churn@champion")            # any ASGI server runs it
"""

from __future__ import annotations

from modelshelf.serving.app import create_app
from modelshelf.serving.server import DEFAULT_PORT, serve
from modelshelf.serving.swap import DEFAULT_POLL_INTERVAL, ModelSlot, ServedVersion, Switch

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_PORT",
    "ModelSlot",
    "ServedVersion",
    "Switch",
    "create_app",
    "serve",
]
