"""What a change to the catalog does to ``socket()`` calls: the resolution changes of a plan.

A plan lists the entries added, removed, updated and moved; the question asked before a chain
insertion or a reorder is "which socket() calls will now go somewhere else?" (issue 13).
``resolution_changes(before, after)`` answers it: for every catalog (64 then 32) and every probe
triple of that catalog before or after, the stack ``resolve`` gives before and after (entry ids
from the top layer to the base provider, the JSON ``layers`` of ``resolve``), listed where the two
differ.  A triple that stops resolving has ``after`` None and the WSAE error it gets instead.

Probe triples (``probe_triples``): the (family, type, protocol) of every base and chain entry;
(family, type, 0) for those with PFL_MATCHES_PROTOCOL_ZERO (winsock-semantics §2.2); and for an
entry with iProtocolMaxOffset (RAW/IP, IPX) every protocol of its range -- up to 256 values, the
two ends of a larger (bogus) range.  af = 0 with protocol 0 always fails with WSAEINVAL and is
never probed.

Speed: ``resolve_many`` answers all probe triples of a catalog in one walk of it (a dict of the
pending (type, family) pairs, each entry looked up once), so a plan costs O(entries + probes)
per catalog, not O(entries x probes): an ``install-lsp --over-all`` on a 10,000-entry catalog
stays linear.  Wildcard probes (family or type 0, only from entries that carry 0 there) fall
back to ``resolver.resolve`` one by one.  ``tests/test_effects.py`` checks ``resolve_many``
against ``resolve`` on random catalogs.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import winsock as ws
from ._record import Record, record
from .model import BITNESSES, Catalog, CatalogFile, ProtocolEntry
from .resolver import resolve

Triple = tuple[int, int, int]
_set = object.__setattr__
RANGE_LIMIT = 256
"""Largest iProtocolMaxOffset range probed value by value (RAW/IP and IPX have 256)."""


@record()
class ResolutionChange(Record):
    """One socket() call (``triple``) of one catalog that resolves differently after a change.

    ``before``/``after`` are the stacks (entry ids, top layer to base provider), None when the
    call fails; ``error`` is the WSAE number of a failing ``after``.  ``before_names`` and
    ``after_names`` are the display names of the stacks' entries (for the human plan)."""

    bitness: str
    triple: Triple
    before: tuple[int, ...] | None
    after: tuple[int, ...] | None
    error: int | None = None
    before_names: tuple[str, ...] = ()
    after_names: tuple[str, ...] = ()

    def __init__(self, bitness: str, triple: Triple, before: tuple[int, ...] | None,
                 after: tuple[int, ...] | None, error: int | None = None,
                 before_names: tuple[str, ...] = (), after_names: tuple[str, ...] = ()) -> None:
        _set(self, "bitness", bitness)
        _set(self, "triple", triple)
        _set(self, "before", before)
        _set(self, "after", after)
        _set(self, "error", error)
        _set(self, "before_names", before_names)
        _set(self, "after_names", after_names)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "bitness": self.bitness, "triple": list(self.triple),
            "before": None if self.before is None else list(self.before),
            "after": None if self.after is None else list(self.after)}
        if self.after is None:
            out["winsock_error"] = self.error
        return out


def probe_triples(cat: Catalog) -> set[Triple]:
    """The socket() calls whose answer a change to ``cat`` can move (see the module doc)."""
    out: set[Triple] = set()
    for e in cat.protocols:
        if e.kind == "layered":
            continue
        af, st, proto = e.family, e.socket_type, e.protocol
        if not (af == 0 and proto == 0):
            out.add((af, st, proto))
        if e.provider_flags & ws.PFL_MATCHES_PROTOCOL_ZERO and af != 0:
            out.add((af, st, 0))
        span = e.protocol_max_offset
        if span > 0:
            if span < RANGE_LIMIT:
                out.update((af, st, p) for p in range(proto, proto + span + 1)
                           if not (af == 0 and p == 0))
            else:
                out.add((af, st, proto + span))
    return out


def covered(e: ProtocolEntry) -> list[Triple]:
    """The probe triples entry ``e`` itself matches (what it could answer if it came first)."""
    if e.kind == "layered":
        return []
    af, st, proto = e.family, e.socket_type, e.protocol
    out: list[Triple] = []
    if e.provider_flags & ws.PFL_MATCHES_PROTOCOL_ZERO and af != 0:
        out.append((af, st, 0))
    span = e.protocol_max_offset
    protos: Iterable[int] = (range(proto, proto + span + 1) if 0 <= span < RANGE_LIMIT
                             else (proto, proto + span) if span >= 0 else ())
    out.extend((af, st, p) for p in protos if p != 0)
    return out


def _matches(e: ProtocolEntry, protocol: int) -> bool:
    if protocol == 0:
        return bool(e.provider_flags & ws.PFL_MATCHES_PROTOCOL_ZERO)
    return e.protocol <= protocol <= e.protocol + e.protocol_max_offset


def resolve_many(cat: Catalog, triples: Iterable[Triple]) -> dict[Triple, ProtocolEntry | int]:
    """``resolve(cat, *t)`` for every triple at once: the chosen entry, or the WSAE error.

    Equal to calling ``resolver.resolve`` per triple (§2.2: first match in catalog order,
    layered entries invisible, errors ranked PROTONOSUPPORT > AFNOSUPPORT > SOCKTNOSUPPORT),
    in one walk of the catalog for the triples with a family and a type."""
    out: dict[Triple, ProtocolEntry | int] = {}
    pending: dict[tuple[int, int], dict[int, list[Triple]]] = {}
    for t in set(triples):
        af, st, proto = t
        if af == 0 or st == 0:
            res = resolve(cat, af, st, proto)
            out[t] = res.entry if res.entry is not None else res.error  # type: ignore[assignment]
        else:
            pending.setdefault((st, af), {}).setdefault(proto, []).append(t)
    if not pending:
        return out
    types: set[int] = set()
    pairs: set[tuple[int, int]] = set()
    for e in cat.protocols:
        if e.kind == "layered":
            continue
        key = (e.socket_type, e.family)
        types.add(key[0])
        pairs.add(key)
        bucket = pending.get(key)
        if bucket is None:
            continue
        span = e.protocol_max_offset
        if 0 <= span < len(bucket):
            hits = [p for p in range(e.protocol, e.protocol + span + 1) if p in bucket]
            if 0 in bucket and e.provider_flags & ws.PFL_MATCHES_PROTOCOL_ZERO \
                    and 0 not in hits:
                hits.append(0)
        else:
            hits = [p for p in bucket if _matches(e, p)]
        for p in hits:
            if p == 0 and not e.provider_flags & ws.PFL_MATCHES_PROTOCOL_ZERO:
                continue            # (protocol 0 only matches through the flag, §2.2)
            for t in bucket.pop(p):
                out[t] = e
        if not bucket:
            del pending[key]
            if not pending:
                return out
    for (st, af), bucket in pending.items():
        err = (ws.WSAEPROTONOSUPPORT if (st, af) in pairs else
               ws.WSAEAFNOSUPPORT if st in types else ws.WSAESOCKTNOSUPPORT)
        for ts in bucket.values():
            for t in ts:
                out[t] = err
    return out


def _names(cat: Catalog, ids: tuple[int, ...] | None) -> tuple[str, ...]:
    if ids is None:
        return ()
    return tuple(e.name if (e := cat.get(i)) is not None else "(missing)" for i in ids)


def resolution_changes(before: CatalogFile, after: CatalogFile) -> list[ResolutionChange]:
    """Every probe triple of every catalog whose stack differs between ``before`` and
    ``after``, catalog 64 first, triples in numeric order.  A catalog present on one side only
    is compared with an empty one."""
    out: list[ResolutionChange] = []
    for b in BITNESSES:
        if b not in before.catalogs and b not in after.catalogs:
            continue
        old = before.catalogs.get(b) or Catalog(b)
        new = after.catalogs.get(b) or Catalog(b)
        if old.protocols == new.protocols:
            continue
        triples = probe_triples(old) | probe_triples(new)
        got_old, got_new = resolve_many(old, triples), resolve_many(new, triples)
        for t in sorted(triples):
            x, y = got_old[t], got_new[t]
            sx = x.chain_ids if isinstance(x, ProtocolEntry) else None
            sy = y.chain_ids if isinstance(y, ProtocolEntry) else None
            if sx == sy:
                continue
            out.append(ResolutionChange(
                b, t, sx, sy, None if isinstance(y, ProtocolEntry) else y,
                _names(old, sx), _names(new, sy)))
    return out


def unreachable_chains(cat: Catalog) -> list[tuple[ProtocolEntry, Triple,
                                                  ProtocolEntry | int]]:
    """Healthy chain entries (every id present, ending in a base provider) that no socket()
    call reaches, each with one triple it matches and what that triple resolves to instead.

    A chain is reached when, for some probe triple it matches (``covered``), socket() picks it,
    or when a chain socket() picks runs it: names it (instlsp's form ``[N, Le, B]`` reaches
    ``Le`` through ``N``'s entry) or ends with its chain (sporder's stacked form ``[B, A, base]``
    runs ``[A, base]``).  One ``resolve_many`` walk of the catalog."""
    chains = [e for e in cat.protocols if e.kind == "chain"
              and 2 <= len(e.chain) <= ws.MAX_PROTOCOL_CHAIN and all(i in cat for i in e.chain)
              and (last := cat.get(e.chain[-1])) is not None and last.kind == "base"]
    if not chains:
        return []
    by_sig: dict[tuple[int, int, int, int, int], list[Triple]] = {}   # chains share signatures
    covers: dict[int, list[Triple]] = {}
    for e in chains:
        sig = (e.family, e.socket_type, e.protocol, e.protocol_max_offset,
               e.provider_flags & ws.PFL_MATCHES_PROTOCOL_ZERO)
        if sig not in by_sig:
            by_sig[sig] = covered(e)
        covers[e.id] = by_sig[sig]
    got = resolve_many(cat, {t for ts in by_sig.values() for t in ts})
    reached = {x.id for x in got.values() if isinstance(x, ProtocolEntry)}
    todo = list(reached)
    while todo:
        x = cat.get(todo.pop())
        if x is None or x.kind != "chain":
            continue
        for i in x.chain:
            y = cat.get(i)
            if i not in reached and y is not None and y.kind == "chain":
                reached.add(i)
                todo.append(i)
    tails = {x.chain[k:] for i in reached if (x := cat.get(i)) is not None and x.kind == "chain"
             for k in range(len(x.chain) - 1)}
    out: list[tuple[ProtocolEntry, Triple, ProtocolEntry | int]] = []
    for e in chains:
        if e.id in reached or e.chain in tails or not covers[e.id]:
            continue
        t = e.triple if e.triple in covers[e.id] else covers[e.id][0]
        out.append((e, t, got[t]))
    return out
