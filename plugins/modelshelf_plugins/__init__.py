"""The plugins that ship with modelshelf.

Each module registers through the ``modelshelf`` entry-point group exactly as
a third party's plugin would; the core never imports this package.
"""
