"""``netsh winsock reset`` (anchor-tools.md §3; default-catalogs.md §1 items 1 and 4, §5).

Windows rebuilds each protocol catalog from its transport templates: every LSP (hidden and chain
entries) and every third-party provider is gone, ids restart at 1001 in each catalog and are
assigned in catalog order, and the namespace catalog is not touched.  The model restores the
protocol catalogs of a shipped default file.  Choices (documented and tested):

* ``next_entry_id`` becomes the default's.  This is the one operation after which ids that were
  handed out before can be handed out again -- as on Windows, where a reset restarts numbering.
* Kept from ``f``: namespace catalogs, application categories, the LSP ranking, the WSK range,
  description, serial and history (the store bumps the serial and records the write).
* A catalog of ``f`` that the default lacks (a 32-bit catalog when the default has only a 64-bit
  one) cannot be reset, and leaving it as it is would be a silent partial reset: the operation is
  refused (OperationRefused, code ``reset-no-default``).  A catalog only the default has is not
  added: ``f`` models a system without it.
* Changes per catalog: one ``remove`` per entry of ``f`` not identical (same id and fields) in
  the default, one ``add`` per default entry not identical in ``f``, and one ``move`` (field
  ``position``: 1-based, before/after) per identical entry whose rank among the identical
  entries changes, so that an order-only reset is not reported as "no change"; plus a
  file-level ``update`` (catalog "") when ``next_entry_id`` changes.
"""

from __future__ import annotations

from .._record import replace
from ..errors import OperationRefused
from ..model import Catalog, CatalogFile, Change


def _diff(old: Catalog, new: Catalog) -> list[Change]:
    b = old.bitness
    changes = [Change("remove", b, e.id, e.name) for e in old.protocols if new.get(e.id) != e]
    changes += [Change("add", b, e.id, e.name) for e in new.protocols if old.get(e.id) != e]
    kept_new = [e for e in new.protocols if old.get(e.id) == e]
    rank_old = {e.id: n for n, e in enumerate(e for e in old.protocols if new.get(e.id) == e)}
    changes += [Change("move", b, e.id, e.name,
                       (("position", old.position(e.id), new.position(e.id)),))
                for n, e in enumerate(kept_new) if rank_old[e.id] != n]
    return changes


def reset(f: CatalogFile, default: CatalogFile) -> tuple[CatalogFile, list[Change]]:
    """Restore every protocol catalog of ``f`` to ``default``'s; namespaces and the rest kept."""
    missing = [b for b in f.bitnesses if b not in default.catalogs]
    if missing:
        raise OperationRefused(f"The default catalog has no {missing[0]}-bit protocol catalog, "
                               f"so the file's {missing[0]}-bit catalog cannot be reset.",
                               code="reset-no-default")
    out, changes = f, []
    for b in f.bitnesses:
        old = f.catalog(b)
        new = old.with_protocols(default.catalog(b).protocols)
        changes += _diff(old, new)
        out = out.with_catalog(new)
    if f.next_entry_id != default.next_entry_id:
        changes.append(Change("update", "", None, "next_entry_id",
                              (("next_entry_id", f.next_entry_id, default.next_entry_id),)))
    return replace(out, next_entry_id=default.next_entry_id), changes
