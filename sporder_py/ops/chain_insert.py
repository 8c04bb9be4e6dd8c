"""Inserting an installed LSP into existing chain entries in place: WSCUpdateProvider (§4.5).

The LSP's hidden id is put into each chosen chain at an explicit position, above or below a
layer, or (``auto``) by LSP categories (§7.1) and then instlsp's IFS rule (an IFS LSP never sits
above a non-IFS one, anchor-tools §2.2).  Ids, GUIDs, names, paths and catalog order are kept;
the chain's XP1_IFS_HANDLES is recomputed (``chain_entry``).  Positions are 1-based, as
everywhere a user types or reads one: 1 is the top layer, ``len(chain)`` directly above the base
provider (which stays last).

**The top layer is never changed (issue 13, case 2).**  ws2_32 loads the DLL named by the chosen
entry's own provider path (ReactOS ``WsTcLoadProvider`` -> ``WsTpInitialize(DllPath)``) and the
LSP in it walks the rest of the chain, so a chain entry belongs to the LSP of ``chain[0]``: it
carries that LSP's path and one of its GUIDs.  Putting X above B in B's entry in place would keep
B's path and GUID (Windows would load B and never call X); giving the entry X's path and GUID
instead is not something Windows' own tools do either: WSCUpdateProvider rewrites an entry
*under its own GUID*, and instlsp never changes an existing entry's top layer (its
``InsertIdIntoProtocolChain`` calls in ``InstallIfsLspProtocolChains`` /
``InsertIfsLspIntoAllChains`` only insert below a layer, and ``RemoveProvider`` only strips
non-top ids); a layer on top is always a new entry of that LSP (``InstallNonIfsLspProtocolChains``:
``"%s over [%s]"``, the LSP's DLL, a fresh GUID).  So placing the LSP at position 1 (``position=1``
or ``above`` the top layer) is refused with WSAEINVAL and a pointer to ``install-lsp --over``;
``auto`` keeps the top layer and places the LSP directly below it, unless the IFS rule forbids
that, which is refused the same way.

Choices where the reference is silent: chains may grow up to MAX_PROTOCOL_CHAIN (7) ids
(``install_lsp`` stops at 6), and orphaned chains are never inserted into (WSAEINVAL).
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import winsock as ws
from .._record import replace
from ..errors import UsageError, WinsockError
from ..lspmap import layer_entry
from ..model import Catalog, CatalogFile, Change, ProtocolEntry
from ..names import display_name
from . import Result
from .chain_entry import chain_flags, changed_fields
from .checks import describe, refuse, require_intact, selected

# chain-insert --auto: LSP categories from the application side down to the wire (§7.1).
# Filtering/inspection first, then proxy/redirector, local cache, then the data-modifying and
# crypto/compression categories.  An LSP's rank is the smallest index among its categories; an
# LSP with none of these categories (uncategorized, or LSP_SYSTEM only) ranks len(ranking),
# after all of them.
DEFAULT_RANKING: tuple[str, ...] = (
    "LSP_FIREWALL", "LSP_INSPECTOR", "LSP_PROXY", "LSP_REDIRECTOR", "LSP_LOCAL_CACHE",
    "LSP_INBOUND_MODIFY", "LSP_OUTBOUND_MODIFY", "LSP_CRYPTO_COMPRESS",
)


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


def _auto_position(cat: Catalog, c: ProtocolEntry, lsp: ProtocolEntry,
                   order: list[tuple[str, int]]) -> tuple[int, str]:
    """Rank placement, then the IFS rule by clamping (anchor-tools §2.2), then below the top
    layer (which owns the entry).  Returns a 0-based index and the 1-based explanation."""
    layers = c.chain[:-1]
    entries = [layer_entry(cat.get, i) for i in layers]
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
        text += f"; the IFS rule ({rule}) moves it from position {pref + 1}"
    if at == 0:
        if not lsp.is_ifs and ifs and ifs[0]:
            raise _top_refusal(c, f"auto placement puts it there: {text}")
        at = 1
        text += "; the top layer stays (it owns the entry), so directly below it"
    return at, f"{text}; placed at position {at + 1}"


def _top_refusal(c: ProtocolEntry, why: str) -> WinsockError:
    top = c.chain[0]
    return refuse(ws.WSAEINVAL, f"Position 1 of chain entry {describe(c)} is its top layer "
                  f"{top}, which owns the entry ({why}): ws2_32 loads the DLL of an entry's top "
                  "layer, so an LSP put on top in place would never be called; install it over "
                  f"this entry instead (install-lsp --over {c.id}).")


def _position(cat: Catalog, c: ProtocolEntry, lsp: ProtocolEntry, position: int | None,
              above: int | None, below: int | None, auto: bool,
              order: list[tuple[str, int]]) -> tuple[int, str]:
    chain = c.chain
    if auto:
        return _auto_position(cat, c, lsp, order)
    if position is not None:
        if not 1 <= position <= len(chain):
            raise refuse(ws.WSAEINVAL, f"Position {position} is outside 2..{len(chain)} for "
                         f"chain entry {describe(c)} (1 = its top layer, which stays; its base "
                         f"provider {chain[-1]} stays last).")
        if position == 1:
            raise _top_refusal(c, "asked for with position 1")
        return position - 1, f"placed at position {position}"
    anchor = above if above is not None else below
    if anchor is None:
        raise UsageError("Give one of position, above, below and auto.", code="bad-placement")
    if anchor not in chain or (below is not None and anchor == chain[-1]):
        where = "is not in" if anchor not in chain else "is the base provider of"
        raise refuse(ws.WSAEINVAL, f"Layer {anchor} {where} chain entry {describe(c)}, so nothing "
                     f"can be placed {'above' if above is not None else 'below'} it there.")
    at = chain.index(anchor) + (below is not None)
    if at == 0:
        raise _top_refusal(c, f"asked for with above {anchor}")
    return at, (f"placed {'above' if above is not None else 'below'} {anchor} at position "
                f"{at + 1}")


def chain_insert(f: CatalogFile, lsp_id: int, *, chains: tuple[int, ...] = (),
                 all_over: int | None = None, position: int | None = None,
                 above: int | None = None, below: int | None = None, auto: bool = False,
                 ranking: tuple[str, ...] | None = None, bitnesses: Sequence[str]) -> Result:
    """Put the installed LSP ``lsp_id`` (its hidden entry) into existing chain entries in place.

    ``chains`` names chain entries; ``all_over=X`` adds every chain entry whose chain contains X
    and does not already contain the LSP.  Placement (exactly one): ``position`` (1-based: 2 is
    directly below the top layer, ``len(chain)`` directly above the base provider),
    ``above``/``below`` a layer, or ``auto`` (by LSP categories with ``ranking``, else the
    file's ``lsp_ranking``, else DEFAULT_RANKING, then the IFS rule, then below the top layer).
    The top layer is never replaced: position 1, or above the top layer, is refused with
    WSAEINVAL (see the module doc; ``install-lsp --over`` layers an LSP on top).  Ids, GUIDs,
    names, paths and catalog order are kept.  Explicit placements are honoured as given (the
    IFS rule only steers ``auto``).
    """
    cats = selected(f, bitnesses)
    if sum(x is not None for x in (position, above, below)) + auto != 1:
        raise UsageError("Give exactly one of position, above, below and auto.",
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
            raise refuse(ws.WSAEINVAL, f"Entry {lsp_id} {what} the {b}-bit catalog, not an "
                         "LSP's layered (hidden) entry.")
        picked: set[int] = set()
        for i in chains:
            c = cat.get(i)
            if c is None or c.kind != "chain":
                what = "is not in" if c is None else f"is a {c.kind} entry in"
                raise refuse(ws.WSAEINVAL, f"Entry {i} {what} the {b}-bit catalog, not a chain "
                             "entry.")
            picked.add(i)
        if all_over is not None:
            if all_over not in cat:
                raise refuse(ws.WSAEINVAL, f"Entry {all_over} is not in the {b}-bit catalog.")
            found = {e.id for e in cat.protocols
                     if e.kind == "chain" and all_over in e.chain and lsp_id not in e.chain}
            if not found and not chains:
                raise refuse(ws.WSAEINVAL, f"No chain entry in the {b}-bit catalog layers over "
                             f"{all_over} without already containing {lsp_id}.")
            picked |= found
        updated: dict[int, ProtocolEntry] = {}
        for c in cat.protocols:
            if c.id not in picked:
                continue
            if lsp_id in c.chain:
                raise refuse(ws.WSAEINVAL, f"Chain entry {describe(c)} already contains layer "
                             f"{lsp_id}; a chain may not contain a layer twice.")
            require_intact(cat, c)
            if len(c.chain) >= ws.MAX_PROTOCOL_CHAIN:
                raise refuse(ws.WSANO_RECOVERY, f"Chain entry {describe(c)} already has "
                             f"{len(c.chain)} ids; MAX_PROTOCOL_CHAIN is "
                             f"{ws.MAX_PROTOCOL_CHAIN}.")
            at, why = _position(cat, c, lsp, position, above, below, auto, order)
            chain = c.chain[:at] + (lsp_id,) + c.chain[at:]
            new = replace(c, chain=chain, service_flags=chain_flags(c.service_flags, chain,
                                                                    cat.get))
            updated[c.id] = new
            changes.append(Change("update", b, c.id, display_name(c.name),
                                  changed_fields(c, new), why))
        out = out.with_catalog(cat.with_protocols([updated.get(e.id, e) for e in cat.protocols]))
    return out, changes

