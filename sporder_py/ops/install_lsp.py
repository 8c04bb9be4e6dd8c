"""Installing an LSP: one hidden entry plus a chain entry per target (§4.2; instlsp InstallLsp,
anchor-tools §2.2), then instlsp's reorder so that the new chains win.

Facts followed (winsock-semantics.md, anchor-tools.md): ids come from the shared
``next_entry_id`` counter, hidden entry first, and are the same in both catalogs (§4.1, §4.7).
The hidden entry and the chain entries follow instlsp's CreateDummyEntry / chain conventions
(§1.2); chains are written ``[L, A, B]`` over a chain ``[A, B]``, and instlsp's own form
``[L, X, B]`` (X = the chain entry layered over) is read fine (``lspmap.layer_entry``).  New
entries are appended, then every entry whose chain contains the new hidden id moves to the top,
keeping relative order (§4.2, instlsp ReorderCatalog, anchor-tools §2.2 step 4).  Choices where
the reference is silent: a target whose chain is already 6 long is refused (instlsp's
MAX_PROTOCOL_CHAIN-1 rule); the hidden entry's XP1_IFS_HANDLES is exactly ``ifs`` (only that
flag is meaningful in WSCInstallProviderAndChains' dwServiceFlags, §4.2); orphaned chains are
never layered over (WSAEINVAL).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .. import winsock as ws
from .._record import replace
from ..errors import UsageError
from ..lspmap import Lookup, layer_entry
from ..model import Catalog, CatalogFile, Change, ProtocolEntry
from ..names import display_name
from ..resolver import resolve
from .chain_entry import chain_flags, over_name
from .checks import check_text, describe, id_list, provider_guid, refuse, require_intact, selected


def new_guid() -> str:
    """A fresh provider GUID in the catalog's form (upper case, braces)."""
    return "{" + str(uuid.uuid4()).upper() + "}"


@dataclass(frozen=True, slots=True)
class Targets:
    """What a new LSP layers over: given ids, over all (what each triple resolves to today), or
    over the first base provider of every distinct base triple (WSCInstallProviderAndChains)."""

    over: tuple[int, ...] = ()
    over_all: bool = False
    over_base_only: bool = False

    def __post_init__(self) -> None:
        if bool(self.over) + self.over_all + self.over_base_only != 1:
            raise UsageError("Choose exactly one target mode: over given ids, over all, or over "
                             "base providers only.", code="bad-targets")


def _targets(cat: Catalog, targets: Targets) -> list[ProtocolEntry]:
    picks: dict[int, ProtocolEntry] = {}
    if targets.over:
        for i in targets.over:                       # duplicates ignored, as the API does
            e = cat.get(i)
            if e is None:
                raise refuse(ws.WSAEINVAL, f"Entry {i} is not in the {cat.bitness}-bit catalog, "
                             "so no LSP can be layered over it there.")
            if e.kind == "layered":
                raise refuse(ws.WSAEINVAL, f"Entry {describe(e)} is a layered (hidden) entry; an "
                             "LSP layers over a base provider or a chain entry.")
            picks.setdefault(e.id, e)
    else:
        seen: set[tuple[int, int, int]] = set()
        for e in cat.protocols:
            if e.triple in seen or e.kind == "layered" or (
                    targets.over_base_only and e.kind != "base"):
                continue
            seen.add(e.triple)
            # over_all: what socket(triple) picks today (so LSPs stack); the entry itself when
            # nothing matches (protocol 0 without PFL_MATCHES_PROTOCOL_ZERO).
            pick = (resolve(cat, *e.triple).entry or e) if targets.over_all else e
            picks.setdefault(pick.id, pick)
    if not picks:
        raise refuse(ws.WSANO_RECOVERY, f"The {cat.bitness}-bit catalog has no provider to "
                     "layer over.")
    for e in picks.values():
        require_intact(cat, e)
        if e.chain_len >= ws.MAX_PROTOCOL_CHAIN - 1:
            raise refuse(ws.WSANO_RECOVERY, f"Entry {describe(e)} already has a chain of "
                         f"{e.chain_len} (MAX_PROTOCOL_CHAIN is {ws.MAX_PROTOCOL_CHAIN}); no "
                         "further LSP can be layered over it.")
    return list(picks.values())


def _layer_is_ifs(lookup: Lookup, layer_id: int) -> bool:
    e = layer_entry(lookup, layer_id)
    return e is not None and e.is_ifs


def install_lsp(f: CatalogFile, *, name: str, path: str, provider_id: str, targets: Targets,
                ifs: bool = False, categories: int = 0, bitnesses: Sequence[str],
                new_guid: Callable[[], str] = new_guid) -> tuple[CatalogFile, list[Change], int]:
    """Install an LSP: one hidden entry plus one chain entry per target; returns the hidden id.

    Ids: hidden first, then the chain entries in target order.  A chain over ``[A, B]`` is
    ``[L, A, B]``; an IFS LSP goes directly below the lowest non-IFS layer (``[N, I, B]`` ->
    ``[N, L, I, B]``, anchor-tools §2.2; such a chain's first element is N, so ``lsp_map``
    counts it as N's).  Each chain entry gets its own GUID from ``new_guid`` (the same in both
    catalogs).  Targets are computed per catalog and must be the same ids in every selected
    catalog.
    """
    cats = selected(f, bitnesses)
    guid = provider_guid(provider_id)
    check_text(f"LSP {ws.shown(name)}", name, path)
    if not 0 <= categories <= ws.DWORD_MAX:
        raise UsageError(f"LSP categories {categories} are outside the range of a DWORD.",
                         code="bad-value")
    for b in cats:
        have = [e.id for e in f.catalog(b).protocols if e.provider_id == guid]
        if have:
            raise refuse(ws.WSANO_RECOVERY, f"Provider {guid} is already installed in the "
                         f"{b}-bit catalog (ids {id_list(have)}).")
    per_cat = {b: _targets(f.catalog(b), targets) for b in cats}
    tids = [e.id for e in per_cat[cats[0]]]
    for b in cats[1:]:
        other = [e.id for e in per_cat[b]]
        if other != tids:
            raise refuse(ws.WSAEINVAL, f"The {cats[0]}-bit and {b}-bit catalogs give different "
                         f"targets (ids {id_list(tids)} vs {id_list(other)}); install into one "
                         "catalog at a time (--bitness).")
    hid = f.next_entry_id
    guids = [new_guid() for _ in tids]
    out, changes = f, []
    for b in cats:
        cat = f.catalog(b)
        first = per_cat[b][0]
        hidden = replace(
            first, id=hid, kind="layered", chain=(), name=name, path=path, provider_id=guid,
            socket_type=0, protocol=0, protocol_max_offset=0, lsp_categories=categories,
            provider_flags=(first.provider_flags | ws.PFL_HIDDEN) & ~ws.PFL_MATCHES_PROTOCOL_ZERO,
            service_flags=(first.service_flags | ws.XP1_IFS_HANDLES) if ifs
            else first.service_flags & ~ws.XP1_IFS_HANDLES)

        def lookup(i: int, cat: Catalog = cat, hidden: ProtocolEntry = hidden) -> \
                ProtocolEntry | None:
            return hidden if i == hid else cat.get(i)

        added = [hidden]
        for k, t in enumerate(per_cat[b]):
            layers, base = t.chain_ids[:-1], t.chain_ids[-1]
            at = 0
            if ifs:   # the IFS rule: directly below the lowest non-IFS layer
                at = max((n + 1 for n, i in enumerate(layers)
                          if not _layer_is_ifs(lookup, i)), default=0)
            chain = layers[:at] + (hid,) + layers[at:] + (base,)
            added.append(replace(
                t, id=hid + 1 + k, kind="chain", chain=chain, name=over_name(name, t.name),
                provider_id=guids[k], path=path,
                service_flags=chain_flags(t.service_flags, chain, lookup)))
        # instlsp's reorder: entries whose chain contains the hidden id first (§4.2 step 4).
        where: Callable[[int], int | None]
        if any(e.id in cat for e in added) or [e for e in cat.protocols if hid in e.chain]:
            entries = cat.protocols + tuple(added)
            order = [e for e in entries if hid in e.chain] + \
                [e for e in entries if hid not in e.chain]
            new_cat = cat.with_protocols(order)
            where = new_cat.position
        else:   # the usual case: only the new chain entries name the new id, no id repeats,
            #     so that order is: new chain entries, the catalog, the hidden entry.
            new_cat = cat.with_protocols((*added[1:], *cat.protocols, hidden))
            pos = {e.id: k for k, e in enumerate(added[1:], 1)}
            pos[hid] = len(new_cat.protocols)
            where = pos.get
        out = out.with_catalog(new_cat)
        for e in added:
            what = ("hidden entry of the LSP" if e.kind == "layered"
                    else f"chain {list(e.chain)}")
            changes.append(Change("add", b, e.id, display_name(e.name),
                                  detail=f"{what}; position {where(e.id)}"))
    return replace(out, next_entry_id=hid + 1 + len(tids)), changes, hid
