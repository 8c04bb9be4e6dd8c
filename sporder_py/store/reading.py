"""Reading a catalog for the read commands: the file's bytes, its format detected from its
content, or the shipped default when the per-user file does not exist yet.  Readers never lock."""

from __future__ import annotations

import os
import stat
import sys

from .._record import Record, record
from ..errors import CatalogFileError
from ..formats import catalog_toml
from ..model import CatalogFile
from .limits import MAX_INPUT_BYTES
from .location import Location
from .shipped import DEFAULT_CATALOG, load_shipped


def read_bytes(path: str | os.PathLike[str], what: str = "catalog file") -> bytes:
    """The bytes of a regular file (after following links), at most ``MAX_INPUT_BYTES``.

    A FIFO, a device (``/dev/zero``), a socket or a directory is refused in one sentence
    instead of blocking or reading without end (issue 12, item 8): the file is opened
    non-blocking, checked with ``fstat`` on the open descriptor, and read up to the limit."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        hint = " (create it with 'sporder init')" if what == "catalog file" else ""
        raise CatalogFileError(f"{what} {path} does not exist{hint}.",
                               code="catalog-missing") from None
    except IsADirectoryError:
        raise CatalogFileError(f"{what} {path} is a directory, not a file.",
                               code="catalog-unreadable") from None
    except (OSError, ValueError) as exc:
        raise CatalogFileError(f"cannot read {what} {path}: "
                               f"{getattr(exc, 'strerror', None) or exc}.",
                               code="catalog-unreadable") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise CatalogFileError(f"{what} {path} is a directory, not a file.",
                                   code="catalog-unreadable")
        if not stat.S_ISREG(info.st_mode):
            raise CatalogFileError(f"{what} {path} is not a regular file (a "
                                   f"{_kind(info.st_mode)}); sporder reads only regular files.",
                                   code="catalog-unreadable")
        if info.st_size > MAX_INPUT_BYTES:
            raise _too_big(what, path)
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 24, MAX_INPUT_BYTES + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > MAX_INPUT_BYTES:       # it grew while being read
                raise _too_big(what, path)
        return b"".join(chunks)
    except OSError as exc:
        raise CatalogFileError(f"cannot read {what} {path}: {exc.strerror or exc}.",
                               code="catalog-unreadable") from None
    finally:
        os.close(fd)


def _too_big(what: str, path: str | os.PathLike[str]) -> CatalogFileError:
    return CatalogFileError(f"{what} {path} is larger than {MAX_INPUT_BYTES >> 20} MiB, the most "
                            "sporder reads.", code="catalog-too-large")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


@record()
class Loaded(Record):
    """A catalog read for a read command."""

    file: CatalogFile
    warnings: list[str]
    source: str            # what messages call it
    fmt: str               # "toml", "netsh", "reg", ... "live" or "shipped"
    exists: bool
    control_set: int | None = None     # the ControlSet00N read, for a SYSTEM hive

    def __init__(self, file: CatalogFile, warnings: list[str], source: str, fmt: str,
                 exists: bool, control_set: int | None = None) -> None:
        object.__setattr__(self, "file", file)
        object.__setattr__(self, "warnings", warnings)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "fmt", fmt)
        object.__setattr__(self, "exists", exists)
        object.__setattr__(self, "control_set", control_set)


def load_live() -> Loaded:
    """This Windows machine's catalog (read-only; CatalogFileError elsewhere)."""
    from ..formats import live
    f, warnings = live.read_live()
    return Loaded(f, warnings, f"live ({live.computer_name()})", "live", True)


def load_any(path: str, source: str, *, control_set: int | None = None,
             partial: bool = False, fmt: str | None = None,
             what: str = "catalog file", explicit_control_set: bool = True) -> Loaded:
    """A file in any format sporder reads (detected by content unless ``fmt`` says); a SYSTEM
    hive is read from the control set ``Select\\Current`` names, or ``control_set``."""
    data = read_bytes(path, what)
    if fmt is None and control_set is None and data.startswith(catalog_toml.HEADER.encode()):
        # sporder's own file, by its header line: no format detection to import (start-up)
        f, warnings = catalog_toml.decode(data, source)
        return Loaded(f, warnings, source, "toml", True)
    from ..formats import detect
    found = fmt or detect.sniff(data)
    if found != "hive" and not explicit_control_set:
        control_set = None      # --control-set is for hives (the catalog, or a file to import)
    if found == "hive":
        from ..formats import hive
        got = hive.read_hive_catalog(path, source, control_set)
        return Loaded(got.file, got.warnings,
                      f"{source} (ControlSet{got.control_set:03d}, chosen by {got.chosen_by})",
                      "hive", True, got.control_set)
    f, warnings, found = detect.parse(data, source, fmt=fmt, path=path, partial=partial,
                                      control_set=control_set)
    return Loaded(f, warnings, source, found, True)


def load(loc: Location, *, any_format: bool = False,
         control_set: int | None = None) -> Loaded:
    """Load for reading.  ``live`` reads the running Windows machine's registry.  The per-user
    default, when absent, falls back to the live catalog on Windows and to the shipped default
    elsewhere; with ``any_format`` the file may be in any format ``import`` reads (detected by
    content)."""
    if loc.live:
        return load_live()
    if loc.origin == "default" and not os.path.exists(loc.path):
        if sys.platform == "win32":      # pragma: no cover - exercised on Windows only
            return load_live()
        return Loaded(load_shipped(), [], f"{DEFAULT_CATALOG} (shipped)", "shipped", False)
    if any_format:       # the global --control-set may be meant for import/export, not this file
        return load_any(loc.path, loc.path, control_set=control_set,
                        explicit_control_set=False)
    data = read_bytes(loc.path)
    f, warnings = catalog_toml.decode(data, loc.path)
    return Loaded(f, warnings, loc.path, "toml", True)
