"""Installing protocol entries under one provider GUID: WSCInstallProvider(64_32) (§4.1).

Facts followed (winsock-semantics.md): ids come from the one shared ``next_entry_id`` counter,
consecutively in list order, and are never reused; an entry installed into both catalogs gets
the same id in both (§4.1, §4.7).  New entries are appended at the end of the catalog (§4.1).
Entries are checked as WSCInstallProvider checks them (``checks``: text limits, the ChainLen
shape, a chain's components installed first); a GUID already present is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import winsock as ws
from .._record import replace
from ..model import CatalogFile, Change, ProtocolEntry
from ..names import display_name
from . import Result
from .checks import (
    check_chain_refs,
    check_shape,
    check_text,
    id_list,
    provider_guid,
    refuse,
    selected,
)


def install(f: CatalogFile, entries: Sequence[ProtocolEntry], provider_id: str,
            bitnesses: Sequence[str], *, exist_ok: bool = False) -> Result:
    """WSCInstallProvider(64_32): append ``entries`` under ``provider_id`` to each catalog.

    The ids in ``entries`` are ignored; ids are assigned from ``next_entry_id`` in list order and
    are the same in every selected catalog.  A GUID already present is refused (WSANO_RECOVERY),
    unless ``exist_ok`` and every selected catalog holds exactly the requested entries (all
    fields but the id) under it: then nothing changes.
    """
    cats = selected(f, bitnesses)
    guid = provider_guid(provider_id)
    if not entries:
        raise refuse(ws.WSAEINVAL, f"No protocol entries given to install for provider {guid}.")
    for n, e in enumerate(entries, 1):      # (no check reads the provider id or the id)
        check_text(f"entry #{n}", e.name, e.path)
        check_shape(n, e)
    present = {b: [e for e in f.catalog(b).protocols if e.provider_id == guid] for b in cats}
    if any(present.values()):
        key = [replace(e, id=0, provider_id=guid) for e in entries]
        if exist_ok and all([replace(e, id=0) for e in present[b]] == key for b in cats):
            return f, []
        b = next(b for b in cats if present[b])
        extra = ("; with exist_ok its entries must equal the requested ones in every field but "
                 "the id") if exist_ok else ""
        raise refuse(ws.WSANO_RECOVERY, f"Provider {guid} is already installed in the {b}-bit "
                     f"catalog (ids {id_list(e.id for e in present[b])}){extra}.")
    for b in cats:
        for n, e in enumerate(entries, 1):
            check_chain_refs(f.catalog(b), n, e)
    first = f.next_entry_id
    new = [replace(e, id=first + k, provider_id=guid) for k, e in enumerate(entries)]
    out, changes = f, []
    for b in cats:
        cat = f.catalog(b)
        out = out.with_catalog(cat.with_protocols(cat.protocols + tuple(new)))
        changes += [Change("add", b, e.id, display_name(e.name),
                           detail=f"appended at position {len(cat.protocols) + k + 1}")
                    for k, e in enumerate(new)]
    return replace(out, next_entry_id=first + len(new)), changes
