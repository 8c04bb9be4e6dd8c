"""Reading a catalog for the read commands: the file's bytes, its format detected from its
content, or the shipped default when the per-user file does not exist yet.  Readers never lock."""

from __future__ import annotations

import os

from .._record import Record, record
from ..errors import CatalogFileError
from ..formats import catalog_toml
from ..model import CatalogFile
from .location import Location
from .shipped import DEFAULT_CATALOG, load_shipped


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise CatalogFileError(f"catalog file {path} does not exist (create it with "
                               "'sporder init').", code="catalog-missing") from None
    except IsADirectoryError:
        raise CatalogFileError(f"catalog path {path} is a directory, not a file.",
                               code="catalog-unreadable") from None
    except OSError as exc:
        raise CatalogFileError(f"cannot read catalog file {path}: {exc.strerror or exc}.",
                               code="catalog-unreadable") from None


@record()
class Loaded(Record):
    """A catalog read for a read command."""

    file: CatalogFile
    warnings: list[str]
    source: str            # what messages call it
    fmt: str               # "toml", "netsh", "reg", ... or "shipped"
    exists: bool

    def __init__(self, file: CatalogFile, warnings: list[str], source: str, fmt: str,
                 exists: bool) -> None:
        object.__setattr__(self, "file", file)
        object.__setattr__(self, "warnings", warnings)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "fmt", fmt)
        object.__setattr__(self, "exists", exists)


def load(loc: Location, *, any_format: bool = False) -> Loaded:
    """Load for reading.  The per-user default falls back to the shipped default when absent;
    with ``any_format`` the file may be in any format ``import`` reads (detected by content)."""
    if loc.origin == "default" and not os.path.exists(loc.path):
        return Loaded(load_shipped(), [], f"{DEFAULT_CATALOG} (shipped)", "shipped", False)
    data = read_bytes(loc.path)
    if any_format:
        from ..formats import detect
        f, warnings, fmt = detect.parse(data, loc.path, path=loc.path)
        return Loaded(f, warnings, loc.path, fmt, True)
    f, warnings = catalog_toml.decode(data, loc.path)
    return Loaded(f, warnings, loc.path, "toml", True)
