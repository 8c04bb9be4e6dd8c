"""The catalog's history: a record per write inside the file (so a record and the state it
describes are replaced atomically together), the previous file's exact bytes kept as
``<catalog>.history/<serial>.toml`` for ``undo``, and the undo walk itself.

A saved state is tied to the record of the write that saved it by the SHA-256 of its bytes
(``state_sha256``): a state file that is already there with other bytes (a catalog deleted and
created again restarts its serials; a hand edit; a writer killed before its rename) is replaced
when the state is saved, and ``undo`` restores a state only when its bytes match the digest --
never a link, never a file outside the history directory (issue 12, items 1, 12, 13).

Retention: the last ``KEEP_STATES`` (50) states and ``KEEP_RECORDS`` (1000) records.
"""

from __future__ import annotations

import datetime
import os
import stat

from .._record import replace
from ..errors import CatalogFileError, OperationRefused
from ..formats import catalog_toml
from ..model import CatalogFile, HistoryRecord
from .atomic import atomic_write
from .limits import MAX_INPUT_BYTES
from .location import Location

KEEP_STATES = 50
KEEP_RECORDS = 1000


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _user() -> str:
    import getpass
    try:
        name = getpass.getuser()
    except Exception:  # noqa: BLE001 - getuser raises various errors without a login name
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    # $USER/$LOGNAME may hold bytes that are not UTF-8 (decoded as surrogates): record them
    # escaped rather than fail the write (issue 12, item 7).
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def digest(data: bytes) -> str:
    import hashlib
    return hashlib.sha256(data).hexdigest()


def recorded(before: CatalogFile, after: CatalogFile, command: str, summary: str,
             undo_target: int | None, state_sha256: str = "") -> CatalogFile:
    """``after`` with the next serial and a history record of this write appended;
    ``state_sha256`` is the digest of the saved state of ``before`` ("" when none was saved)."""
    serial = before.serial + 1
    rec = HistoryRecord(_now(), _user(), command, summary, before.serial, serial,
                        before.serial if undo_target is None else undo_target, state_sha256)
    history = (before.history + (rec,))[-KEEP_RECORDS:]
    return replace(after, serial=serial, history=history)


def history_directory(loc: Location, *, create: bool) -> str:
    """The history directory, refused (never followed) when it is a link or not a directory."""
    hdir = loc.history_dir
    try:
        info = os.lstat(hdir)
    except FileNotFoundError:
        if not create:
            return hdir
        try:
            os.mkdir(hdir)
        except OSError as exc:
            raise CatalogFileError(f"cannot create the history directory {hdir}: "
                                   f"{exc.strerror or exc}; nothing was written.",
                                   code="catalog-unwritable") from None
        return hdir
    except OSError as exc:
        raise CatalogFileError(f"cannot use the history directory {hdir}: "
                               f"{exc.strerror or exc}.", code="catalog-unwritable") from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a directory"
        raise CatalogFileError(f"the history directory {hdir} is {kind}; sporder keeps saved "
                               "states only in a real directory beside the catalog (move it "
                               "away to continue).", code="history-unsafe")
    return hdir


def save_state(loc: Location, serial: int, data: bytes) -> str | None:
    """Keep the previous file's bytes for undo; returns the state file if this call wrote it.
    A state file already there with the same bytes is kept; with other bytes it is replaced."""
    hdir = history_directory(loc, create=True)
    state = os.path.join(hdir, f"{serial}.toml")
    try:
        if _read_state(state) == data:
            return None
        atomic_write(state, data)
        return state
    except OSError as exc:
        raise CatalogFileError(f"cannot keep the previous state in {hdir}: {exc.strerror or exc}; "
                               "nothing was written.", code="catalog-unwritable") from None


def _read_state(path: str) -> bytes | None:
    """A saved state's bytes: a regular file opened without following links, or None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_INPUT_BYTES:
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 24):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def prune_states(loc: Location) -> None:
    try:
        states = sorted((n for n in os.listdir(loc.history_dir)
                         if n.endswith(".toml") and n[:-5].isdigit()), key=lambda n: int(n[:-5]))
        for old in states[:-KEEP_STATES]:
            os.unlink(os.path.join(loc.history_dir, old))
    except OSError:
        pass      # an old state that cannot be pruned does no harm


def undo_plan(f: CatalogFile, steps: int) -> int:
    """The serial whose state ``undo --steps`` restores, following each record's undo target.
    Every target is below its record's serial (the loader refuses other files), so the walk
    ends; it is bounded by the number of records all the same."""
    by_after = {h.serial_after: h for h in f.history}
    serial = f.serial
    if steps > len(f.history):
        steps = len(f.history) + 1          # enough to reach "nothing to undo" below
    for _ in range(steps):
        rec = by_after.get(serial)
        if rec is None or rec.undo_target == 0 or rec.undo_target >= serial:
            raise OperationRefused(f"there is no recorded write to undo before serial {serial} "
                                   "(see 'sporder log').", code="nothing-to-undo")
        serial = rec.undo_target
    return serial


def load_state(loc: Location, f: CatalogFile, serial: int) -> CatalogFile:
    """The saved state of ``serial``, if its bytes match the digest its history record keeps."""
    expected = next((h.state_sha256 for h in reversed(f.history)
                     if h.serial_before == serial and h.state_sha256), "")
    hdir = history_directory(loc, create=False)
    path = os.path.join(hdir, f"{serial}.toml")
    data = _read_state(path)
    if data is None:
        if os.path.lexists(path):
            raise OperationRefused(f"the saved state of serial {serial} ({path}) is not a "
                                   "regular file; undo refused.", code="state-mismatch")
        raise OperationRefused(f"the state of serial {serial} is no longer kept (only the last "
                               f"{KEEP_STATES} states are); cannot undo that far.",
                               code="state-not-kept")
    if not expected:
        raise OperationRefused(f"the saved state of serial {serial} is not tied to a history "
                               "record (no digest was recorded for it); undo refused.",
                               code="state-mismatch")
    if digest(data) != expected:
        raise OperationRefused(f"the saved state of serial {serial} ({path}) is not the one its "
                               "history record describes (it was replaced or edited); undo "
                               "refused.", code="state-mismatch")
    return catalog_toml.decode(data, path)[0]


def restore(current: CatalogFile, state: CatalogFile) -> CatalogFile:
    """The content of ``state`` with the current serial and history (both only move forward)."""
    return replace(state, serial=current.serial, history=current.history)
