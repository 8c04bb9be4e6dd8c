"""The well-known Microsoft providers, and completing lossy imports from them (issue 13, case 5).

netsh text carries no provider flags, protocol max offset or message size; a Firefox
``Winsock_LSP`` annotation carries no address lengths, protocol max offset or message size.  Left
at 0, a netsh paste would answer ``socket(AF_INET, SOCK_STREAM, 0)`` with WSAEPROTONOSUPPORT
(no PFL_MATCHES_PROTOCOL_ZERO) and ``socket(AF_INET, SOCK_RAW, 1)`` with an error (RAW/IP serves
0..255 through its max offset), and a ``.reg`` written from it would put PFL 0 into an image.

**What is known.**  Every base entry of the shipped default catalogs (``catalogs/*.toml``; each
value there is traced to default-catalogs.md, whose §2 templates say the per-provider constants
are the same Vista -> 11).  They are read once, lazily, the first time an import needs them.  A
key whose entries disagree in a field that can be filled would be dropped (none does today).

**How an entry matches (strict on identity, lenient on spelling).**  Only base entries
(ChainLen 1).  The provider GUID and the (family, type, protocol) triple must be equal; the DLL
path is compared case-insensitively with ``/`` read as ``\\``, a leading ``%SystemRoot%``,
``%windir%`` or ``X:\\Windows`` taken as the same root, and ``SysWOW64`` as ``system32`` (the
WOW64 catalog's view of the same DLL).  The name is *not* compared: netsh and Firefox print the
localized text (zh-CN ``RSVP TCP 服务提供商``); the GUID, triple and path identify the provider.

**What is filled in**, and recorded in the entry's ``inferred`` (and so in the catalog file,
the JSON and ``sporder show``), only for the fields the format lacks:

* a matching base entry: from the known provider (provider_flags, protocol_max_offset,
  message_size, address lengths);
* a chain entry whose chain ends in a base entry that was completed (or carried the fields) and
  that has the same triple: the same fields copied from that base, as an LSP installer builds a
  chain entry as a copy of the entry it layers over (winsock-semantics §1.2);
* a layered (hidden) entry: provider_flags = PFL_HIDDEN, the flag every LSP installer gives the
  hidden entry (winsock-semantics §1.2, anchor-tools §2.2);
* anything else keeps the model defaults, and one warning names those entries.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from . import winsock as ws
from ._record import replace
from .model import Bitness, Catalog, CatalogFile, ProtocolEntry

# The fields a known provider (or a chain's base) can supply, in the order they are listed.
TEMPLATE_FIELDS = ("provider_flags", "protocol_max_offset", "message_size",
                   "min_address_length", "max_address_length")

_ROOT = re.compile(r"^(?:%systemroot%|%windir%|[a-z]:\\windows)(?=\\)")
_Key = tuple[str, int, int, int, str]


def normalize_path(path: str) -> str:
    """A DLL path for comparison: lower case, ``\\`` separators, one spelling of the Windows
    directory, ``syswow64`` read as ``system32``."""
    p = _ROOT.sub("%systemroot%", path.strip().replace("/", "\\").lower())
    return p.replace("\\syswow64\\", "\\system32\\")


def _key(e: ProtocolEntry) -> _Key:
    return (e.provider_id.upper(), e.family, e.socket_type, e.protocol, normalize_path(e.path))


@functools.cache
def _templates() -> dict[_Key, ProtocolEntry]:
    from .shipped_data import load_shipped_file, shipped_names
    found: dict[_Key, ProtocolEntry] = {}
    conflicting: set[_Key] = set()
    for name in shipped_names():
        for cat in load_shipped_file(name).catalogs.values():
            for e in cat.protocols:
                if e.kind != "base":
                    continue
                k = _key(e)
                seen = found.setdefault(k, e)
                if any(getattr(seen, n) != getattr(e, n) for n in TEMPLATE_FIELDS):
                    conflicting.add(k)
    return {k: e for k, e in found.items() if k not in conflicting}


def known_provider(e: ProtocolEntry) -> ProtocolEntry | None:
    """The shipped base entry that ``e`` is an instance of, or None (see the module docstring)."""
    if e.kind != "base":
        return None
    return _templates().get(_key(e))


def explain(e: ProtocolEntry) -> str:
    """Where an entry's inferred fields came from, for ``sporder show``."""
    if e.kind == "base":
        return ("from the known Microsoft provider with this provider GUID, (family, type, "
                "protocol) and DLL path")
    if e.kind == "layered":
        return "PFL_HIDDEN, the flag every LSP installer gives its hidden entry"
    if "chain" in e.inferred:
        return ("kind and chain from the LSP's 'X over [Y]' name; the others copied from the "
                "base provider the chain ends in")
    return "copied from the base provider the chain ends in, as LSP installers do"


def id_ranges(ids: Iterable[int]) -> str:
    """``[1001, 1002, 1003, 1006]`` -> ``"1001-1003, 1006"``."""
    out: list[str] = []
    run: list[int] = []
    for i in sorted(set(ids)):
        if run and i != run[-1] + 1:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
            run = []
        run.append(i)
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ", ".join(out)


def _with_inferred(e: ProtocolEntry, source: ProtocolEntry | None, fields: tuple[str, ...],
                   **values: object) -> ProtocolEntry:
    if source is not None:
        values.update({n: getattr(source, n) for n in fields})
    names = tuple(dict.fromkeys(e.inferred + fields))
    return replace(e, inferred=names, **values)


def _complete_catalog(cat: Catalog, fill: tuple[str, ...],
                      notes: dict[tuple[str, tuple[str, ...]], dict[Bitness, list[int]]],
                      ) -> Catalog:
    def note(reason: str, fields: tuple[str, ...], entry_id: int) -> None:
        notes.setdefault((reason, fields), {}).setdefault(cat.bitness, []).append(entry_id)

    out = {e.id: e for e in cat.protocols}
    complete: set[int] = set()
    for e in cat.protocols:
        if e.kind == "base":
            template = known_provider(e)
            if template is not None:
                out[e.id] = _with_inferred(e, template, fill)
                complete.add(e.id)
                note("known", fill, e.id)
            else:
                note("unknown", fill, e.id)
    for e in cat.protocols:
        if e.kind == "chain":
            base = out.get(e.chain[-1])
            if (base is not None and base.kind == "base" and base.id in complete
                    and base.triple == e.triple):
                out[e.id] = _with_inferred(e, base, fill)
                note("base", fill, e.id)
            else:
                note("unknown", fill, e.id)
        elif e.kind == "layered" and "provider_flags" in fill:
            out[e.id] = _with_inferred(e, None, ("provider_flags",),
                                       provider_flags=ws.PFL_HIDDEN)
            note("hidden", ("provider_flags",), e.id)
    return cat.with_protocols([out[e.id] for e in cat.protocols])


_REASONS = {
    "known": ("entries", "{fields} inferred from the known Microsoft provider with the same "
                         "provider GUID, (family, type, protocol) and DLL path"),
    "base": ("chain entries", "{fields} copied from the base provider each chain ends in (an "
                              "LSP installer copies the entry it layers over)"),
    "hidden": ("layered entries", "provider_flags set to PFL_HIDDEN (the flag every LSP "
                                  "installer gives its hidden entry)"),
    "unknown": ("entries", ""),
}


def _where(noun: str, by_bitness: dict[Bitness, list[int]]) -> str:
    """``entries 1001-1014 of the 64- and 32-bit catalogs`` (one list when both catalogs name
    the same ids)."""
    lists = list(by_bitness.items())
    if sum(len(set(ids)) for _, ids in lists) == 1 or (
            len(lists) == 2 and len(set(lists[0][1])) == 1 and lists[0][1] == lists[1][1]):
        noun = noun.replace("entries", "entry")
    if len(lists) == 2 and sorted(lists[0][1]) == sorted(lists[1][1]):
        return f"{noun} {id_ranges(lists[0][1])} of the 64- and 32-bit catalogs"
    return f"{noun} " + " and ".join(f"{id_ranges(ids)} of the {b}-bit catalog"
                                     for b, ids in lists)


def complete(f: CatalogFile, missing: Iterable[str], source: str,
             ) -> tuple[CatalogFile, list[str]]:
    """Fill in the ``missing`` fields of ``f``'s entries from what is known; returns the file and
    one warning per kind of inference (plus one for the entries nothing is known about)."""
    fill = tuple(n for n in TEMPLATE_FIELDS if n in set(missing))
    if not fill:
        return f, []
    notes: dict[tuple[str, tuple[str, ...]], dict[Bitness, list[int]]] = {}
    for b in f.bitnesses:
        f = f.with_catalog(_complete_catalog(f.catalog(b), fill, notes))
    warnings: list[str] = []
    for (reason, fields), by_bitness in notes.items():
        if reason == "unknown":
            continue
        noun, text = _REASONS[reason]
        hint = "" if warnings else " ('sporder show ID' lists an entry's inferred fields)"
        warnings.append(f"{source}: {_where(noun, by_bitness)}: "
                        f"{text.format(fields=', '.join(fields))}{hint}.")
    unknown = notes.get(("unknown", fill))
    if unknown:
        zero = (" (provider flags 0: protocol 0 does not select them)"
                if "provider_flags" in fill else "")
        warnings.append(f"{source}: {_where('entries', unknown)} match no known Microsoft "
                        f"provider; their {', '.join(fill)} stay at the defaults{zero}.")
    return f, warnings
