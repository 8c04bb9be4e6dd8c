"""The default catalogs shipped inside the package, by name (found by ``shipped_data``)."""

from __future__ import annotations

import os

from ..errors import CatalogFileError
from ..model import CatalogFile
from ..shipped_data import load_shipped_file, shipped_dir, shipped_names

__all__ = ["DEFAULT_CATALOG", "load_shipped", "shipped_dir", "shipped_names", "shipped_path"]

DEFAULT_CATALOG = "windows-11"


def shipped_path(name: str) -> str:
    path = os.path.join(shipped_dir(), f"{name}.toml")
    if os.sep in name or (os.altsep and os.altsep in name) or not os.path.isfile(path):
        raise CatalogFileError(f"there is no shipped catalog named {name!r} (shipped: "
                               f"{', '.join(shipped_names())}).", code="no-such-default")
    return path


def load_shipped(name: str = DEFAULT_CATALOG) -> CatalogFile:
    shipped_path(name)                  # one sentence for an unknown name
    return load_shipped_file(name)
