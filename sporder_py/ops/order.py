"""Reordering a catalog: WSCWriteProviderOrder (§4.4), and moving one entry.

``reorder`` takes a full permutation of the catalog's ids, as the API does; ``move`` computes
that permutation for one entry (top, bottom, before/after another entry, or a 1-based position)
and reports only the entry it moved (the others' shift shows in the new order).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .. import winsock as ws
from ..errors import UsageError
from ..model import CatalogFile, Change
from ..names import display_name
from . import Result
from .checks import id_list, refuse, selected


def reorder(f: CatalogFile, ids: Sequence[int], bitness: str) -> Result:
    """Write a new order: ``ids`` must be an exact permutation of the catalog's ids (§4.4)."""
    b = selected(f, [bitness])[0]
    cat = f.catalog(b)
    ids = list(ids)
    counts = Counter(ids)
    problems = []
    if missing := [i for i in cat.ids if i not in counts]:
        problems.append(f"missing {id_list(missing)}")
    if dup := [i for i, n in counts.items() if n > 1]:
        problems.append(f"duplicated {id_list(dup)}")
    if unknown := [i for i in counts if i not in cat]:
        problems.append(f"unknown {id_list(unknown)}")
    if problems:
        raise refuse(ws.WSAEINVAL, f"The new order of the {b}-bit catalog must list each of its "
                     f"{len(cat.ids)} ids exactly once (WSCWriteProviderOrder); it has "
                     f"{'; '.join(problems)}.")
    if ids == cat.ids:
        return f, []
    by_id = {e.id: e for e in cat.protocols}
    changes = [Change("move", b, i, display_name(by_id[i].name), (("position", old, new),),
                      f"from position {old} to {new}")
               for new, i in enumerate(ids, 1) if (old := cat.position(i)) != new]
    return f.with_catalog(cat.with_protocols([by_id[i] for i in ids])), changes


def move(f: CatalogFile, entry_id: int, *, top: bool = False, bottom: bool = False,
         before: int | None = None, after: int | None = None, position: int | None = None,
         bitness: str) -> Result:
    """Move one entry (``position`` is 1-based) by computing the permutation for ``reorder``."""
    if top + bottom + sum(x is not None for x in (before, after, position)) != 1:
        raise UsageError("Give exactly one of top, bottom, before, after and position.",
                         code="bad-placement")
    b = selected(f, [bitness])[0]
    cat = f.catalog(b)
    ids = cat.ids       # (looked up in the list: cheaper than building the catalog's index)
    if entry_id not in ids:
        raise refuse(ws.WSAEINVAL, f"Entry {entry_id} is not in the {b}-bit catalog.")
    rest = [i for i in ids if i != entry_id]
    if top or bottom:
        at = 0 if top else len(rest)
    elif position is not None:
        if not 1 <= position <= len(ids):
            raise refuse(ws.WSAEINVAL, f"Position {position} is outside 1..{len(ids)} of "
                         f"the {b}-bit catalog.")
        at = position - 1
    else:
        anchor = before if before is not None else after
        if anchor == entry_id or anchor not in ids:
            why = "is the entry being moved" if anchor == entry_id else "is not in the catalog"
            raise refuse(ws.WSAEINVAL, f"Entry {anchor} {why}, so entry {entry_id} cannot be "
                         f"moved {'before' if before is not None else 'after'} it in the "
                         f"{b}-bit catalog.")
        at = rest.index(anchor) + (after is not None)
    if len(set(ids)) != len(ids):     # repeated ids (no valid file has them): reorder judges
        new, changes = reorder(f, rest[:at] + [entry_id] + rest[at:], b)
        # Only the entry that was moved is a change; the others' shift is in the order lines.
        return new, [c for c in changes if c.id == entry_id]
    # With no repeated id, ``rest[:at] + [entry_id] + rest[at:]`` is a permutation of the ids,
    # which reorder accepts; it moves the entry from ``old`` to ``at + 1`` (and changes nothing
    # when those are equal).  Only that entry's move is a change: build just that one instead
    # of one per shifted entry.
    old = ids.index(entry_id) + 1
    if old == at + 1:
        return f, []
    protocols = list(cat.protocols)
    e = protocols.pop(old - 1)
    protocols.insert(at, e)
    return f.with_catalog(cat.with_protocols(protocols)), [
        Change("move", b, entry_id, display_name(e.name), (("position", old, at + 1),),
               f"from position {old} to {at + 1}")]

