"""Where the catalog file is: ``--catalog`` > ``SPORDER_CATALOG`` > the per-user data file.

The per-user file is ``$XDG_DATA_HOME/sporder/catalog.toml`` (``~/.local/share/...`` when unset;
``%LOCALAPPDATA%\\sporder\\catalog.toml`` on Windows).  When it does not exist, reads use the
shipped Windows 11 default and the first write creates it.  Paths are plain strings: pathlib
costs ~4 ms of start-up on the read path.
"""

from __future__ import annotations

import os
import sys

from .._record import Record, record
from ..errors import CatalogFileError, UsageError


@record()
class Location(Record):
    """Where the catalog file is, and what said so (``option``, ``env`` or ``default``).

    ``path`` is the path as given (messages use it); ``real`` is that path with every symbolic
    link resolved, computed once here.  Writes, the lock, temp files, saved states and undo all
    use ``real``, so a catalog reached through a link keeps one lock and one history whichever
    name was used (issue 12, item 2)."""

    path: str
    origin: str
    real: str = ""          # computed from path when not given

    def __init__(self, path: str | os.PathLike[str], origin: str, real: str = "") -> None:
        clean = clean_path(os.fspath(path))
        object.__setattr__(self, "path", clean)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "real", real or (LIVE if clean == LIVE and origin != "default"
                                                  else _resolved(clean)))

    @property
    def live(self) -> bool:
        """``--catalog live``: the running Windows machine's registry, read-only."""
        return self.real == LIVE

    @property
    def lock_path(self) -> str:
        return self.real + ".lock"

    @property
    def history_dir(self) -> str:
        return self.real + ".history"


def _resolved(path: str) -> str:
    """The path with links resolved; a path the OS cannot resolve (a loop, NUL, too long) stays
    as given, for ``check_path`` to report in one sentence."""
    try:
        return os.path.realpath(path, strict=False)
    except (OSError, ValueError):
        return path


LIVE = "live"       # --catalog live / SPORDER_CATALOG=live: this Windows machine's catalog


def clean_path(path: str) -> str:
    """The path as pathlib spelled it: no empty or "." parts, no trailing separator ("a//b/"
    -> "a/b"); ".." is kept (it is not lexical where links are involved)."""
    if sys.platform == "win32":  # pragma: no cover
        return os.path.normpath(path) if path else path
    if not path or "/" not in path and path != ".":
        return path
    head = "//" if path.startswith("//") and not path.startswith("///") else \
        "/" if path.startswith("/") else ""
    tail = "/".join(p for p in path.split("/") if p not in ("", "."))
    return head + tail if head or tail else "."


def _home() -> str:
    home = os.path.expanduser("~")
    if home.startswith("~"):
        raise CatalogFileError("cannot find your home directory for the default catalog path; "
                               "set HOME or XDG_DATA_HOME, or give --catalog.",
                               code="bad-catalog-path")
    return home


def default_path() -> str:
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(_home(), "AppData", "Local")
    else:
        base = os.environ.get("XDG_DATA_HOME") or os.path.join(_home(), ".local", "share")
    return os.path.join(base, "sporder", "catalog.toml")


def locate(option: str | None) -> Location:
    if option is not None:
        if not option:
            raise UsageError("--catalog was given an empty path.", code="bad-catalog-path")
        return Location(option, "option")
    env = os.environ.get("SPORDER_CATALOG")
    if env is not None:
        if not env:
            raise UsageError("SPORDER_CATALOG is set but empty.", code="bad-catalog-path")
        return Location(env, "env")
    return Location(default_path(), "default")


def belongs_to(loc: Location, path: str) -> str | None:
    """What of the catalog's own files ``path`` is (after resolving links) -- "the catalog", its
    "lock file", a "saved state" in its history, its "history directory" or a writer's "temp
    file" -- or None.  Such files change only through a locked, recorded write (issue 12,
    item 6), so ``export -o`` refuses them."""
    real = _resolved(clean_path(os.fspath(path)))
    if real == loc.real:
        return "the catalog"
    if real == loc.lock_path:
        return "its lock file"
    if real == loc.history_dir:
        return "its history directory"
    if real.startswith(loc.history_dir + os.sep):
        return "a saved state in its history"
    directory, name = os.path.split(real)
    if directory == os.path.dirname(loc.real) and name.startswith(
            f".{os.path.basename(loc.real)}.") and name.endswith(".tmp"):
        return "a writer's temp file"
    return None


def exists(path: str) -> bool:
    """Whether anything (a file, a directory, even a broken or looping link) is at path."""
    try:
        return os.path.lexists(path)
    except (OSError, ValueError):
        return False


def check_path(path: str) -> None:
    """Turn a path the OS cannot even look up (too long, a link loop, NUL) into one sentence."""
    try:
        os.stat(path)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        raise CatalogFileError(f"cannot use catalog path {path}: "
                               f"{getattr(exc, 'strerror', None) or exc}.",
                               code="catalog-unreadable") from None
