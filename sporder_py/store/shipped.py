"""The default catalogs shipped inside the package, by name (found by ``shipped_data``)."""

from __future__ import annotations

import os

from ..errors import CatalogFileError
from ..formats import catalog_toml
from ..model import CatalogFile
from ..shipped_data import shipped_dir, shipped_names

__all__ = ["DEFAULT_CATALOG", "load_shipped", "shipped_dir", "shipped_names", "shipped_path"]

DEFAULT_CATALOG = "windows-11"


def shipped_path(name: str) -> str:
    path = os.path.join(shipped_dir(), f"{name}.toml")
    if os.sep in name or (os.altsep and os.altsep in name) or not os.path.isfile(path):
        raise CatalogFileError(f"there is no shipped catalog named {name!r} (shipped: "
                               f"{', '.join(shipped_names())}).", code="no-such-default")
    return path


def load_shipped(name: str = DEFAULT_CATALOG) -> CatalogFile:
    with open(shipped_path(name), "rb") as fh:      # our own file, inside the package
        return catalog_toml.decode(fh.read(), f"{name} (shipped)")[0]
