"""One locked, validated, recorded write of the catalog file: ``mutate``.

A writer locks ``<catalog>.lock``, re-reads the file under the lock, applies the operation,
validates the result exactly as a later load will, appends a history record, keeps the previous
bytes for undo, and replaces the file atomically.  A dry run does the same minus the lock and
the write.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from .._record import Record, record
from ..errors import CatalogFileError, ConflictError, OperationRefused
from ..formats import catalog_toml
from ..model import CatalogFile, Change
from . import history
from .atomic import (
    atomic_write,
    clean_stale_temps,
    exclusive_lock,
)
from .limits import DEFAULT_LOCK_TIMEOUT
from .location import Location, check_path, exists
from .reading import read_bytes
from .shipped import DEFAULT_CATALOG, shipped_path

OperationResult = (tuple[CatalogFile, list[Change]]
                   | tuple[CatalogFile, list[Change], dict[str, object]])
Operation = Callable[[CatalogFile], OperationResult]


@record()
class Outcome(Record):
    """What a mutation did (or, in a dry run, would do)."""

    before: CatalogFile
    after: CatalogFile
    changes: list[Change]
    dry_run: bool
    warnings: list[str]
    extra: dict[str, object]

    def __init__(self, before: CatalogFile, after: CatalogFile, changes: list[Change],
                 dry_run: bool, warnings: list[str], extra: dict[str, object]) -> None:
        object.__setattr__(self, "before", before)
        object.__setattr__(self, "after", after)
        object.__setattr__(self, "changes", changes)
        object.__setattr__(self, "dry_run", dry_run)
        object.__setattr__(self, "warnings", warnings)
        object.__setattr__(self, "extra", extra)


def _read_for_write(loc: Location) -> tuple[CatalogFile, bytes | None, list[str]]:
    if not exists(loc.path) and loc.origin == "default":
        data = read_bytes(shipped_path(DEFAULT_CATALOG))
        f, _ = catalog_toml.decode(data, f"{DEFAULT_CATALOG} (shipped)")
        return f, data, []
    data = read_bytes(loc.real)
    from ..formats import detect
    fmt = detect.sniff(data)
    if fmt not in ("toml", None):
        raise CatalogFileError(f"{loc.path} is {fmt} text, not a sporder catalog file; commands "
                               f"that change a catalog edit TOML: run 'sporder import "
                               f"{loc.path}' into a catalog first.", code="catalog-not-toml")
    f, warnings = catalog_toml.decode(data, loc.path)
    return f, data, warnings


def mutate(loc: Location, operation: Operation, *, command: str,
           summary: Callable[[list[Change]], str], dry_run: bool = False,
           if_serial: int | None = None, lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
           undo_target: Callable[[CatalogFile], int] | None = None,
           create: CatalogFile | None = None) -> Outcome:
    """Apply ``operation`` to the catalog at ``loc`` as one locked, atomic, recorded write.

    A dry run reads without the lock, runs the same operation and validation, and writes nothing.
    ``create`` is the content to start from when the file does not exist (``init``).
    """
    def run(before: CatalogFile, raw: bytes | None, warnings: list[str],
            unchanged: Callable[[], bool] | None = None) -> Outcome:
        if if_serial is not None and before.serial != if_serial:
            raise ConflictError(f"the catalog's serial is {before.serial}, not {if_serial}; it "
                                "changed since you looked (re-read it and retry).",
                                code="serial-mismatch")
        result = operation(before)
        after, changes = result[0], result[1]
        extra: dict[str, object] = result[2] if len(result) > 2 else {}
        if after is before or (not changes and after.same_content(before)):
            return Outcome(before, before, [], dry_run, warnings, extra)
        final = history.recorded(before, after, command, summary(changes),
                                 undo_target(before) if undo_target else None,
                                 history.digest(raw) if raw is not None else "")
        plain = catalog_toml.to_dict(final)
        try:     # validate exactly as a load will, without re-parsing the TOML text
            catalog_toml.from_dict(plain, loc.path)
        except CatalogFileError as exc:   # the operation's result, not the input, is refused
            raise OperationRefused("the result would not be a valid catalog, so nothing was "
                                   f"written: {exc.message}", code="invalid-result") from None
        data = catalog_toml.dumps_dict(plain).encode("utf-8")
        if not dry_run:
            if unchanged is not None and not unchanged():
                raise _Stale
            saved = history.save_state(loc, before.serial, raw) if raw is not None else None
            try:
                atomic_write(loc.real, data)
            except CatalogFileError:
                if saved is not None:           # the write failed: leave history as it was
                    try:
                        os.unlink(saved)
                    except FileNotFoundError:
                        pass
                raise
            history.prune_states(loc)
        return Outcome(before, final, changes, dry_run, warnings, extra)

    # Writes go to ``loc.real`` (the path with links resolved once, in Location): through a
    # link, the real catalog and its lock, temps and history are the target's.
    if loc.live:
        if sys.platform != "win32":
            from ..formats.live import read_live
            read_live()          # raises the one sentence: readable only on Windows
        raise CatalogFileError("the live catalog is read-only here: run 'sporder --catalog "
                               "FILE import live', change FILE, then 'sporder --catalog FILE "
                               "export --format reg -o winsock.reg' and 'reg import winsock.reg' "
                               "as administrator.", code="live-read-only")
    check_path(loc.path)

    def current() -> tuple[CatalogFile, bytes | None, list[str]]:
        if create is not None and not exists(loc.real):
            return create, None, []
        return _read_for_write(loc)

    if create is None and loc.origin != "default" and not exists(loc.real):
        read_bytes(loc.path)        # says the file does not exist, before anything is created
    if dry_run:
        return run(*current())
    parent = os.path.dirname(loc.real) or os.curdir
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise CatalogFileError(f"cannot create directory {parent}: "
                               f"{exc.strerror or exc}.", code="catalog-unwritable") from None
    if os.path.isdir(loc.real):
        raise CatalogFileError(f"catalog path {loc.path} is a directory, not a file.",
                               code="catalog-unreadable")
    name = os.path.basename(loc.real)
    history.history_directory(loc, create=False)     # a link there is refused, not followed
    for _ in range(_ATTEMPTS):
        with exclusive_lock(loc.lock_path, lock_timeout) as held:
            clean_stale_temps(parent, lambda target: target == name)
            clean_stale_temps(loc.history_dir,
                              lambda t: t.endswith(".toml") and t[:-5].isdigit())
            seen = _identity(loc.real)

            def unchanged(seen: tuple[int, int, int, int] | None = seen,
                          held: Callable[[], bool] = held) -> bool:
                return held() and _identity(loc.real) == seen
            try:
                return run(*current(), unchanged=unchanged)
            except _Stale:
                continue       # the lock file was removed or the catalog replaced: start again
    raise ConflictError(f"{loc.path} kept changing under this writer (its lock file was removed "
                        f"or replaced {_ATTEMPTS} times); nothing was written.",
                        code="lock-lost")


_ATTEMPTS = 3


class _Stale(Exception):
    """The lock or the catalog changed under the writer before it committed."""


def _identity(path: str) -> tuple[int, int, int, int] | None:
    """What changes when any writer replaces the file (every write is a rename: a new inode)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
