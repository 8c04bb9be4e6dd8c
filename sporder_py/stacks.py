"""The stacks ``socket()`` gets: what ``sporder stacks`` and ``sporder report`` show (issue 15).

For every call a catalog answers, the stack of providers it runs, from the top layer down to the
base provider; then the chain entries no call reaches and the orphans.  Pure: a function of a
catalog (no click, no rich, no I/O).

* **Calls.**  The requests asked are the probe triples of ``effects.probe_triples``: the
  (family, type, protocol) of every base and chain entry, protocol 0 where
  PFL_MATCHES_PROTOCOL_ZERO applies, and every protocol of an iProtocolMaxOffset range (RAW).
  Each is resolved as ``socket()`` does (``effects.resolve_many``, equal to
  ``resolver.resolve``); calls that fail are left out ("the calls the catalog answers").  The
  calls that get the same entry form one :class:`Stack`, listed in catalog order of that entry;
  its ``calls_text`` folds protocols into runs (``AF_INET, SOCK_RAW, 0..255``) and alternatives
  (``AF_INET, SOCK_STREAM, 0 | IPPROTO_TCP``).
* **Layers.**  One per id of the chosen entry's chain (a base provider is its own one-layer
  stack).  A layer shows the entry that id stands for (``lspmap.layer_entry``: an LSP's hidden
  entry, also in instlsp's form where a chain names another chain entry), its display name
  (``names.display_name``), its DLL, whether it is an IFS provider (XP1_IFS_HANDLES) and its LSP
  categories.  An id that names no entry is a missing layer.  Windows loads the chosen entry's
  own DLL (its ``path``), which is the top layer's.
* **Shadowed** chains are ``effects.unreachable_chains``: healthy chain entries no call reaches
  (doctor's ``lsp-shadowed``), each with one call it matches and the entry that answers it first.
* **Orphans** are the chain entries whose first id names no entry (``lspmap.lsp_map``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from . import winsock as ws
from .effects import probe_triples, resolve_many, unreachable_chains
from .lspmap import layer_entry, lsp_map
from .model import Bitness, Catalog, CatalogFile, ProtocolEntry
from .names import display_name

Triple = tuple[int, int, int]


def protocol_text(family: int, protocol: int) -> str:
    """A protocol as ``resolve`` prints it: its name under the family, or the number."""
    if protocol == 0:
        return "0"
    return ws.protocol_name(family, protocol) or (hex(protocol) if abs(protocol) > 0xFFFF
                                                  else str(protocol))


def protocol_range_text(e: ProtocolEntry) -> str:
    """An entry's protocol as lists show it: ``IPPROTO_TCP``, or ``0..255`` for a RAW range."""
    if e.protocol_max_offset > 0:
        return f"{e.protocol}..{e.protocol + e.protocol_max_offset}"
    return protocol_text(e.family, e.protocol) if e.protocol else "0"


def runs(values: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted distinct values as inclusive runs: ``[0, 1, 2, 6]`` -> ``[(0, 2), (6, 6)]``."""
    out: list[tuple[int, int]] = []
    for v in sorted(set(values)):
        if out and v == out[-1][1] + 1:
            out[-1] = (out[-1][0], v)
        else:
            out.append((v, v))
    return out


def calls_text(calls: Sequence[Triple]) -> str:
    """``AF_INET, SOCK_STREAM, 0 | IPPROTO_TCP``; several (family, type) pairs joined by ``; ``.
    A run of three or more protocols prints as ``lo..hi``."""
    groups: dict[tuple[int, int], list[int]] = {}
    for af, st, proto in calls:
        groups.setdefault((af, st), []).append(proto)
    parts: list[str] = []
    for (af, st), protos in groups.items():
        shown: list[str] = []
        for lo, hi in runs(protos):
            if hi - lo >= 2:
                shown.append(f"{lo}..{hi}")
            else:
                shown.extend(protocol_text(af, p) for p in range(lo, hi + 1))
        fam = (ws.family_name(af) if af else None) or str(af)
        typ = (ws.socket_type_name(st) if st else None) or str(st)
        parts.append(f"{fam}, {typ}, {' | '.join(shown)}")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Layer:
    """One layer of a stack: chain id ``id`` and the entry it stands for (None: missing)."""

    id: int
    entry: ProtocolEntry | None

    @property
    def missing(self) -> bool:
        return self.entry is None

    @property
    def name(self) -> str:
        """The display name (the stored name is ``entry.name``)."""
        return "(missing: no entry has this id)" if self.entry is None else \
            display_name(self.entry.name)

    @property
    def role(self) -> str:
        """``LSP`` (a layered entry), ``base`` or the entry's kind."""
        if self.entry is None:
            return "missing"
        return "LSP" if self.entry.kind == "layered" else self.entry.kind

    @property
    def path(self) -> str:
        return "" if self.entry is None else self.entry.path

    @property
    def ifs(self) -> bool | None:
        return None if self.entry is None else self.entry.is_ifs

    @property
    def categories(self) -> int:
        return 0 if self.entry is None else self.entry.lsp_categories

    def facts(self) -> str:
        """``LSP, non-IFS, LSP_INSPECTOR``: the vendor-neutral facts of the layer."""
        if self.entry is None:
            return "missing"
        out = [self.role, "IFS" if self.entry.is_ifs else "non-IFS"]
        if self.categories:
            out.append(ws.format_flags(self.categories, ws.LSP_CATEGORIES))
        return ", ".join(out)

    def to_json(self) -> dict[str, object]:
        e = self.entry
        return {"id": self.id, "missing": e is None,
                "entry_id": None if e is None else e.id,
                "kind": None if e is None else e.kind,
                "name": None if e is None else e.name,
                "display_name": None if e is None else display_name(e.name),
                "path": None if e is None else e.path,
                "ifs": self.ifs,
                "lsp_categories": self.categories,
                "lsp_category_names": ws.flag_names(self.categories, ws.LSP_CATEGORIES)[0]}


def layers_of(cat: Catalog, e: ProtocolEntry) -> tuple[Layer, ...]:
    """The layers of entry ``e`` from the top layer to the base provider."""
    return tuple(Layer(i, layer_entry(cat.get, i)) for i in e.chain_ids)


@dataclass(frozen=True, slots=True)
class Stack:
    """The entry ``socket()`` picks for ``calls`` and the layers it runs, top to base."""

    bitness: Bitness
    entry: ProtocolEntry
    position: int
    calls: tuple[Triple, ...]
    layers: tuple[Layer, ...]

    @property
    def calls_text(self) -> str:
        return calls_text(self.calls)

    def answers(self, triple: Triple) -> bool:
        return triple in self.calls

    def shape(self) -> tuple[object, ...]:
        """What two catalogs' stacks are compared by (everything but the bitness)."""
        return (self.entry, self.position, self.calls, self.layers)

    def to_json(self) -> dict[str, object]:
        groups: dict[tuple[int, int], list[int]] = {}
        for af, st, proto in self.calls:
            groups.setdefault((af, st), []).append(proto)
        return {"entry_id": self.entry.id, "position": self.position, "kind": self.entry.kind,
                "name": self.entry.name, "display_name": display_name(self.entry.name),
                "path": self.entry.path, "calls_text": self.calls_text,
                "broken": any(x.missing for x in self.layers),
                "calls": [{"family": af, "family_name": ws.family_name(af),
                           "socket_type": st, "socket_type_name": ws.socket_type_name(st),
                           "protocols": [[lo, hi] for lo, hi in runs(ps)]}
                          for (af, st), ps in groups.items()],
                "layers": [x.to_json() for x in self.layers]}


@dataclass(frozen=True, slots=True)
class Shadowed:
    """A healthy chain entry no call reaches: one call it matches goes to ``answered_by``."""

    entry: ProtocolEntry
    position: int
    call: Triple
    answered_by: ProtocolEntry | int          # the entry, or the WSAE error
    layers: tuple[Layer, ...]

    def to_json(self) -> dict[str, object]:
        by = self.answered_by
        return {"entry_id": self.entry.id, "position": self.position,
                "name": self.entry.name, "display_name": display_name(self.entry.name),
                "path": self.entry.path, "call": list(self.call),
                "calls_text": calls_text([self.call]),
                "answered_by": by.id if isinstance(by, ProtocolEntry) else None,
                "winsock_error": by if isinstance(by, int) else None,
                "layers": [x.to_json() for x in self.layers]}


@dataclass(frozen=True, slots=True)
class CatalogStacks:
    """Everything ``stacks`` shows for one catalog."""

    bitness: Bitness
    stacks: tuple[Stack, ...]
    shadowed: tuple[Shadowed, ...]
    orphans: tuple[ProtocolEntry, ...]
    positions: dict[int, int]

    def same_as(self, other: CatalogStacks) -> bool:
        """True when both catalogs give every call the same stack and have the same shadowed
        chains and orphans (the human view then prints the second once)."""
        return ([s.shape() for s in self.stacks] == [s.shape() for s in other.stacks]
                and [(s.entry, s.call) for s in self.shadowed]
                == [(s.entry, s.call) for s in other.shadowed]
                and self.orphans == other.orphans)

    def stack_for(self, triple: Triple) -> Stack | None:
        return next((s for s in self.stacks if s.answers(triple)), None)

    def to_json(self) -> dict[str, object]:
        return {"catalog": self.bitness,
                "stacks": [s.to_json() for s in self.stacks],
                "shadowed": [s.to_json() for s in self.shadowed],
                "orphans": [{"entry_id": e.id, "position": self.positions.get(e.id),
                             "name": e.name, "display_name": display_name(e.name),
                             "path": e.path, "chain": list(e.chain)} for e in self.orphans]}


def catalog_stacks(cat: Catalog) -> CatalogStacks:
    """The stacks, shadowed chains and orphans of one catalog (see the module docstring)."""
    got = resolve_many(cat, probe_triples(cat))
    by_entry: dict[int, list[Triple]] = {}
    chosen: dict[int, ProtocolEntry] = {}
    for t, x in got.items():
        if isinstance(x, ProtocolEntry):
            by_entry.setdefault(x.id, []).append(t)
            chosen[x.id] = x
    positions = {e.id: n for n, e in enumerate(cat.protocols, 1)}
    stacks = [Stack(cat.bitness, e, positions.get(i, 0), tuple(sorted(by_entry[i])),
                    layers_of(cat, e))
              for i, e in chosen.items()]
    stacks.sort(key=lambda s: (s.position, s.entry.id))
    shadowed = tuple(Shadowed(e, positions.get(e.id, 0), t, w, layers_of(cat, e))
                     for e, t, w in unreachable_chains(cat))
    orphans = tuple(e for lsp in lsp_map(cat) if lsp.is_orphans for e in lsp.chains)
    return CatalogStacks(cat.bitness, tuple(stacks), shadowed, orphans, positions)


def file_stacks(f: CatalogFile, bitnesses: Sequence[str] | None = None) -> list[CatalogStacks]:
    """``catalog_stacks`` of every catalog of ``f`` (native first), or of those named."""
    return [catalog_stacks(f.catalogs[b]) for b in f.bitnesses
            if bitnesses is None or b in bitnesses]


# The calls a bug report shows first: TCP and UDP over IPv4 and IPv6.
COMMON_CALLS: tuple[tuple[str, Triple], ...] = (
    ("TCP/IPv4", (ws.ADDRESS_FAMILIES["AF_INET"], ws.SOCKET_TYPES["SOCK_STREAM"], 6)),
    ("UDP/IPv4", (ws.ADDRESS_FAMILIES["AF_INET"], ws.SOCKET_TYPES["SOCK_DGRAM"], 17)),
    ("TCP/IPv6", (ws.ADDRESS_FAMILIES["AF_INET6"], ws.SOCKET_TYPES["SOCK_STREAM"], 6)),
    ("UDP/IPv6", (ws.ADDRESS_FAMILIES["AF_INET6"], ws.SOCKET_TYPES["SOCK_DGRAM"], 17)),
)
