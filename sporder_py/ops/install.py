"""Installing protocol entries under one provider GUID: WSCInstallProvider(64_32) (§4.1).

Facts followed (winsock-semantics.md): ids come from the one shared ``next_entry_id`` counter,
consecutively in list order, and are never reused; an entry installed into both catalogs gets
the same id in both (§4.1, §4.7).  New entries are appended at the end of the catalog (§4.1).
Entries are checked as WSCInstallProvider checks them (``checks``: text limits, the ChainLen
shape, a chain's components installed first); a GUID already present is refused.  A chain entry
must carry the DLL path of its top layer (the LSP whose hidden entry is its ``chain[0]``): ws2_32
loads the chosen entry's own path (ReactOS ``WsTcLoadProvider``), so any other path would load a
different DLL than the chain says (issue 13).  ``path32`` is the 32-bit catalog's DLL path
(WSCInstallProvider64_32 takes one path; WSCInstallProviderAndChains64_32 a separate
``lpszProviderDllPath32``); without it the 32-bit catalog gets the entries' own paths, and the
plan says so.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import winsock as ws
from .._record import replace
from ..model import CatalogFile, Change, ProtocolEntry
from ..names import display_name
from . import Result
from .checks import (
    check_chain_path,
    check_chain_refs,
    check_shape,
    check_text,
    id_list,
    provider_guid,
    refuse,
    selected,
)


def install(f: CatalogFile, entries: Sequence[ProtocolEntry], provider_id: str,
            bitnesses: Sequence[str], *, exist_ok: bool = False,
            path32: str | None = None) -> Result:
    """WSCInstallProvider(64_32): append ``entries`` under ``provider_id`` to each catalog.

    The ids in ``entries`` are ignored; ids are assigned from ``next_entry_id`` in list order and
    are the same in every selected catalog.  A GUID already present is refused (WSANO_RECOVERY),
    unless ``exist_ok`` and every selected catalog holds exactly the requested entries (all
    fields but the id) under it: then nothing changes.  ``path32`` replaces every entry's path
    in the 32-bit catalog.
    """
    cats = selected(f, bitnesses)
    guid = provider_guid(provider_id)
    if not entries:
        raise refuse(ws.WSAEINVAL, f"No protocol entries given to install for provider {guid}.")
    for n, e in enumerate(entries, 1):      # (no check reads the provider id or the id)
        check_text(f"entry #{n}", e.name, e.path)
        if path32 is not None:
            check_text(f"entry #{n} (32-bit path)", e.name, path32)
        check_shape(n, e)

    def paths(b: str, es: Sequence[ProtocolEntry]) -> list[ProtocolEntry]:
        # path32 is the WOW64 catalog's path: on a 32-bit system ("32" is the only, native
        # catalog) the native --path applies, as its DLLs live in system32.
        wow64 = b == "32" and "64" in f.catalogs
        return [replace(e, path=path32) for e in es] if wow64 and path32 is not None \
            else list(es)
    present = {b: [e for e in f.catalog(b).protocols if e.provider_id == guid] for b in cats}
    if any(present.values()):
        key = [replace(e, id=0, provider_id=guid) for e in entries]
        if exist_ok and all([replace(e, id=0) for e in present[b]] == paths(b, key)
                            for b in cats):
            return f, []
        b = next(b for b in cats if present[b])
        extra = ("; with exist_ok its entries must equal the requested ones in every field but "
                 "the id") if exist_ok else ""
        raise refuse(ws.WSANO_RECOVERY, f"Provider {guid} is already installed in the {b}-bit "
                     f"catalog (ids {id_list(e.id for e in present[b])}){extra}.")
    for b in cats:
        for n, e in enumerate(paths(b, entries), 1):
            check_chain_refs(f.catalog(b), n, e)
            check_chain_path(f.catalog(b), n, e)
    first = f.next_entry_id
    new = [replace(e, id=first + k, provider_id=guid) for k, e in enumerate(entries)]
    same32 = path32 is None and "64" in cats and "32" in cats
    out, changes = f, []
    for b in cats:
        cat = f.catalog(b)
        mine = paths(b, new)
        out = out.with_catalog(cat.with_protocols(cat.protocols + tuple(mine)))
        note = ("; DLL path: the 64-bit one (no separate 32-bit path given)"
                if b == "32" and same32 else "")
        changes += [Change("add", b, e.id, display_name(e.name),
                           detail=f"appended at position {len(cat.protocols) + k + 1}"
                           + (note if k == 0 else ""))
                    for k, e in enumerate(mine)]
    return replace(out, next_entry_id=first + len(new)), changes
