"""Protocol-catalog mutations: install, layer an LSP, chain-insert, reorder, uninstall.

Every operation is pure: ``(CatalogFile, ...) -> (CatalogFile, [Change])``.  A refusal raises
``WinsockError`` carrying the WSAE number Windows uses for it and returns nothing, so a caller never
sees half an operation.  Malformed arguments (no target mode, two placement modes, a bitness the
file does not have) raise ``UsageError`` instead.

Facts followed (winsock-semantics.md, anchor-tools.md):

* Ids come from the one shared ``next_entry_id`` counter, consecutively in list order, and are never
  reused; an entry installed into both catalogs gets the same id in both (§4.1, §4.7).
* New entries are appended at the end of the catalog (§4.1); an LSP install then moves every entry
  whose chain contains the new hidden id to the top, keeping relative order (§4.2, instlsp
  ReorderCatalog, anchor-tools §2.2 step 4).
* Hidden entry and chain entries follow instlsp's CreateDummyEntry / chain conventions (§1.2);
  chains are written ``[L, A, B]`` over a chain ``[A, B]``.  instlsp's own form ``[L, X, B]`` (X =
  the chain entry layered over) is read fine: a layer id that names a chain entry stands for that
  chain entry's LSP (its first element).
* A chain entry's XP1_IFS_HANDLES is kept equal to "every entry its chain names has
  XP1_IFS_HANDLES" whenever sporder writes that chain (§1.2: a non-IFS LSP clears it).
* Uninstall repairs dependants first, then deletes (instlsp RemoveProvider, anchor-tools §2.4).

Choices where the reference is silent (documented and tested):

* ``install_lsp`` refuses a target whose chain is already 6 long (instlsp's MAX_PROTOCOL_CHAIN-1
  rule); ``chain_insert`` allows chains up to MAX_PROTOCOL_CHAIN (7).
* A generated chain name ``"<LSP> over [<target>]"`` is cut to WSAPROTOCOL_LEN characters, as
  instlsp's StringCchPrintf into a WSAPROTOCOL_LEN+1 buffer does.
* The hidden entry's XP1_IFS_HANDLES is exactly ``ifs`` (only that flag is meaningful in
  WSCInstallProviderAndChains' dwServiceFlags, §4.2).
* Removing a base provider that chains still depend on is refused with WSANO_RECOVERY (the code
  Windows gives when the catalog's state makes an operation impossible, e.g. "no base provider",
  §4.1) unless ``cascade``.
* Chains that name a missing entry (orphans) are never layered over or inserted into (WSAEINVAL);
  uninstall them first.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .. import winsock as ws
from .._record import replace
from ..errors import UsageError, WinsockError
from ..formats.catalog_toml import normalize_guid
from ..model import Bitness, Catalog, CatalogFile, Change, ProtocolEntry
from ..names import display_name
from ..resolver import resolve

Result = tuple[CatalogFile, list[Change]]
Lookup = Callable[[int], "ProtocolEntry | None"]

NULL_GUID = "{00000000-0000-0000-0000-000000000000}"

# chain-insert --auto: LSP categories from the application side down to the wire (§7.1).
# Filtering/inspection first, then proxy/redirector, local cache, then the data-modifying and
# crypto/compression categories.  An LSP's rank is the smallest index among its categories; an
# LSP with none of these categories (uncategorized, or LSP_SYSTEM only) ranks len(ranking),
# after all of them.
DEFAULT_RANKING: tuple[str, ...] = (
    "LSP_FIREWALL", "LSP_INSPECTOR", "LSP_PROXY", "LSP_REDIRECTOR", "LSP_LOCAL_CACHE",
    "LSP_INBOUND_MODIFY", "LSP_OUTBOUND_MODIFY", "LSP_CRYPTO_COMPRESS",
)


def new_guid() -> str:
    """A fresh provider GUID in the catalog's form (upper case, braces)."""
    return "{" + str(uuid.uuid4()).upper() + "}"


# ---------------------------------------------------------------------------------------------
# Small shared helpers


def _refuse(error: int, message: str) -> WinsockError:
    return WinsockError(message, code=(ws.error_name(error) or "winsock-error").lower(),
                        winsock_error=error)


def _desc(e: ProtocolEntry) -> str:
    return f"{e.id} '{display_name(e.name)}'"


def _ids(ids: Iterable[int]) -> str:
    return ", ".join(str(i) for i in ids)


def _selected(f: CatalogFile, bitnesses: Sequence[str]) -> list[Bitness]:
    if not bitnesses:
        raise UsageError("No catalog selected (bitness must be 64, 32 or both).",
                         code="no-catalog")
    out: list[Bitness] = []
    for b in bitnesses:
        if b not in f.catalogs:
            have = " and ".join(f"{x}-bit" for x in f.bitnesses)
            raise UsageError(f"The catalog file has no {b}-bit catalog (it has the {have} one).",
                             code="no-such-catalog")
        if b not in out:
            out.append(b)  # type: ignore[arg-type]
    return out


def _guid(text: str) -> str:
    """§4.1/§4.3: a NULL or malformed provider GUID is an invalid argument (WSAEINVAL)."""
    g = normalize_guid(text)
    if g is None or g == NULL_GUID:
        raise _refuse(ws.WSAEINVAL, f"{text!r} is not a valid provider GUID "
                      "(expected a non-null GUID like {E70F1AA0-AB8B-11CF-8CA3-00805F48A192}).")
    return g


def _check_text(what: str, name: str, path: str) -> None:
    """WSCInstallProviderAndChains' limits (§4.1): name <= WSAPROTOCOL_LEN, path < MAX_PATH."""
    if len(name) > ws.WSAPROTOCOL_LEN:
        raise _refuse(ws.WSAEINVAL, f"The name of {what} is {len(name)} characters long; the "
                      f"limit is WSAPROTOCOL_LEN ({ws.WSAPROTOCOL_LEN}).")
    if not path or len(path) > ws.MAX_PATH - 1:
        raise _refuse(ws.WSAEINVAL, f"The DLL path of {what} is {len(path)} characters long; "
                      f"it must have 1 to {ws.MAX_PATH - 1} (MAX_PATH - 1).")
    if "\x00" in name or "\x00" in path:
        raise _refuse(ws.WSAEINVAL, f"The name or DLL path of {what} contains a NUL character.")


def _over_name(top: str, target: str) -> str:
    """instlsp's "%s over [%s]" chain name, cut to WSAPROTOCOL_LEN (§1.2)."""
    return f"{display_name(top)} over [{display_name(target)}]"[:ws.WSAPROTOCOL_LEN]


def _layer(lookup: Lookup, layer_id: int) -> ProtocolEntry | None:
    """The layered entry a chain element stands for: itself, or for instlsp's form, where a
    chain names another chain entry X in place of X's hidden entry, X's first element."""
    e = lookup(layer_id)
    if e is not None and e.kind == "chain" and e.chain:
        owner = lookup(e.chain[0])
        if owner is not None and owner.kind == "layered":
            return owner
    return e


def _layer_is_ifs(lookup: Lookup, layer_id: int) -> bool:
    e = _layer(lookup, layer_id)
    return e is not None and e.is_ifs


def _chain_flags(flags: int, chain: Sequence[int], lookup: Lookup) -> int:
    """XP1_IFS_HANDLES set exactly when every entry the chain names has it (§1.2)."""
    if all((e := lookup(i)) is not None and e.is_ifs for i in chain):
        return flags | ws.XP1_IFS_HANDLES
    return flags & ~ws.XP1_IFS_HANDLES


def _require_intact(cat: Catalog, e: ProtocolEntry) -> None:
    for i in e.chain:
        if i not in cat:
            raise _refuse(ws.WSAEINVAL, f"Chain entry {_desc(e)} names id {i}, which is not in "
                          f"the {cat.bitness}-bit catalog (an orphaned chain; uninstall it "
                          "first).")


# ---------------------------------------------------------------------------------------------
# The LSP map (instlsp BuildLspMap / LspDependencyCheck, anchor-tools §2.5)


@dataclass(frozen=True, slots=True)
class Lsp:
    """One installed LSP: its hidden entry and the chain entries whose FIRST element is it.

    ``hidden`` is None for the one synthetic record that groups orphaned chain entries (chains
    whose first element names no entry).  ``dependants`` are the hidden ids of other LSPs whose
    chains mention this LSP's hidden id or one of its chain-entry ids.
    """

    hidden: ProtocolEntry | None
    chains: tuple[ProtocolEntry, ...]
    dependants: tuple[int, ...] = ()

    @property
    def id(self) -> int | None:
        return None if self.hidden is None else self.hidden.id

    @property
    def name(self) -> str:
        return "Orphaned layered chain entries" if self.hidden is None else \
            display_name(self.hidden.name)

    @property
    def is_orphans(self) -> bool:
        return self.hidden is None

    @property
    def ids(self) -> tuple[int, ...]:
        """Hidden id first (if any), then the chain-entry ids in catalog order."""
        head = () if self.hidden is None else (self.hidden.id,)
        return head + tuple(c.id for c in self.chains)

    @property
    def guids(self) -> tuple[str, ...]:
        """The distinct GUIDs its entries were installed under, hidden entry's first."""
        head = () if self.hidden is None else (self.hidden.provider_id,)
        return tuple(dict.fromkeys(head + tuple(c.provider_id for c in self.chains)))


def _owned(catalog: Catalog) -> tuple[list[ProtocolEntry], dict[int, list[ProtocolEntry]],
                                     list[ProtocolEntry]]:
    """The hidden entries in catalog order, the chain entries each hidden id owns (those whose
    first element is it, in catalog order) and the orphaned chain entries: one pass."""
    hidden = [e for e in catalog.protocols if e.kind == "layered"]
    owned: dict[int, list[ProtocolEntry]] = {h.id: [] for h in hidden}
    orphans: list[ProtocolEntry] = []
    for e in catalog.protocols:
        if e.kind == "chain" and e.chain:
            if e.chain[0] in owned:
                owned[e.chain[0]].append(e)
            elif e.chain[0] not in catalog:
                orphans.append(e)
    return hidden, owned, orphans


def lsp_map(catalog: Catalog) -> list[Lsp]:
    """The LSPs of one catalog in the order of their hidden entries, then the orphan group.

    A chain entry whose first element names a base or chain entry (not an instlsp shape) belongs
    to no record.

    LSP J depends on LSP H when one of J's chain entries names H's hidden id or one of H's
    chain-entry ids.  Linear in the size of the catalog: every id an LSP owns is mapped to that
    LSP once, then every owned chain is walked once.
    """
    hidden, owned, orphans = _owned(catalog)
    # id -> the LSPs (hidden ids) owning it; more than one only when ids repeat.
    owners: dict[int, list[int]] = {}
    for k, chains in owned.items():
        for i in (k, *(c.id for c in chains)):
            owners.setdefault(i, []).append(k)
    deps: dict[int, set[int]] = {k: set() for k in owned}
    for j, chains in owned.items():
        for c in chains:
            for i in c.chain:
                for k in owners.get(i, ()):
                    if k != j:
                        deps[k].add(j)
    # Dependants in the order of their hidden entries (a repeated hidden id once per entry).
    rank: dict[int, list[int]] = {}
    for n, h in enumerate(hidden):
        rank.setdefault(h.id, []).append(n)
    ordered = {k: tuple(hidden[n].id for n in sorted(n for j in d for n in rank[j]))
               for k, d in deps.items()}
    out = [Lsp(h, tuple(owned[h.id]), ordered[h.id]) for h in hidden]
    if orphans:
        out.append(Lsp(None, tuple(orphans)))
    return out


# ---------------------------------------------------------------------------------------------
# 1. WSCInstallProvider (§4.1)


def _check_shape(n: int, e: ProtocolEntry) -> None:
    """kind follows ChainLen (§1.2): base/layered carry no chain, a chain names 2..7 ids once."""
    where = f"entry #{n} ({display_name(e.name)!r})"
    if e.kind != "chain":
        if e.chain:
            raise _refuse(ws.WSAEINVAL, f"The {where} is {e.kind} but lists a chain; only chain "
                          "entries have one.")
        return
    if not 2 <= len(e.chain) <= ws.MAX_PROTOCOL_CHAIN:
        raise _refuse(ws.WSAEINVAL, f"The chain of {where} has {len(e.chain)} ids; a chain "
                      f"names 2 to MAX_PROTOCOL_CHAIN ({ws.MAX_PROTOCOL_CHAIN}).")
    if len(set(e.chain)) != len(e.chain):
        raise _refuse(ws.WSAEINVAL, f"The chain of {where} names the same id twice; a chain may "
                      "not contain a layer twice.")


def _check_chain_refs(cat: Catalog, n: int, e: ProtocolEntry) -> None:
    """A chain can only be installed after its components (§1.2): every id exists, the last is
    a base provider, the others are layers (layered entries, or chain entries in instlsp form)."""
    where = f"entry #{n} ({display_name(e.name)!r})"
    for k, i in enumerate(e.chain):
        other = cat.get(i)
        if other is None:
            raise _refuse(ws.WSAEINVAL, f"The chain of {where} names id {i}, which is not in the "
                          f"{cat.bitness}-bit catalog.")
        last = k == len(e.chain) - 1
        if last and other.kind != "base":
            raise _refuse(ws.WSAEINVAL, f"The chain of {where} ends with {_desc(other)}, which is "
                          "not a base provider.")
        if not last and other.kind == "base":
            raise _refuse(ws.WSAEINVAL, f"The chain of {where} names base provider "
                          f"{_desc(other)} before its end; only the last id is the base.")


def install(f: CatalogFile, entries: Sequence[ProtocolEntry], provider_id: str,
            bitnesses: Sequence[str], *, exist_ok: bool = False) -> Result:
    """WSCInstallProvider(64_32): append ``entries`` under ``provider_id`` to each catalog.

    The ids in ``entries`` are ignored; ids are assigned from ``next_entry_id`` in list order and
    are the same in every selected catalog.  A GUID already present is refused (WSANO_RECOVERY),
    unless ``exist_ok`` and every selected catalog holds exactly the requested entries (all
    fields but the id) under it: then nothing changes.
    """
    cats = _selected(f, bitnesses)
    guid = _guid(provider_id)
    if not entries:
        raise _refuse(ws.WSAEINVAL, f"No protocol entries given to install for provider {guid}.")
    for n, e in enumerate(entries, 1):      # (no check reads the provider id or the id)
        _check_text(f"entry #{n}", e.name, e.path)
        _check_shape(n, e)
    present = {b: [e for e in f.catalog(b).protocols if e.provider_id == guid] for b in cats}
    if any(present.values()):
        key = [replace(e, id=0, provider_id=guid) for e in entries]
        if exist_ok and all([replace(e, id=0) for e in present[b]] == key for b in cats):
            return f, []
        b = next(b for b in cats if present[b])
        extra = ("; with exist_ok its entries must equal the requested ones in every field but "
                 "the id") if exist_ok else ""
        raise _refuse(ws.WSANO_RECOVERY, f"Provider {guid} is already installed in the {b}-bit "
                      f"catalog (ids {_ids(e.id for e in present[b])}){extra}.")
    for b in cats:
        for n, e in enumerate(entries, 1):
            _check_chain_refs(f.catalog(b), n, e)
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


# ---------------------------------------------------------------------------------------------
# 2. Installing an LSP (§4.2; instlsp InstallLsp, anchor-tools §2.2)


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
                raise _refuse(ws.WSAEINVAL, f"Entry {i} is not in the {cat.bitness}-bit catalog, "
                              "so no LSP can be layered over it there.")
            if e.kind == "layered":
                raise _refuse(ws.WSAEINVAL, f"Entry {_desc(e)} is a layered (hidden) entry; an "
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
        raise _refuse(ws.WSANO_RECOVERY, f"The {cat.bitness}-bit catalog has no provider to "
                      "layer over.")
    for e in picks.values():
        _require_intact(cat, e)
        if e.chain_len >= ws.MAX_PROTOCOL_CHAIN - 1:
            raise _refuse(ws.WSANO_RECOVERY, f"Entry {_desc(e)} already has a chain of "
                          f"{e.chain_len} (MAX_PROTOCOL_CHAIN is {ws.MAX_PROTOCOL_CHAIN}); no "
                          "further LSP can be layered over it.")
    return list(picks.values())


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
    cats = _selected(f, bitnesses)
    guid = _guid(provider_id)
    _check_text(f"LSP {ws.shown(name)}", name, path)
    if not 0 <= categories <= ws.DWORD_MAX:
        raise UsageError(f"LSP categories {categories} are outside the range of a DWORD.",
                         code="bad-value")
    for b in cats:
        have = [e.id for e in f.catalog(b).protocols if e.provider_id == guid]
        if have:
            raise _refuse(ws.WSANO_RECOVERY, f"Provider {guid} is already installed in the "
                          f"{b}-bit catalog (ids {_ids(have)}).")
    per_cat = {b: _targets(f.catalog(b), targets) for b in cats}
    tids = [e.id for e in per_cat[cats[0]]]
    for b in cats[1:]:
        other = [e.id for e in per_cat[b]]
        if other != tids:
            raise _refuse(ws.WSAEINVAL, f"The {cats[0]}-bit and {b}-bit catalogs give different "
                          f"targets (ids {_ids(tids)} vs {_ids(other)}); install into one catalog "
                          "at a time (--bitness).")
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
                t, id=hid + 1 + k, kind="chain", chain=chain, name=_over_name(name, t.name),
                provider_id=guids[k], path=path,
                service_flags=_chain_flags(t.service_flags, chain, lookup)))
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


# ---------------------------------------------------------------------------------------------
# 3. Inserting an installed LSP into existing chains (WSCUpdateProvider in place, §4.5)


def _ranking(names: Sequence[str]) -> list[tuple[str, int]]:
    out = []
    for n in names:
        bit = ws.parse_flags([n], ws.LSP_CATEGORIES, "LSP category")
        out.append((ws.format_flags(bit, ws.LSP_CATEGORIES), bit))
    return out


def _rank(categories: int, order: list[tuple[str, int]]) -> tuple[int, str]:
    for k, (label, bit) in enumerate(order):
        if categories & bit:
            return k, label
    return len(order), "uncategorized"


def _auto_position(cat: Catalog, chain: tuple[int, ...], lsp: ProtocolEntry,
                   order: list[tuple[str, int]]) -> tuple[int, str]:
    """Rank placement, then the IFS rule by clamping (anchor-tools §2.2)."""
    layers = chain[:-1]
    entries = [_layer(cat.get, i) for i in layers]
    ranks = [_rank(e.lsp_categories if e else 0, order) for e in entries]
    r, label = _rank(lsp.lsp_categories, order)
    pref = next((k for k, (q, _) in enumerate(ranks) if q > r), len(layers))

    def about(k: int) -> str:
        e = entries[k]
        name = f" '{display_name(e.name)}'" if e else ""
        return f"rank {ranks[k][0]} ({ranks[k][1]}) of {layers[k]}{name}"

    parts = ([f"is below {about(pref - 1)}"] if pref > 0 else []) + \
        ([f"is above {about(pref)}"] if pref < len(layers) else [])
    ifs = [e is not None and e.is_ifs for e in entries]
    if lsp.is_ifs:
        at = max(pref, max((k + 1 for k, x in enumerate(ifs) if not x), default=0))
        rule = "an IFS LSP is never above a non-IFS one"
    else:
        at = min(pref, min((k for k, x in enumerate(ifs) if x), default=len(layers)))
        rule = "a non-IFS LSP is never below an IFS one"
    text = f"rank {r} ({label}) " + " and ".join(parts)
    if at != pref:
        text += f"; the IFS rule ({rule}) moves it from position {pref}"
    return at, f"{text}; placed at position {at}"


def _position(cat: Catalog, c: ProtocolEntry, lsp: ProtocolEntry, position: int | None,
              above: int | None, below: int | None, auto: bool,
              order: list[tuple[str, int]]) -> tuple[int, str]:
    chain = c.chain
    if auto:
        return _auto_position(cat, chain, lsp, order)
    if position is not None:
        if not 0 <= position <= len(chain) - 1:
            raise _refuse(ws.WSAEINVAL, f"Position {position} is outside 0..{len(chain) - 1} for "
                          f"chain entry {_desc(c)} (0 = top; its base provider {chain[-1]} stays "
                          "last).")
        return position, f"placed at position {position}"
    anchor = above if above is not None else below
    if anchor is None:
        return 0, "placed at the top (position 0)"
    if anchor not in chain or (below is not None and anchor == chain[-1]):
        where = "is not in" if anchor not in chain else "is the base provider of"
        raise _refuse(ws.WSAEINVAL, f"Layer {anchor} {where} chain entry {_desc(c)}, so nothing "
                      f"can be placed {'above' if above is not None else 'below'} it there.")
    at = chain.index(anchor) + (below is not None)
    return at, f"placed {'above' if above is not None else 'below'} {anchor} at position {at}"


def chain_insert(f: CatalogFile, lsp_id: int, *, chains: tuple[int, ...] = (),
                 all_over: int | None = None, position: int | None = None,
                 above: int | None = None, below: int | None = None, auto: bool = False,
                 ranking: tuple[str, ...] | None = None, bitnesses: Sequence[str]) -> Result:
    """Put the installed LSP ``lsp_id`` (its hidden entry) into existing chain entries in place.

    ``chains`` names chain entries; ``all_over=X`` adds every chain entry whose chain contains X
    and does not already contain the LSP.  Placement: ``position`` (index, 0 = top, at most
    len-1 so the base stays last), ``above``/``below`` a layer, ``auto`` (by LSP categories with
    ``ranking``, else the file's ``lsp_ranking``, else DEFAULT_RANKING, then the IFS rule), or
    by default the top.  Ids, GUIDs, names and catalog order are kept.  Explicit placements are
    honoured as given (the IFS rule only steers ``auto``).
    """
    cats = _selected(f, bitnesses)
    if sum(x is not None for x in (position, above, below)) + auto > 1:
        raise UsageError("Give at most one of position, above, below and auto.",
                         code="bad-placement")
    if not chains and all_over is None:
        raise UsageError("Name the chain entries to change, or a layer they all contain "
                         "(all_over).", code="no-chains")
    order = _ranking(ranking if ranking is not None else (f.lsp_ranking or DEFAULT_RANKING))
    out, changes = f, []
    for b in cats:
        cat = f.catalog(b)
        lsp = cat.get(lsp_id)
        if lsp is None or lsp.kind != "layered":
            what = "is not in" if lsp is None else f"is a {lsp.kind} entry in"
            raise _refuse(ws.WSAEINVAL, f"Entry {lsp_id} {what} the {b}-bit catalog, not an "
                          "LSP's layered (hidden) entry.")
        picked: set[int] = set()
        for i in chains:
            c = cat.get(i)
            if c is None or c.kind != "chain":
                what = "is not in" if c is None else f"is a {c.kind} entry in"
                raise _refuse(ws.WSAEINVAL, f"Entry {i} {what} the {b}-bit catalog, not a chain "
                              "entry.")
            picked.add(i)
        if all_over is not None:
            if all_over not in cat:
                raise _refuse(ws.WSAEINVAL, f"Entry {all_over} is not in the {b}-bit catalog.")
            found = {e.id for e in cat.protocols
                     if e.kind == "chain" and all_over in e.chain and lsp_id not in e.chain}
            if not found and not chains:
                raise _refuse(ws.WSAEINVAL, f"No chain entry in the {b}-bit catalog layers over "
                              f"{all_over} without already containing {lsp_id}.")
            picked |= found
        updated: dict[int, ProtocolEntry] = {}
        for c in cat.protocols:
            if c.id not in picked:
                continue
            if lsp_id in c.chain:
                raise _refuse(ws.WSAEINVAL, f"Chain entry {_desc(c)} already contains layer "
                              f"{lsp_id}; a chain may not contain a layer twice.")
            _require_intact(cat, c)
            if len(c.chain) >= ws.MAX_PROTOCOL_CHAIN:
                raise _refuse(ws.WSANO_RECOVERY, f"Chain entry {_desc(c)} already has "
                              f"{len(c.chain)} ids; MAX_PROTOCOL_CHAIN is "
                              f"{ws.MAX_PROTOCOL_CHAIN}.")
            at, why = _position(cat, c, lsp, position, above, below, auto, order)
            chain = c.chain[:at] + (lsp_id,) + c.chain[at:]
            new = replace(c, chain=chain, service_flags=_chain_flags(c.service_flags, chain,
                                                                     cat.get))
            updated[c.id] = new
            changes.append(Change("update", b, c.id, display_name(c.name),
                                  _fields(c, new), why))
        out = out.with_catalog(cat.with_protocols([updated.get(e.id, e) for e in cat.protocols]))
    return out, changes


def _fields(old: ProtocolEntry, new: ProtocolEntry) -> tuple[tuple[str, object, object], ...]:
    out: list[tuple[str, object, object]] = [("chain", list(old.chain), list(new.chain))]
    if old.name != new.name:
        out.append(("name", old.name, new.name))
    if old.service_flags != new.service_flags:
        out.append(("service_flags", old.service_flags, new.service_flags))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# 4. WSCWriteProviderOrder (§4.4)


def reorder(f: CatalogFile, ids: Sequence[int], bitness: str) -> Result:
    """Write a new order: ``ids`` must be an exact permutation of the catalog's ids (§4.4)."""
    b = _selected(f, [bitness])[0]
    cat = f.catalog(b)
    ids = list(ids)
    counts = Counter(ids)
    problems = []
    if missing := [i for i in cat.ids if i not in counts]:
        problems.append(f"missing {_ids(missing)}")
    if dup := [i for i, n in counts.items() if n > 1]:
        problems.append(f"duplicated {_ids(dup)}")
    if unknown := [i for i in counts if i not in cat]:
        problems.append(f"unknown {_ids(unknown)}")
    if problems:
        raise _refuse(ws.WSAEINVAL, f"The new order of the {b}-bit catalog must list each of its "
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
    b = _selected(f, [bitness])[0]
    cat = f.catalog(b)
    ids = cat.ids       # (looked up in the list: cheaper than building the catalog's index)
    if entry_id not in ids:
        raise _refuse(ws.WSAEINVAL, f"Entry {entry_id} is not in the {b}-bit catalog.")
    rest = [i for i in ids if i != entry_id]
    if top or bottom:
        at = 0 if top else len(rest)
    elif position is not None:
        if not 1 <= position <= len(ids):
            raise _refuse(ws.WSAEINVAL, f"Position {position} is outside 1..{len(ids)} of "
                          f"the {b}-bit catalog.")
        at = position - 1
    else:
        anchor = before if before is not None else after
        if anchor == entry_id or anchor not in ids:
            why = "is the entry being moved" if anchor == entry_id else "is not in the catalog"
            raise _refuse(ws.WSAEINVAL, f"Entry {anchor} {why}, so entry {entry_id} cannot be "
                          f"moved {'before' if before is not None else 'after'} it in the "
                          f"{b}-bit catalog.")
        at = rest.index(anchor) + (after is not None)  # type: ignore[arg-type]
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


# ---------------------------------------------------------------------------------------------
# 5. Uninstall: WSCDeinstallProvider (§4.3), with instlsp's repair (anchor-tools §2.4)


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
            own.update({c.id: name for c in chains if c.chain and c.chain[0] == owner})
        elif e.kind == "base":
            bases.append(e)
        else:
            gone[e.id] = ("orphaned chain entry (its first id names no entry)"
                          if e.chain[0] not in cat else "chain entry owned by no LSP")
    if bases:
        base_ids = {e.id for e in bases}
        deps = [c for c in cat.protocols
                if c.kind == "chain" and base_ids.intersection(c.chain) and c.id not in gone]
        if deps and not cascade:
            raise _refuse(ws.WSANO_RECOVERY, f"Base provider(s) {_ids(sorted(base_ids))} in the "
                          f"{cat.bitness}-bit catalog cannot be removed while chain entries "
                          f"{_ids(c.id for c in deps)} depend on them (remove those LSPs first, "
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
        top, base = _layer(lookup, chain[0]), lookup(chain[-1])
        name = _over_name(top.name, base.name) if c.id in own and top and base else c.name
        new = replace(c, chain=chain, name=name,
                      service_flags=_chain_flags(c.service_flags, chain, lookup))
        updated[c.id] = new
        changes.append(Change("update", cat.bitness, c.id, display_name(c.name), _fields(c, new),
                              f"removed {_ids(i for i in c.chain if i in strip)} from its chain"))
    changes += [Change("remove", cat.bitness, e.id, display_name(e.name), detail=gone[e.id])
                for e in cat.protocols if e.id in gone]
    return cat.with_protocols([updated.get(e.id, e) for e in cat.protocols
                               if e.id not in gone]), changes


def uninstall(f: CatalogFile, *, entry_id: int | None = None, provider_id: str | None = None,
              cascade: bool = False, repair: bool = True, bitnesses: Sequence[str]) -> Result:
    """Remove an LSP whole, a base provider, or an orphaned chain entry; repair dependants.

    Given an LSP's hidden id, any of its chain-entry ids, or a GUID of either, the whole LSP goes
    (instlsp RemoveProvider): its ids are stripped from every other chain (ids and order kept);
    its own chain entries are deleted, except one still holding other layers, which is kept
    without it and renamed ``"<new top layer> over [<base>]"``; any chain left with only its base
    provider is deleted.  A base provider (by id, or all entries of its GUID) is refused with
    WSANO_RECOVERY while chains depend on it, unless ``cascade`` (those chains go too).  An
    orphaned chain entry is simply removed.  ``repair=False`` is the raw WSCDeinstallProvider:
    every entry carrying the GUID (for ``entry_id``: that entry's GUID) is removed and dangling
    chains stay.  Each selected catalog is handled on its own; the id/GUID must exist in at least
    one (else WSAEINVAL, §4.10 M4).  ``next_entry_id`` never goes back.
    """
    cats = _selected(f, bitnesses)
    if (entry_id is None) == (provider_id is None):
        raise UsageError("Give either an entry id or a provider GUID to uninstall.",
                         code="bad-target")
    guid = _guid(provider_id) if provider_id is not None else None
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
        raise _refuse(ws.WSAEINVAL, f"There is no {what} in the "
                      f"{' or '.join(b + '-bit' for b in cats)} catalog to uninstall.")
    return out, changes
