"""Where the shipped default catalogs live (``catalogs/`` at the repository root, force-included
into the wheel as ``sporder_py/catalogs``).  Only ``os.path``: usable from any layer (the store
loads them for ``init``/``reset``; ``known`` derives the well-known Microsoft providers from them).
"""

from __future__ import annotations

import os

from .errors import CatalogFileError
from .model import CatalogFile


def shipped_dir() -> str:
    package = os.path.dirname(os.path.realpath(__file__))
    inside = os.path.join(package, "catalogs")      # installed wheel: force-included package data
    if os.path.isdir(inside):
        return inside
    return os.path.join(os.path.dirname(package), "catalogs")   # source checkout


def shipped_names() -> list[str]:
    """The names of the shipped catalogs (file names without ``.toml``), sorted."""
    where = shipped_dir()
    try:
        names = os.listdir(where)
    except OSError as exc:
        raise CatalogFileError(f"cannot read the shipped catalogs in {where}: "
                               f"{exc.strerror or exc}.", code="catalog-unreadable") from None
    return sorted(n[:-5] for n in names if n.endswith(".toml") and not n.startswith("."))


def load_shipped_file(name: str) -> CatalogFile:
    """The shipped catalog ``name`` (a name ``shipped_names`` lists; our own file, trusted)."""
    from .formats.catalog_toml import decode
    with open(os.path.join(shipped_dir(), f"{name}.toml"), "rb") as fh:
        return decode(fh.read(), f"{name} (shipped)")[0]
