"""The default catalogs shipped inside the package (``catalogs/`` at the repository root,
force-included into the wheel as ``sporder_py/catalogs``)."""

from __future__ import annotations

import os

from ..errors import CatalogFileError
from ..formats import catalog_toml
from ..model import CatalogFile

DEFAULT_CATALOG = "windows-11"


def shipped_dir() -> str:
    package = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    inside = os.path.join(package, "catalogs")      # installed wheel: force-included package data
    if os.path.isdir(inside):
        return inside
    return os.path.join(os.path.dirname(package), "catalogs")   # source checkout


def shipped_names() -> list[str]:
    return sorted(n[:-5] for n in os.listdir(shipped_dir())
                  if n.endswith(".toml") and not n.startswith("."))


def shipped_path(name: str) -> str:
    path = os.path.join(shipped_dir(), f"{name}.toml")
    if os.sep in name or (os.altsep and os.altsep in name) or not os.path.isfile(path):
        raise CatalogFileError(f"there is no shipped catalog named {name!r} (shipped: "
                               f"{', '.join(shipped_names())}).", code="no-such-default")
    return path


def load_shipped(name: str = DEFAULT_CATALOG) -> CatalogFile:
    with open(shipped_path(name), "rb") as fh:      # our own file, inside the package
        return catalog_toml.decode(fh.read(), f"{name} (shipped)")[0]
