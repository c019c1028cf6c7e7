"""``modelshelf ui``: a local web app to browse, compare and steer a registry.

Needs the ``ui`` extra (``pip install 'modelshelf[ui]'``: Starlette, uvicorn,
Jinja2). Nothing outside this package imports it, so ``import modelshelf``
never pays for a web framework.

>>> from modelshelf.ui import create_app          # doctest: +SKIP
>>> app = create_app(registry, allow_writes=True) # any ASGI server can run it
"""

from __future__ import annotations

from modelshelf.ui.app import DEFAULT_HOSTS, TOKEN_HEADER, create_app
from modelshelf.ui.server import serve

__all__ = ["DEFAULT_HOSTS", "TOKEN_HEADER", "create_app", "serve"]
