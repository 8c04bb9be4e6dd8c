"""The LSP map: which protocol entries belong to which LSP, the orphans, and who depends on whom.

instlsp's BuildLspMap / LspDependencyCheck (anchor-tools §2.5) as a pure function of one catalog:
an LSP is its hidden (layered) entry plus the chain entries whose FIRST element is that hidden id;
a chain entry whose first element names no entry is an orphan.  It also says what a single chain
element stands for: instlsp writes ``[L, X, B]`` when layering over a chain entry X (anchor-tools
§2.2 step 3), so a layer id that names a chain entry stands for that chain entry's LSP (its first
element).  Both ``ops`` (install-lsp, chain-insert, uninstall's repair) and ``integrity``
(``lsp-fight``) read catalogs through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .model import Catalog, ProtocolEntry
from .names import display_name

Lookup = Callable[[int], "ProtocolEntry | None"]
"""Entry by id (``Catalog.get``, or a view of a catalog being edited); None when absent."""


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


def layer_entry(lookup: Lookup, layer_id: int) -> ProtocolEntry | None:
    """The layered entry a chain element stands for: itself, or for instlsp's form, where a
    chain names another chain entry X in place of X's hidden entry, X's first element (only
    when that names a layered entry; otherwise the element's own entry, or None if absent)."""
    e = lookup(layer_id)
    if e is not None and e.kind == "chain" and e.chain:
        owner = lookup(e.chain[0])
        if owner is not None and owner.kind == "layered":
            return owner
    return e


def owner_id(lookup: Lookup, entry_id: int) -> int | None:
    """The LSP (hidden entry id) a chain element belongs to, as instlsp's LSP map sees it: a
    chain entry's first element (whatever that names), any other entry's own id; None when
    ``entry_id`` names no entry.  Unlike ``layer_entry`` it does not look the owner up, which is
    what ``integrity``'s ``lsp-fight`` needs to name the LSPs of a damaged chain."""
    e = lookup(entry_id)
    if e is None:
        return None
    return e.chain[0] if e.kind == "chain" and e.chain else e.id
