"""Uninstalling: WSCDeinstallProvider (§4.3), with instlsp's repair of what depends on the
removed entries (instlsp RemoveProvider, anchor-tools §2.4).

Dependants are repaired first, then the entries are deleted: the removed ids (the hidden id and
every chain-entry id of the LSP) are stripped from every remaining chain (instlsp
``RemoveProvider`` step 4, ``RemoveIdFromChain``: ids, order, names, paths and GUIDs of the
dependants kept), every chain entry of the removed LSP goes with it (step 7: each of its
LayeredGuids is deinstalled -- an entry whose top layer is the LSP belongs to it, whatever else
it holds), and a chain left with only its base provider goes too.  Removing an IFS LSP that was
inserted below a non-IFS layer (``install_lsp``'s instlsp path) strips its chain entry from the
updated entries again.  Orphaned chain entries (``chain[0]`` names no entry) are one group, as
instlsp's ``BuildLspMap`` makes them (``CountOrphanedChainEntries``; ``-r <any orphan>`` removes
every orphan GUID): uninstalling any of them removes every orphan of that catalog.  Which entries
make up an LSP follows instlsp's LSP map (``lspmap``), worked out here only for the LSPs being
removed.  A choice where the reference is silent: removing a base provider that chains still
depend on is refused with WSANO_RECOVERY (the code Windows gives when the catalog's state makes
an operation impossible, e.g. "no base provider", §4.1) unless ``cascade``.  ``next_entry_id``
never goes back.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import winsock as ws
from .._record import replace
from ..errors import UsageError
from ..model import Catalog, CatalogFile, Change, ProtocolEntry
from ..names import display_name
from . import Result
from .chain_entry import chain_flags, changed_fields
from .checks import id_list, provider_guid, refuse, selected


def _remove_repairing(cat: Catalog, seeds: list[ProtocolEntry],
                      cascade: bool) -> tuple[Catalog, list[Change]]:
    # What lsp_map gives (hidden id -> its hidden entry, the last one if the id repeats; its
    # chain entries), computed only for the LSPs being removed, without the dependants.
    lsps = {e.id: e for e in cat.protocols if e.kind == "layered"}
    chains = [c for c in cat.protocols if c.kind == "chain"]
    gone: dict[int, str] = {}                 # id -> why it is removed
    own: dict[int, str] = {}                  # chain entries of LSPs being removed -> LSP
    bases: list[ProtocolEntry] = []
    for e in seeds:
        owner = e.id if e.kind == "layered" else (
            e.chain[0] if e.kind == "chain" and e.chain[0] in lsps else None)
        if owner is not None:
            name = display_name(lsps[owner].name)
            gone[owner] = f"hidden entry of LSP '{name}'"
            mine = {c.id: name for c in chains if c.chain and c.chain[0] == owner}
            own.update(mine)
            gone.update({i: f"chain entry of LSP '{n}'" for i, n in mine.items()})
        elif e.kind == "base":
            bases.append(e)
        elif e.chain[0] not in cat:     # instlsp BuildLspMap: all orphans are one group
            orphans = [c.id for c in chains if c.chain and c.chain[0] not in cat]
            gone.update({i: "orphaned chain entry (its first id names no entry); instlsp's LSP "
                         "map makes every orphan of the catalog one group, removed together"
                         for i in orphans})
        else:
            gone[e.id] = "chain entry owned by no LSP"
    if bases:
        base_ids = {e.id for e in bases}
        deps = [c for c in cat.protocols
                if c.kind == "chain" and base_ids.intersection(c.chain) and c.id not in gone]
        if deps and not cascade:
            raise refuse(ws.WSANO_RECOVERY, f"Base provider(s) {id_list(sorted(base_ids))} in the "
                         f"{cat.bitness}-bit catalog cannot be removed while chain entries "
                         f"{id_list(c.id for c in deps)} depend on them (remove those LSPs first, "
                         "or cascade).")
        gone.update({e.id: "base provider" for e in bases})
        gone.update({c.id: "chain over a removed base provider" for c in deps})
    # Strip removed ids (and the removed LSPs' chain-entry ids) from every remaining chain;
    # a chain left with only its base provider goes too, which may strip further chains.
    strip = set(gone) | set(own)
    while True:     # (a chain of 2+ ids that names nothing stripped cannot be short)
        short = {c.id for c in chains if c.id not in gone
                 and (len(c.chain) < 2 or not strip.isdisjoint(c.chain))
                 and len([i for i in c.chain if i not in strip]) < 2}
        if not short:
            break
        gone.update({i: f"chain entry of LSP '{own[i]}'" if i in own
                     else "left with only its base provider" for i in short})
        strip |= short

    def lookup(i: int) -> ProtocolEntry | None:
        return None if i in gone else cat.get(i)

    updated: dict[int, ProtocolEntry] = {}
    changes = []
    for c in chains:
        if c.id in gone or strip.isdisjoint(c.chain):     # (disjoint: nothing to strip)
            continue
        chain = tuple(i for i in c.chain if i not in strip)
        if chain == c.chain:
            continue
        new = replace(c, chain=chain, service_flags=chain_flags(c.service_flags, chain, lookup))
        updated[c.id] = new
        changes.append(Change("update", cat.bitness, c.id, display_name(c.name),
                              changed_fields(c, new),
                              f"removed {id_list(i for i in c.chain if i in strip)} from its "
                              "chain"))
    changes += [Change("remove", cat.bitness, e.id, display_name(e.name), detail=gone[e.id])
                for e in cat.protocols if e.id in gone]
    return cat.with_protocols([updated.get(e.id, e) for e in cat.protocols
                               if e.id not in gone]), changes


def uninstall(f: CatalogFile, *, entry_id: int | None = None, provider_id: str | None = None,
              cascade: bool = False, repair: bool = True, bitnesses: Sequence[str]) -> Result:
    """Remove an LSP whole, a base provider, or an orphaned chain entry; repair dependants.

    Given an LSP's hidden id, any of its chain-entry ids, or a GUID of either, the whole LSP
    goes (instlsp RemoveProvider): its ids are stripped from every other chain (ids, order,
    names, paths and GUIDs kept); its own chain entries (those whose top layer it is) are
    deleted; any chain left with only its base provider is deleted.  A base provider (by id, or
    all entries of its GUID) is refused with WSANO_RECOVERY while chains depend on it, unless
    ``cascade`` (those chains go too).  An orphaned chain entry removes every orphan of that
    catalog (instlsp's one orphan group).  ``repair=False`` is the raw WSCDeinstallProvider:
    every entry carrying the GUID (for ``entry_id``: that entry's GUID) is removed and dangling
    chains stay.  Each selected catalog is handled on its own; the id/GUID must exist in at
    least one (else WSAEINVAL, §4.10 M4).  ``next_entry_id`` never goes back.
    """
    cats = selected(f, bitnesses)
    if (entry_id is None) == (provider_id is None):
        raise UsageError("Give either an entry id or a provider GUID to uninstall.",
                         code="bad-target")
    guid = provider_guid(provider_id) if provider_id is not None else None
    out, changes, found = f, [], False
    for b in cats:
        cat = f.catalog(b)
        if guid is not None:
            seeds = [e for e in cat.protocols if e.provider_id == guid]
        else:
            seeds = [e for e in cat.protocols if e.id == entry_id]
        if not seeds:
            continue
        found = True
        if repair:
            new_cat, ch = _remove_repairing(cat, seeds, cascade)
        else:
            g = seeds[0].provider_id
            new_cat = cat.with_protocols([e for e in cat.protocols if e.provider_id != g])
            ch = [Change("remove", b, e.id, display_name(e.name),
                         detail=f"carries provider {g} (WSCDeinstallProvider; chains not repaired)")
                  for e in cat.protocols if e.provider_id == g]
        out = out.with_catalog(new_cat)
        changes += ch
    if not found:
        what = f"provider {guid}" if guid is not None else f"entry {entry_id}"
        raise refuse(ws.WSAEINVAL, f"There is no {what} in the "
                     f"{' or '.join(b + '-bit' for b in cats)} catalog to uninstall.")
    return out, changes
