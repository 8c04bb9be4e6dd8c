"""Installing an LSP: one hidden entry plus a chain entry per target (§4.2; instlsp InstallLsp,
anchor-tools §2.2), then instlsp's reorder so that the new chains win.

Every chain entry it writes carries the LSP's own DLL path (ws2_32 loads the chosen entry's own
path, ReactOS ``WsTcLoadProvider``; instlsp ``InstallProvider(cat, &new.ProviderId, path, ...)``)
and a fresh GUID; the 32-bit catalog gets ``path32`` when given (WSCInstallProviderAndChains64_32's
``lpszProviderDllPath32``, instlsp ``-d32``), else the same path, which the plan says.

An IFS LSP over a chain with a non-IFS layer follows instlsp's ``InstallIfsLspProtocolChains``
(lspadd.cpp; /work/notes/instlsp-13.md §1): for the lowest non-IFS layer ``k`` of the target
(scanning ``chain[len-2]`` up to ``chain[0]`` with ``IsNonIfsProvider``: the entry of that id
lacks XP1_IFS_HANDLES; an unknown id counts as IFS), the LSP gets its own subset chain
``[L] + chain[k+1:]`` (``BuildSubsetLspChain``: ``[L, base]`` below a non-IFS ``[N, base]``),
and the target is updated in place (WSCUpdateProvider: its id, GUID, path, name and flags kept)
with the new chain entry's id inserted directly below that layer (``InsertIdIntoProtocolChain``
at ``k+1``: ``[N, Le, base]``; instlsp writes L's new *chain entry* id there, not its hidden id).
``InsertIfsLspIntoAllChains`` does the same to the chain entry each layer above ``k`` stands
for.  The order then written is instlsp's ``WriteProviderOrder`` of that path: the targets, the
chain entries of the LSPs their new chains name in the middle (this brings ``Le`` directly under
the updated target), then the rest.  Removing L later strips ``Le`` from those chains again
(``uninstall``, instlsp ``RemoveProvider`` / ``RemoveIdFromChain``).

Where sporder departs from instlsp's code (documented bugs, not behaviour to copy):
``bContainsNonIfs`` is reset per target (instlsp leaks it, making a later base target a bogus
*base* entry); a base target in that order is replaced by L's chain entry over it (instlsp lists
the base itself, above L's chain, which would never be reached); a layer's chain entry is found
by its exact chain suffix, not instlsp's "first entry with the same triple and ChainLen i+1"
heuristic, and gets one placeholder (below its lowest non-IFS layer), never two; an entry already
updated by this install is not updated twice.

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
from ..effects import resolve_many
from ..errors import OperationRefused, UsageError, WinsockError
from ..model import Bitness, Catalog, CatalogFile, Change, ProtocolEntry
from ..names import display_name
from .chain_entry import chain_flags, changed_fields, over_name
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
        picks = _over_all_targets(cat, targets.over_base_only)
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


def _non_ifs(cat: Catalog, layer_id: int) -> bool:
    """instlsp ``IsNonIfsProvider``: the entry with that id lacks XP1_IFS_HANDLES (an unknown id
    counts as IFS)."""
    e = cat.get(layer_id)
    return e is not None and not e.is_ifs


def _lowest_non_ifs(cat: Catalog, chain: tuple[int, ...]) -> int | None:
    """instlsp's scan ``for k = ChainLen-2 down to 0``: the index of the lowest non-IFS layer."""
    return next((k for k in range(len(chain) - 2, -1, -1) if _non_ifs(cat, chain[k])), None)


def _layer_chain_entry(cat: Catalog, target: ProtocolEntry, i: int) -> ProtocolEntry | None:
    """The chain entry ``target.chain[i]`` stands for (instlsp ``InsertIfsLspIntoAllChains``):
    the element itself when it is a chain entry (instlsp's form ``[M, Ne, B]``), else the first
    entry whose chain is exactly ``target.chain[i:]`` (sporder's form ``[M, N, B]`` over
    ``[N, B]``)."""
    e = cat.get(target.chain[i])
    if e is not None and e.kind == "chain":
        return e
    suffix = target.chain[i:]
    return next((c for c in cat.protocols if c.kind == "chain" and c.chain == suffix), None)


def _insert_below_lowest_non_ifs(cat: Catalog, e: ProtocolEntry,
                                 new_id: int) -> ProtocolEntry | None:
    k = _lowest_non_ifs(cat, e.chain)
    if k is None or len(e.chain) >= ws.MAX_PROTOCOL_CHAIN:
        return None
    return replace(e, chain=e.chain[:k + 1] + (new_id,) + e.chain[k + 1:])


def _over_all_targets(cat: Catalog, base_only: bool) -> dict[int, ProtocolEntry]:
    picks: dict[int, ProtocolEntry] = {}
    firsts: dict[tuple[int, int, int], ProtocolEntry] = {}
    for e in cat.protocols:
        if e.kind == "layered" or (base_only and e.kind != "base"):
            continue
        firsts.setdefault(e.triple, e)
    # over_all: what socket(triple) picks today (so LSPs stack); the entry itself when nothing
    # matches (protocol 0 without PFL_MATCHES_PROTOCOL_ZERO).  One walk for all triples.
    got = resolve_many(cat, firsts) if not base_only else {}
    for t, e in firsts.items():
        pick = got.get(t)
        chosen = pick if isinstance(pick, ProtocolEntry) else e
        picks.setdefault(chosen.id, chosen)
    return picks


def install_lsp(f: CatalogFile, *, name: str, path: str, provider_id: str, targets: Targets,
                ifs: bool = False, categories: int = 0, bitnesses: Sequence[str],
                new_guid: Callable[[], str] = new_guid,
                path32: str | None = None,
                exist_ok: bool = False) -> tuple[CatalogFile, list[Change], int]:
    """Install an LSP: one hidden entry plus one chain entry per target; returns the hidden id.

    Ids: hidden first, then the chain entries in target order.  A chain over ``[A, B]`` is
    ``[L, A, B]``.  An IFS LSP over a chain with a non-IFS layer N follows instlsp's
    ``InstallIfsLspProtocolChains`` (module doc): its own chain is ``[L] + the part below N``
    and the target is updated in place to hold that new entry directly below N.  Each chain
    entry gets its own GUID from ``new_guid`` (the same in both catalogs) and the LSP's path
    (``path32`` in the 32-bit catalog when given).  Targets are computed per catalog and must
    be the same ids in every selected catalog.
    """
    cats = selected(f, bitnesses)
    guid = provider_guid(provider_id)
    check_text(f"LSP {ws.shown(name)}", name, path)
    if path32 is not None:
        check_text(f"LSP {ws.shown(name)} (32-bit path)", name, path32)
    if not 0 <= categories <= ws.DWORD_MAX:
        raise UsageError(f"LSP categories {categories} are outside the range of a DWORD.",
                         code="bad-value")
    installed = [b for b in cats if any(e.provider_id == guid for e in f.catalog(b).protocols)]
    if installed:
        if not exist_ok:
            have = [e.id for e in f.catalog(installed[0]).protocols if e.provider_id == guid]
            raise WinsockError(f"Provider {guid} is already installed in the {installed[0]}-bit "
                               f"catalog (ids {id_list(have)}); --exist-ok accepts an identical "
                               "installation.", code="already-installed",
                               winsock_error=ws.WSANO_RECOVERY)
        return _already(f, cats, installed, guid, name=name, path=path, path32=path32,
                        categories=categories, targets=targets, ifs=ifs)
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
        # path32 is the WOW64 catalog's DLL (lpszProviderDllPath32); a 32-bit system's only
        # catalog is its native one and takes --path.
        dll = path32 if b == "32" and "64" in f.catalogs and path32 is not None else path
        same = b == "32" and path32 is None and "64" in cats
        new_cat, ch = _install_one(cat, per_cat[b], hid, guids, name=name, path=dll,
                                   guid=guid, ifs=ifs, categories=categories, same_path=same)
        out = out.with_catalog(new_cat)
        changes += ch
    return replace(out, next_entry_id=hid + 1 + len(tids)), changes, hid


def _install_one(cat: Catalog, targets: list[ProtocolEntry], hid: int, guids: list[str], *,
                 name: str, path: str, guid: str, ifs: bool, categories: int,
                 same_path: bool = False) -> tuple[Catalog, list[Change]]:
    """One catalog's part of ``install_lsp``: the new catalog and its changes."""
    b = cat.bitness
    first = targets[0]
    hidden = replace(
        first, id=hid, kind="layered", chain=(), name=name, path=path, provider_id=guid,
        socket_type=0, protocol=0, protocol_max_offset=0, lsp_categories=categories,
        provider_flags=(first.provider_flags | ws.PFL_HIDDEN) & ~ws.PFL_MATCHES_PROTOCOL_ZERO,
        service_flags=(first.service_flags | ws.XP1_IFS_HANDLES) if ifs
        else first.service_flags & ~ws.XP1_IFS_HANDLES)

    def lookup(i: int) -> ProtocolEntry | None:
        return hidden if i == hid else cat.get(i)

    added = [hidden]
    updated: dict[int, ProtocolEntry] = {}          # existing entries updated in place
    why: dict[int, str] = {}
    patched_targets: list[ProtocolEntry] = []       # targets that took instlsp's IFS path
    firsts: list[int] = []                          # instlsp's order, step 1
    for k, t in enumerate(targets):
        new_id = hid + 1 + k
        low = _lowest_non_ifs(cat, t.chain) if ifs and t.kind == "chain" else None
        if low is None:                 # the usual case: [L] + the target's stack
            chain = (hid,) + t.chain_ids
            firsts.append(new_id)
        else:                           # InstallIfsLspProtocolChains, bLayeredOverNonIfs
            chain = (hid,) + t.chain[low + 1:]                       # BuildSubsetLspChain
            layer = cat.get(t.chain[low])
            layer_name = f" '{display_name(layer.name)}'" if layer is not None else ""
            if t.id not in updated:
                cur = t
                updated[t.id] = replace(cur, chain=cur.chain[:low + 1] + (new_id,) +
                                        cur.chain[low + 1:])        # InsertIdIntoProtocolChain
                why[t.id] = (f"IFS LSP '{display_name(name)}' goes directly below non-IFS "
                             f"layer {t.chain[low]}{layer_name}: its chain entry {new_id} "
                             "inserted in place (instlsp InstallIfsLspProtocolChains); id, "
                             "GUID, path and name kept")
                patched_targets.append(updated[t.id])
                for i in range(low, 0, -1):                         # InsertIfsLspIntoAllChains
                    e = _layer_chain_entry(cat, t, i)
                    if e is None or e.id in updated:
                        continue
                    new_e = _insert_below_lowest_non_ifs(cat, e, new_id)
                    if new_e is not None:
                        updated[e.id] = new_e
                        why[e.id] = (f"layer {t.chain[i]} of target {t.id} stands for this "
                                     f"entry: IFS LSP chain entry {new_id} inserted below its "
                                     "lowest non-IFS layer (instlsp InsertIfsLspIntoAllChains)")
            firsts.append(t.id)
        added.append(replace(
            t, id=new_id, kind="chain", chain=chain, name=over_name(name, t.name),
            provider_id=guids[k], path=path,
            service_flags=chain_flags(t.service_flags, chain, lookup)))
    where: Callable[[int], int | None]
    if updated:
        # instlsp's WriteProviderOrder after Step C: the targets (L's chain entry in place of a
        # target that was not updated), the chain entries of each layer named in the middle of
        # an updated target's new chain, then the rest (P3: the catalog after the install).
        entries = [updated.get(e.id, e) for e in cat.protocols] + added
        by_id = {e.id: e for e in entries}
        placed: set[int] = set()
        order: list[ProtocolEntry] = []
        for i in firsts:
            if i not in placed and i in by_id:
                placed.add(i)
                order.append(by_id[i])
        for t in patched_targets:
            for x in t.chain[1:-1]:
                xe = by_id.get(x)
                dummy = xe.chain[0] if xe is not None and xe.kind == "chain" and xe.chain \
                    else x                                  # FindDummyIdFromProtocolChainId
                for e in entries:
                    if e.kind == "chain" and e.chain and e.chain[0] == dummy \
                            and e.id not in placed:
                        placed.add(e.id)
                        order.append(e)
        order += [e for e in entries if e.id not in placed]
        new_cat = cat.with_protocols(order)
        where = new_cat.position
    elif any(e.id in cat for e in added) or [e for e in cat.protocols if hid in e.chain]:
        # instlsp's reorder: entries whose chain contains the hidden id first (§4.2 step 4).
        entries = list(cat.protocols) + added
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
    changes: list[Change] = []
    for e in added:
        what = ("hidden entry of the LSP" if e.kind == "layered"
                else f"chain {list(e.chain)}")
        if same_path and e.kind == "layered":
            what += (" (DLL path: the 64-bit one, also for its chain entries: no separate "
                     "32-bit path given)")
        changes.append(Change("add", b, e.id, display_name(e.name),
                              detail=f"{what}; position {where(e.id)}"))
    for e in cat.protocols:
        if e.id in updated:
            changes.append(Change("update", b, e.id, display_name(e.name),
                                  changed_fields(e, updated[e.id]), why[e.id]))
    return new_cat, changes


def _already(f: CatalogFile, cats: Sequence[Bitness], installed: Sequence[Bitness], guid: str, *,
             name: str, path: str, path32: str | None, categories: int, targets: Targets,
             ifs: bool) -> tuple[CatalogFile, list[Change], int]:
    """``exist_ok``: the LSP with this GUID is installed the same way in every selected catalog
    -- one hidden entry with the same name, DLL path and categories, and chain entries over the
    same (family, type, protocol) triples that a fresh install would layer over -- then nothing
    changes; otherwise one sentence says what differs (exit 1).  The targets are computed on the
    catalog without the LSP, so ``--over-all`` compares with what it would pick today."""
    from ..resolver import request_text
    from .uninstall import uninstall
    differs: list[str] = []
    hidden_id = 0
    for b in cats:
        cat = f.catalog(b)
        if b not in installed:
            differs.append(f"it is not installed in the {b}-bit catalog")
            continue
        hidden = [e for e in cat.protocols if e.provider_id == guid and e.kind == "layered"]
        if len(hidden) != 1:
            differs.append(f"GUID {guid} is not one LSP's hidden entry in the {b}-bit catalog")
            continue
        h = hidden[0]
        hidden_id = h.id
        want_path = (path32 if b == "32" and "64" in f.catalogs and path32 is not None
                     else path)
        for what, have, want in (("name", h.name, name), ("path", h.path, want_path)):
            if have != want:
                differs.append(f"{b}-bit {what} is {ws.shown(have)}, not {ws.shown(want)}")
        if h.lsp_categories != categories:
            differs.append(f"{b}-bit categories are {h.lsp_categories:#x}, not {categories:#x}")
        own = [e for e in cat.protocols if e.kind == "chain" and e.chain[0] == h.id]
        if own and any(e.is_ifs != ifs for e in own):   # instlsp sets XP1_IFS_HANDLES on them
            differs.append(f"{b}-bit chains are {'non-' if ifs else ''}IFS, not "
                           f"{'' if ifs else 'non-'}IFS")
        without, _ = uninstall(f, entry_id=h.id, bitnesses=[b])
        want_triples = {t.triple for t in _targets(without.catalog(b), targets)}
        have_triples = {e.triple for e in cat.protocols
                        if e.kind == "chain" and e.chain[0] == h.id}
        for label, extra in (("also layers over", have_triples - want_triples),
                             ("does not layer over", want_triples - have_triples)):
            if extra:
                differs.append(f"{b}-bit catalog {label} " + ", ".join(
                    f"({request_text(*t)})" for t in sorted(extra)))
    if differs:
        # One sentence; what differs the same way in both catalogs is said once.
        plain = [d.removeprefix("64-bit ").removeprefix("32-bit ") for d in differs]
        if len(cats) == 2 and len(plain) % 2 == 0 and plain[:len(plain) // 2] == \
                plain[len(plain) // 2:]:
            differs = [f"in both catalogs, {d}" for d in plain[:len(plain) // 2]]
        raise OperationRefused(f"Provider {guid} is installed differently: "
                               f"{'; '.join(differs)}.", code="installed-differently",
                               winsock_error=ws.WSANO_RECOVERY)
    return f, [], hidden_id
