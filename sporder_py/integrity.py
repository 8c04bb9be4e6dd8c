"""Integrity checks (``doctor``) and repairs (``doctor --fix``) for a catalog file.

``check`` reports :class:`Finding` s with stable codes; ``fix`` applies the repairs it can make
by editing the catalog, entry by entry, each explained by a :class:`~sporder_py.model.Change`.
Both are pure: whether a DLL exists is asked through the ``dll_exists`` callable the caller
passes, and :func:`windows_path_under_root` maps a stored path onto a directory tree.

Facts used (reference/winsock-semantics.md, anchor-tools.md):

* Orphans are chain entries whose ``ChainEntries[0]`` names no catalog entry (instlsp's
  ``CountOrphanedChainEntries``, anchor-tools §2.5).  Windows does not repair chains when an
  LSP is deinstalled (winsock-semantics §4.3, mutation vector M8); the dangling chain stays
  selectable and socket creation through it fails when the provider is loaded
  (WSAEPROVIDERFAILEDINIT), which is ``broken-base-shadowed`` when it hides a base provider.
* Chains hold 2..MAX_PROTOCOL_CHAIN (7) ids, top layer first, base provider last (§1.2).
* instlsp writes the target's own chain-entry id in second place when layering over another
  LSP's chain (anchor-tools §2.2 step 3): ``[L, X, ..., base]`` with X a chain entry is healthy.
* An IFS LSP must sit below every non-IFS LSP in a chain (instlsp IFS rule, anchor-tools §2.2).
* An LSP's hidden entry carries PFL_HIDDEN (§1.2 dummy-entry convention); namespace providers
  are identified by GUID (§6).
* Repair tools remove orphans and close gaps (LSP-Fix, anchor-tools §4.1); missing DLLs are
  detected, not repaired, by HijackThis O10 and Autoruns (§4.2, §4.4).
* ws2_32 loads the DLL named by the chosen entry's own provider path (ReactOS
  ``WsTcLoadProvider`` -> ``WsTpInitialize(CatalogEntry->DllPath)``); the LSP in it walks the
  rest of the chain.  So a chain entry must carry the path of its top layer, the LSP whose
  hidden entry is ``chain[0]`` in the same catalog (``chain-path-mismatch``, an error: Windows
  would load another DLL than the chain says, issue 13).  Paths are compared case-insensitively
  (Windows paths are).
* The two catalogs are independent lists (DESIGN §1; instlsp RemoveProvider runs per catalog):
  a 64-bit chain whose top layer exists only in the 32-bit catalog is an orphan of the 64-bit
  catalog (the 64-bit half of that LSP was removed), and the message says so.

Documented choices:

* The *layers* of a chain are all its ids but the last.  A layer that is a chain entry (instlsp
  form) counts as IFS by its own XP1_IFS_HANDLES; the LSP that *owns* a chain entry is its
  first id (instlsp's LSP map, ``lspmap.owner_id``), which is how ``lsp-fight`` names the LSPs
  of a chain.
* ``lsp-fight``: two chain entries with the same (family, type, protocol) where the LSP on top
  of each appears below the top of the other.  Reported once per pair of LSPs and triple.
* ``broken-base-shadowed`` is checked for the triple of every base provider (the first base
  of a triple names it) and is reported on the chain entry that ``resolve`` would pick, since
  that is the entry the repair acts on.  It always comes with ``orphaned-chain`` or
  ``dangling-chain-id`` on the same entry.
* Repairs, chain entries: an orphaned chain, a chain not ending in a base, and a chain that
  would have no layer or no base once its missing ids are stripped are removed; otherwise
  missing ids are stripped (the chain keeps its id, its position and its other ids).  Removing
  an entry that another chain names makes that chain dangling, so ``fix`` repairs such chains
  too (the change says so) until nothing it removed is named any more.  The structural repair
  of a chain entry is applied when any of its structural findings (orphaned, dangling,
  not-ending-in-base, broken-base-shadowed) is selected.
* IFS repair: a stable reorder of the layers, non-IFS layers first, IFS layers below them; a
  missing layer (when dangling ids were not selected for repair) counts as non-IFS.
* Layered entries: PFL_HIDDEN is set when missing.  An unused layered entry is only reported:
  an LSP may be installed before its chains, and removing it would lose its id for good.
* Namespace duplicates: the first provider with a GUID is kept, later ones are removed.
* ``lsp-shadowed`` (warning): a healthy chain entry (every id present, ending in a base
  provider) no socket() call can reach: for every probe triple
  it matches (``effects.covered``: its triple, protocol 0 with PFL_MATCHES_PROTOCOL_ZERO, its
  iProtocolMaxOffset range) an earlier entry answers, and no chain that socket() does reach
  runs it (``effects.unreachable_chains``).  Report only: which entry wins is the user's call.
* ``chain-path-mismatch`` repair: the entry's path is set to its top layer's.  The IFS repair,
  which can change a chain's top layer, sets the path to the new top layer's too.
* Report only (``repair`` is ""): ``duplicate-id`` (which twin is right is unknowable),
  ``chain-length`` (what the chain should be is unknowable), ``chain-triple-mismatch``,
  ``unused-layered``, ``lsp-shadowed``, ``lsp-fight`` (which LSP should be on top is the
  user's call) and
  ``missing-dll`` (editing the catalog cannot create a file).
* ``missing-dll`` is reported once per missing path and catalog for protocol entries (at the
  first entry using it) and once per namespace provider.  For namespace findings ``position``
  is the 1-based position in the namespace list and ``id`` is None.
* ``fix(f, findings)`` repairs only those of the given findings that ``check(f)`` still reports
  (stale findings are ignored); ``fix(f)`` repairs every repairable finding.  A catalog with
  nothing to repair is returned as the same object with no changes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Literal

from . import winsock as ws
from .effects import unreachable_chains
from .errors import UsageError
from .lspmap import owner_id
from .model import BITNESSES, Bitness, Catalog, CatalogFile, Change, ProtocolEntry
from .names import display_name
from .resolver import request_text, resolve

Severity = Literal["error", "warning"]
ERROR: Severity = "error"
WARNING: Severity = "warning"

CODES: tuple[str, ...] = (
    "orphaned-chain", "dangling-chain-id", "chain-not-ending-in-base", "chain-length",
    "chain-triple-mismatch", "duplicate-id", "layered-not-hidden", "unused-layered",
    "ifs-above-non-ifs", "lsp-fight", "broken-base-shadowed", "namespace-duplicate",
    "missing-dll", "chain-path-mismatch", "lsp-shadowed",
)
# Findings whose chain entry gets the structural repair (remove, or strip missing ids).
_STRUCTURAL = frozenset({"orphaned-chain", "dangling-chain-id", "chain-not-ending-in-base",
                         "broken-base-shadowed"})
REPAIRABLE: frozenset[str] = _STRUCTURAL | {"layered-not-hidden", "ifs-above-non-ifs",
                                            "namespace-duplicate", "chain-path-mismatch"}


@dataclass(frozen=True, slots=True)
class Finding:
    """One defect: ``message`` says what and where in one sentence, ``repair`` what ``fix``
    would do about it ("" when it cannot be repaired by editing the catalog)."""

    severity: Severity
    code: str
    catalog: str                  # "64", "32" ("" reserved for file-level findings)
    position: int | None          # 1-based; namespace findings: position in the namespace list
    id: int | None                # catalog entry id; None for namespace findings
    message: str
    repair: str = ""

    def to_json(self) -> dict[str, object]:
        return {"severity": self.severity, "code": self.code, "catalog": self.catalog,
                "position": self.position, "id": self.id, "message": self.message,
                "repair": self.repair}


# ---------------------------------------------------------------------------------------------
# Shared analysis (check reports it, fix applies it).

def _where(bitness: str, pos: int, e: ProtocolEntry) -> str:
    return f'catalog{bitness} entry #{pos} (id {e.id}, "{display_name(e.name)}")'


def _ids(ids: Iterable[int]) -> str:
    return "[" + ", ".join(str(i) for i in ids) + "]"


def _chain_verdict(cat: Catalog, e: ProtocolEntry,
                   present: Collection[int]) -> tuple[tuple[int, ...] | None, str]:
    """What the structural repair does with chain entry ``e`` when the ids in ``present``
    exist: ``(None, why)`` removes it, ``(chain, why)`` keeps it with ``chain`` (``e.chain``
    and "" when there is nothing to repair)."""
    chain = e.chain
    if not 2 <= len(chain) <= ws.MAX_PROTOCOL_CHAIN:
        return chain, ""                                  # chain-length: report only
    if chain[0] not in present:
        return None, (f"its top layer id {chain[0]} is missing, so it is an orphaned chain "
                      "that can never load")
    last = cat.get(chain[-1]) if chain[-1] in present else None
    if last is not None and last.kind != "base":
        return None, f"its last id {chain[-1]} is a {last.kind} entry, not a base provider"
    missing = [i for i in chain if i not in present]
    if not missing:
        return chain, ""
    kept = tuple(i for i in chain if i in present)
    tail = cat.get(kept[-1])
    if len(kept) < 2 or tail is None or tail.kind != "base":
        return None, (f"it names missing id(s) {_ids(missing)} and would keep no layer or no "
                      "base provider without them")
    return kept, f"it named missing id(s) {_ids(missing)}, now stripped from the chain"


def _layer_is_ifs(cat: Catalog, layer_id: int) -> bool | None:
    e = cat.get(layer_id)
    return None if e is None else e.is_ifs


def _ifs_violation(cat: Catalog, chain: tuple[int, ...]) -> bool:
    seen_ifs = False
    for i in chain[:-1]:
        ifs = _layer_is_ifs(cat, i)
        if ifs is None:
            continue
        if ifs:
            seen_ifs = True
        elif seen_ifs:
            return True
    return False


def _ifs_reorder(cat: Catalog, chain: tuple[int, ...]) -> tuple[int, ...]:
    layers = chain[:-1]
    return (tuple(i for i in layers if not _layer_is_ifs(cat, i))
            + tuple(i for i in layers if _layer_is_ifs(cat, i)) + chain[-1:])


# ---------------------------------------------------------------------------------------------
# check

def _select(f: CatalogFile, bitnesses: Iterable[str] | None) -> list[Bitness]:
    if bitnesses is None:
        return f.bitnesses
    out: list[Bitness] = []
    for b in bitnesses:
        if b not in BITNESSES:
            raise UsageError(f"bitness {b!r} is not 64 or 32.", code="bad-value")
        if b not in f.catalogs:
            raise UsageError(f"the catalog file has no {b}-bit catalog.", code="no-such-catalog")
        if b not in out:
            out.append(b)
    return out


def check(f: CatalogFile, *, dll_exists: Callable[[str, str], bool] | None = None,
          bitnesses: list[str] | None = None) -> list[Finding]:
    """Every finding for the selected catalogs (all of the file's by default), catalog by
    catalog.  ``dll_exists(path, bitness)`` enables ``missing-dll``."""
    out: list[Finding] = []
    for b in _select(f, bitnesses):
        cat = f.catalog(b)
        others = [c for x, c in f.catalogs.items() if x != b]
        out += _check_entries(b, cat, others)
        out += _check_fights(b, cat)
        out += _check_shadowed(b, cat)
        out += _check_lsp_shadowed(b, cat)
        out += _check_namespaces(b, cat)
        if dll_exists is not None:
            out += _check_dlls(b, cat, dll_exists)
    return out


def _adder(out: list[Finding], b: Bitness, pos: int,
           e: ProtocolEntry) -> Callable[..., None]:
    """``add(severity, code, what, repair="")``: appends a finding about entry ``e`` to ``out``."""
    where = _where(b, pos, e)

    def add(sev: Severity, code: str, what: str, repair: str = "") -> None:
        out.append(Finding(sev, code, b, pos, e.id, f"{where}: {what}", repair))

    return add


def _check_entries(b: Bitness, cat: Catalog, others: list[Catalog]) -> list[Finding]:
    out: list[Finding] = []
    present = set(cat.ids)
    used = {i for e in cat.protocols if e.kind == "chain" for i in e.chain}
    first_at: dict[int, int] = {}
    for pos, e in enumerate(cat.protocols, 1):
        add = _adder(out, b, pos, e)
        if e.id in first_at:
            add(ERROR, "duplicate-id", f"id {e.id} is already used by entry #{first_at[e.id]} "
                "(catalog entry ids are unique).")
        first_at.setdefault(e.id, pos)
        if e.kind == "layered":
            if not e.is_hidden:
                add(WARNING, "layered-not-hidden", "this LSP hidden (layered) entry lacks "
                    "PFL_HIDDEN, so WSAEnumProtocols shows it to applications.",
                    "set PFL_HIDDEN in its provider flags")
            if e.id not in used:
                add(WARNING, "unused-layered", "no chain entry uses this layered entry, so the "
                    "LSP is installed but never loaded.")
        elif e.kind == "chain":
            _check_chain(add, cat, e, present, others)
    return out


def _check_chain(add: Callable[..., None], cat: Catalog, e: ProtocolEntry,
                 present: set[int], others: list[Catalog]) -> None:
    chain = e.chain
    if not 2 <= len(chain) <= ws.MAX_PROTOCOL_CHAIN:
        add(ERROR, "chain-length", f"chain {_ids(chain)} has {len(chain)} id(s); a chain has "
            f"2 to {ws.MAX_PROTOCOL_CHAIN} (MAX_PROTOCOL_CHAIN).")
        return                                  # its shape is invalid: nothing else applies
    verdict, _ = _chain_verdict(cat, e, present)
    structural = (f"remove chain entry {e.id}" if verdict is None
                  else f"strip the missing ids, leaving chain {_ids(verdict)}")
    if chain[0] not in present:
        elsewhere = [o for o in others if (x := o.get(chain[0])) is not None
                     and x.kind == "layered"]
        why = (f"LSP {chain[0]} exists only in the {elsewhere[0].bitness}-bit catalog: the "
               f"{cat.bitness}-bit half of that LSP was removed" if elsewhere
               else "an orphaned chain left by an uninstalled LSP")
        add(ERROR, "orphaned-chain", f"chain {_ids(chain)} starts with id {chain[0]}, which is "
            f"not in the catalog ({why}).", f"remove chain entry {e.id}")
    top = cat.get(chain[0])
    if top is not None and top.kind == "layered" and top.path.lower() != e.path.lower():
        add(ERROR, "chain-path-mismatch", f"the entry's DLL path '{e.path}' is not that of its "
            f"top layer, LSP {top.id} \"{display_name(top.name)}\" ('{top.path}'); ws2_32 "
            "loads the chosen entry's own path, so this chain would run another DLL than it "
            "names.", f"set the entry's path to '{top.path}'")
    missing = [i for i in chain[1:] if i not in present]
    if missing:
        add(ERROR, "dangling-chain-id", f"chain {_ids(chain)} names id(s) {_ids(missing)}, "
            "which are not in the catalog.", structural)
    base = cat.get(chain[-1])
    if base is not None and base.kind != "base":
        add(ERROR, "chain-not-ending-in-base", f"chain {_ids(chain)} ends with id {base.id}, "
            f"a {base.kind} entry, where the base provider belongs.",
            f"remove chain entry {e.id}")
    if base is not None and base.kind == "base" and base.triple != e.triple:
        add(WARNING, "chain-triple-mismatch", f"the chain's (family, type, protocol) "
            f"{e.triple} differs from {base.triple} of its base provider {base.id}.")
    if _ifs_violation(cat, chain):
        after = verdict if verdict is not None else chain
        repair = (f"remove chain entry {e.id}" if verdict is None else
                  f"reorder the layers so IFS layers sit below non-IFS ones: chain "
                  f"{_ids(_ifs_reorder(cat, after))}")
        add(ERROR, "ifs-above-non-ifs", f"chain {_ids(chain)} puts an IFS layer above a "
            "non-IFS layer (an IFS LSP must sit below every non-IFS LSP).", repair)


def _check_fights(b: Bitness, cat: Catalog) -> list[Finding]:
    chains: list[tuple[int, ProtocolEntry, int, set[int]]] = []
    for pos, e in enumerate(cat.protocols, 1):
        if e.kind != "chain" or not 2 <= len(e.chain) <= ws.MAX_PROTOCOL_CHAIN:
            continue
        top = owner_id(cat.get, e.chain[0])
        if top is not None:
            below = {o for i in e.chain[1:-1]
                     if (o := owner_id(cat.get, i)) is not None} - {top}
            chains.append((pos, e, top, below))
    # Index the chains by (triple, top LSP): a fight is a chain of A with B below it and a
    # later chain of B with A below it for the same triple (linear in the catalog, not pairwise).
    by_top: dict[tuple[tuple[int, int, int], int], list[tuple[int, ProtocolEntry, set[int]]]] = {}
    for pos, e, top, below in chains:
        by_top.setdefault((e.triple, top), []).append((pos, e, below))
    out: list[Finding] = []
    reported: set[tuple[frozenset[int], tuple[int, int, int]]] = set()
    for pos, e, top, below in chains:
        for top2 in sorted(below):
            key = (frozenset((top, top2)), e.triple)
            if key in reported:
                continue
            later = [e2 for pos2, e2, below2 in by_top.get((e.triple, top2), ())
                     if pos2 > pos and top in below2]
            if not later:
                continue
            e2 = later[0]
            reported.add(key)
            a, c = cat.get(top), cat.get(top2)
            out.append(Finding(WARNING, "lsp-fight", b, pos, e.id, (
                f"{_where(b, pos, e)}: LSP {top} \"{display_name(a.name) if a else top}\" "
                f"and LSP {top2} \"{display_name(c.name) if c else top2}\" each put "
                f"themselves above the other for {e.triple} (chains {_ids(e.chain)} and "
                f"{_ids(e2.chain)} of entry {e2.id}).")))
    return out


def _check_shadowed(b: Bitness, cat: Catalog) -> list[Finding]:
    out: list[Finding] = []
    present = set(cat.ids)
    seen: set[tuple[int, int, int]] = set()
    for base in cat.protocols:
        if base.kind != "base" or base.triple in seen:
            continue
        seen.add(base.triple)
        res = resolve(cat, *base.triple)
        chosen = res.entry
        if chosen is None or chosen.kind != "chain" or all(x is not None for x in res.layers):
            continue
        pos = cat.position(chosen.id) or 0
        missing = [i for i in chosen.chain if i not in present]
        verdict, reason = _chain_verdict(cat, chosen, present)
        call = f"socket({request_text(*base.triple)})"
        repair = ("" if not reason else
                  f"remove chain entry {chosen.id}, so that {call} reaches base "
                  f"provider {base.id} again" if verdict is None else
                  f"strip the missing ids from chain entry {chosen.id} (chain "
                  f"{_ids(verdict)}), so that it can load")
        out.append(Finding(ERROR, "broken-base-shadowed", b, pos, chosen.id, (
            f"{_where(b, pos, chosen)}: {call} picks this chain, which names "
            f"missing id(s) {_ids(missing)} and cannot load (WSAEPROVIDERFAILEDINIT), instead "
            f"of base provider {base.id} \"{display_name(base.name)}\"."), repair))
    return out


def _check_lsp_shadowed(b: Bitness, cat: Catalog) -> list[Finding]:
    out: list[Finding] = []
    why: dict[tuple[int, tuple[int, int, int], int], str] = {}     # (shared by many chains)
    for e, t, winner in unreachable_chains(cat):
        pos = cat.position(e.id) or 0
        key = (e.chain[0], t, winner.id if isinstance(winner, ProtocolEntry) else -winner)
        if key not in why:
            by = (f"entry {winner.id} \"{display_name(winner.name)}\" at position "
                  f"{cat.position(winner.id)}" if isinstance(winner, ProtocolEntry)
                  else "another entry")
            top = cat.get(e.chain[0])
            who = (f"LSP {top.id} \"{display_name(top.name)}\"" if top is not None
                   else f"layer {e.chain[0]}")
            why[key] = (f"no socket() call reaches this chain of {who}: every call it answers "
                        f"is answered earlier (socket({request_text(*t)}) goes to {by}).")
        out.append(Finding(WARNING, "lsp-shadowed", b, pos, e.id,
                           f"{_where(b, pos, e)}: {why[key]}", ""))
    return out


def _check_namespaces(b: Bitness, cat: Catalog) -> list[Finding]:
    out: list[Finding] = []
    first_at: dict[str, int] = {}
    for pos, ns in enumerate(cat.namespaces, 1):
        if ns.provider_id in first_at:
            out.append(Finding(ERROR, "namespace-duplicate", b, pos, None, (
                f"catalog{b} namespace provider #{pos} (\"{display_name(ns.name)}\"): GUID "
                f"{ns.provider_id} is already used by namespace provider "
                f"#{first_at[ns.provider_id]}."),
                f"remove namespace provider #{pos} (the first one is kept)"))
        first_at.setdefault(ns.provider_id, pos)
    return out


def _check_dlls(b: Bitness, cat: Catalog,
                dll_exists: Callable[[str, str], bool]) -> list[Finding]:
    out: list[Finding] = []
    cache: dict[str, bool] = {}

    def exists(path: str) -> bool:
        if path not in cache:
            cache[path] = bool(dll_exists(path, b))
        return cache[path]

    users: dict[str, list[tuple[int, ProtocolEntry]]] = {}
    for pos, e in enumerate(cat.protocols, 1):
        users.setdefault(e.path, []).append((pos, e))
    for path, entries in users.items():
        if not exists(path):
            pos, e = entries[0]
            out.append(Finding(ERROR, "missing-dll", b, pos, e.id, (
                f"{_where(b, pos, e)}: provider DLL '{path}' does not exist "
                f"({len(entries)} entr{'y uses' if len(entries) == 1 else 'ies use'} it).")))
    for pos, ns in enumerate(cat.namespaces, 1):
        if not exists(ns.path):
            out.append(Finding(ERROR, "missing-dll", b, pos, None, (
                f"catalog{b} namespace provider #{pos} (\"{display_name(ns.name)}\", "
                f"{ns.provider_id}): provider DLL '{ns.path}' does not exist.")))
    return out


# ---------------------------------------------------------------------------------------------
# fix

def fix(f: CatalogFile, findings: Iterable[Finding] | None = None,
        ) -> tuple[CatalogFile, list[Change]]:
    """Apply the repairs for ``findings`` (default: everything ``check(f)`` finds); returns the
    repaired file and one Change per entry touched, in catalog order."""
    current = check(f)
    if findings is not None:
        wanted = {(x.catalog, x.code, x.position, x.id) for x in findings}
        current = [x for x in current if (x.catalog, x.code, x.position, x.id) in wanted]
    out, changes = f, []
    for b in f.bitnesses:
        keys = {(x.code, x.position) for x in current if x.catalog == b and x.code in REPAIRABLE}
        if keys:
            cat, ch = _repair(f.catalog(b), keys)
            out = out.with_catalog(cat)
            changes += ch
    return (out, changes) if changes else (f, [])


def _repair(cat: Catalog, keys: set[tuple[str, int | None]]) -> tuple[Catalog, list[Change]]:
    b = cat.bitness
    entries = list(cat.protocols)
    present = set(cat.ids)
    chains: dict[int, tuple[int, ...] | None] = {}     # position -> new chain, None = removed
    why: dict[int, list[str]] = {}
    for pos, e in enumerate(entries, 1):
        if e.kind == "chain" and any((c, pos) in keys for c in _STRUCTURAL):
            new, reason = _chain_verdict(cat, e, present)
            if reason:
                chains[pos], why[pos] = new, [reason]
    # Chains naming an entry this repair removes are dangling now: repair them as well.
    while True:
        alive = {e.id for p, e in enumerate(entries, 1) if chains.get(p, ()) is not None}
        gone = present - alive
        todo = [(p, e) for p, e in enumerate(entries, 1)
                if e.kind == "chain" and 2 <= len(e.chain) <= ws.MAX_PROTOCOL_CHAIN
                and chains.get(p, ()) is not None and set(chains.get(p) or e.chain) & gone]
        if not todo:
            break
        for p, e in todo:
            cur = e.with_changes(chain=chains.get(p) or e.chain)
            new, _ = _chain_verdict(cat, cur, alive)
            chains[p] = new
            why.setdefault(p, []).append(
                f"it named {_ids(sorted(set(cur.chain) & gone))}, removed by this repair"
                + ("" if new is None else f", leaving chain {_ids(new)}"))
    flags: dict[int, int] = {}
    for pos, e in enumerate(entries, 1):
        if ("ifs-above-non-ifs", pos) in keys and chains.get(pos, ()) is not None:
            chains[pos] = _ifs_reorder(cat, chains.get(pos) or e.chain)
            why.setdefault(pos, []).append(
                "an IFS layer sat above a non-IFS layer, so the layers were reordered with "
                "IFS layers below non-IFS ones")
        if ("layered-not-hidden", pos) in keys and e.kind == "layered":
            flags[pos] = e.provider_flags | ws.PFL_HIDDEN
            why.setdefault(pos, []).append("an LSP hidden entry must carry PFL_HIDDEN")
    paths: dict[int, str] = {}
    for pos, e in enumerate(entries, 1):
        final = chains.get(pos, e.chain)
        if e.kind != "chain" or not final:
            continue
        top = cat.get(final[0])
        moved = final[0] != (e.chain[:1] or (None,))[0]
        if top is not None and top.kind == "layered" and top.path.lower() != e.path.lower() \
                and (("chain-path-mismatch", pos) in keys or moved):
            paths[pos] = top.path
            why.setdefault(pos, []).append(
                f"a chain entry carries the DLL path of its top layer {top.id} (ws2_32 loads "
                "the chosen entry's own path)")
    kept: list[ProtocolEntry] = []
    changes: list[Change] = []
    for pos, e in enumerate(entries, 1):
        detail = "; ".join(why.get(pos, []))
        if pos in chains and chains[pos] is None:
            changes.append(Change("remove", b, e.id, e.name, detail=f"Removed because {detail}."))
            continue
        fields: list[tuple[str, object, object]] = []
        entry = e
        if pos in chains and chains[pos] != e.chain:
            entry = entry.with_changes(chain=chains[pos])
            fields.append(("chain", list(e.chain), list(entry.chain)))
        if pos in flags:
            entry = entry.with_changes(provider_flags=flags[pos])
            fields.append(("provider_flags", e.provider_flags, entry.provider_flags))
        if pos in paths:
            entry = entry.with_changes(path=paths[pos])
            fields.append(("path", e.path, entry.path))
        if fields:
            changes.append(Change("update", b, e.id, e.name, tuple(fields),
                                  f"Updated because {detail}."))
        kept.append(entry)
    namespaces = []
    for pos, ns in enumerate(cat.namespaces, 1):
        if ("namespace-duplicate", pos) in keys:
            changes.append(Change("namespace-remove", b, None, ns.name, (
                ("provider_id", ns.provider_id, None),), f"Removed namespace provider #{pos}: "
                f"its GUID {ns.provider_id} repeats an earlier provider, which is kept."))
            continue
        namespaces.append(ns)
    return Catalog(b, tuple(kept), tuple(namespaces)), changes


# ---------------------------------------------------------------------------------------------
# DLL paths under a directory tree (doctor --root DIR)

_ENV = {  # variable (upper case) -> (64-bit expansion, 32-bit expansion), system drive C:
    "SYSTEMROOT": (r"C:\Windows",) * 2,
    "WINDIR": (r"C:\Windows",) * 2,
    "SYSTEMDRIVE": ("C:",) * 2,
    "PROGRAMFILES": (r"C:\Program Files", r"C:\Program Files (x86)"),
    "PROGRAMFILES(X86)": (r"C:\Program Files (x86)",) * 2,
    "PROGRAMW6432": (r"C:\Program Files",) * 2,
    "COMMONPROGRAMFILES": (r"C:\Program Files\Common Files",
                           r"C:\Program Files (x86)\Common Files"),
    "COMMONPROGRAMFILES(X86)": (r"C:\Program Files (x86)\Common Files",) * 2,
    "COMMONPROGRAMW6432": (r"C:\Program Files\Common Files",) * 2,
    "PROGRAMDATA": (r"C:\ProgramData",) * 2,
    "ALLUSERSPROFILE": (r"C:\ProgramData",) * 2,
}
_VAR_RE = re.compile(r"%([^%]+)%")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


def windows_path_under_root(path: str, root: str, bitness: str) -> str:
    """Where the provider DLL ``path`` (as stored in the catalog) lies under ``root``, a copy
    of a Windows system drive.

    %SystemRoot%/%windir% expand to Windows, %ProgramFiles% to Program Files (Program Files
    (x86) for the 32-bit catalog, as WOW64 sets it for 32-bit processes), likewise
    %CommonProgramFiles%, %ProgramFiles(x86)%, %ProgramW6432%, %ProgramData%, %SystemDrive%;
    names are case-insensitive and unknown variables are left as they are (as
    ExpandEnvironmentStrings does).  Any drive letter maps to ``root``.  A relative path is
    looked up in System32 (LoadLibrary's system directory).  For the 32-bit catalog
    Windows\\System32 becomes Windows\\SysWOW64 (WOW64 file-system redirection,
    winsock-semantics §4.7).  The Windows, System32 and SysWOW64 components are written in
    that case; the rest keeps the case of the stored path.  ``..`` never climbs above
    ``root``.  Pure: nothing is read from disk.
    """
    if bitness not in BITNESSES:
        raise UsageError(f"bitness {bitness!r} is not 64 or 32.", code="bad-value")
    col = 0 if bitness == "64" else 1

    def expand(m: re.Match[str]) -> str:
        value = _ENV.get(m.group(1).upper())
        return value[col] if value else m.group(0)

    text = _VAR_RE.sub(expand, path.strip())
    if _DRIVE_RE.match(text):
        text = text[2:]
    elif not text.startswith(("\\", "/")):
        text = "Windows\\System32\\" + text
    parts: list[str] = []
    for part in re.split(r"[\\/]+", text):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    if parts and parts[0].lower() == "windows":
        parts[0] = "Windows"
        if len(parts) > 1 and parts[1].lower() in ("system32", "syswow64"):
            parts[1] = "SysWOW64" if bitness == "32" and parts[1].lower() == "system32" \
                else ("System32" if parts[1].lower() == "system32" else "SysWOW64")
    return os.path.join(root, *parts)
