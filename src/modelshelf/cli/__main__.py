"""``python -m modelshelf.cli``: the same as the ``modelshelf`` command."""

from __future__ import annotations

from modelshelf.cli import main

if __name__ == "__main__":
    main()
