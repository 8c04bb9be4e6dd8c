"""The catalog's history: a record per write inside the file (so a record and the state it
describes are replaced atomically together), the previous file's exact bytes kept as
``<catalog>.history/<serial>.toml`` for ``undo``, and the undo walk itself.

Retention: the last ``KEEP_STATES`` (50) states and ``KEEP_RECORDS`` (1000) records.
"""

from __future__ import annotations

import datetime
import os

from .._record import replace
from ..errors import CatalogFileError, OperationRefused
from ..formats import catalog_toml
from ..model import CatalogFile, HistoryRecord
from .atomic import atomic_write
from .location import Location
from .reading import read_bytes

KEEP_STATES = 50
KEEP_RECORDS = 1000


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _user() -> str:
    import getpass
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - getuser raises various errors without a login name
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def recorded(before: CatalogFile, after: CatalogFile, command: str, summary: str,
             undo_target: int | None) -> CatalogFile:
    """``after`` with the next serial and a history record of this write appended."""
    serial = before.serial + 1
    rec = HistoryRecord(_now(), _user(), command, summary, before.serial, serial,
                        before.serial if undo_target is None else undo_target)
    history = (before.history + (rec,))[-KEEP_RECORDS:]
    return replace(after, serial=serial, history=history)


def save_state(loc: Location, serial: int, data: bytes) -> str | None:
    """Keep the previous file's bytes for undo; returns the state file if it is new."""
    hdir = loc.history_dir
    state = os.path.join(hdir, f"{serial}.toml")
    try:
        try:
            os.mkdir(hdir)
        except FileExistsError:
            if not os.path.isdir(hdir):
                raise
        if os.path.exists(state):
            return None
        atomic_write(state, data)
        return state
    except OSError as exc:
        raise CatalogFileError(f"cannot keep the previous state in {hdir}: {exc.strerror or exc}; "
                               "nothing was written.", code="catalog-unwritable") from None


def prune_states(loc: Location) -> None:
    try:
        states = sorted((n for n in os.listdir(loc.history_dir)
                         if n.endswith(".toml") and n[:-5].isdigit()), key=lambda n: int(n[:-5]))
        for old in states[:-KEEP_STATES]:
            os.unlink(os.path.join(loc.history_dir, old))
    except OSError:
        pass      # an old state that cannot be pruned does no harm


def undo_plan(f: CatalogFile, steps: int) -> int:
    """The serial whose state ``undo --steps`` restores, following each record's undo target."""
    by_after = {h.serial_after: h for h in f.history}
    serial = f.serial
    for _ in range(steps):
        rec = by_after.get(serial)
        if rec is None or rec.undo_target == 0:
            raise OperationRefused(f"there is no recorded write to undo before serial {serial} "
                                   "(see 'sporder log').", code="nothing-to-undo")
        serial = rec.undo_target
    return serial


def load_state(loc: Location, serial: int) -> CatalogFile:
    path = os.path.join(loc.history_dir, f"{serial}.toml")
    if not os.path.isfile(path):
        raise OperationRefused(f"the state of serial {serial} is no longer kept (only the last "
                               f"{KEEP_STATES} states are); cannot undo that far.",
                               code="state-not-kept")
    return catalog_toml.decode(read_bytes(path), path)[0]


def restore(current: CatalogFile, state: CatalogFile) -> CatalogFile:
    """The content of ``state`` with the current serial and history (both only move forward)."""
    return replace(state, serial=current.serial, history=current.history)
