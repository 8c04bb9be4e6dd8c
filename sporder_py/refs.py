"""What a user types to name a protocol entry, resolved in one catalog.

Scripts cannot hard-code entry ids (TCP/IP is 1006 on Windows 10 and 1004 on Windows 11), and a
person reads names, so wherever an entry is named -- ``show``, ``move``, ``uninstall``,
``install-lsp --over``, ``chain-insert`` and its ``--above``/``--below``, and the same keys in
``apply`` -- these forms are accepted, tried in this order:

* an entry id: ``1004``, or hexadecimal ``0x3ec``;
* a triple ``AF,TYPE,PROTOCOL`` with the names ``resolve`` takes (``inet,stream,tcp``,
  ``2,1,6``): the **base provider** for that triple -- the one at the bottom of the stack
  ``socket()`` gets for it (on Windows 11, MSAFD Tcpip [TCP/IP], not the RSVP provider with the
  same triple further down); when that stack's base does not have exactly the triple, the one
  base entry that does (several: ambiguous);
* a provider GUID (``{E70F1AA0-...}``, braces optional): the entry with that GUID, or the LSP
  whose hidden entry has it;
* a name, stored (``@%SystemRoot%\\system32\\mswsock.dll,-60100``) or as displayed
  (``MSAFD Tcpip [TCP/IP]``), compared exactly, then ignoring case.

Several matches are refused in one sentence naming the candidates; no match likewise (both exit
1, WSAEINVAL like WSCEnumProtocols given a bad id).
"""

from __future__ import annotations

import re

from . import winsock as ws
from .errors import OperationRefused, UsageError
from .model import Catalog, ProtocolEntry
from .names import display_name

_GUID = re.compile(r"^\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
                   r"[0-9A-Fa-f]{12}\}?$")
_ID = re.compile(r"^(?:[0-9]+|0[xX][0-9A-Fa-f]+)$", re.ASCII)
_SHOWN = 6                      # candidates named in a message


def _describe(e: ProtocolEntry) -> str:
    return f"{e.id} {display_name(e.name)!r}"


def _refuse(cat: Catalog, text: str, detail: str, code: str) -> OperationRefused:
    return OperationRefused(f"{ws.shown(text)} {detail} in the {cat.bitness}-bit catalog.",
                            code=code, winsock_error=ws.WSAEINVAL)


def _one(cat: Catalog, text: str, found: list[ProtocolEntry], what: str) -> ProtocolEntry:
    if len(found) == 1:
        return found[0]
    names = ", ".join(_describe(e) for e in found[:_SHOWN])
    more = f" and {len(found) - _SHOWN} more" if len(found) > _SHOWN else ""
    raise _refuse(cat, text, f"matches {len(found)} {what} ({names}{more}); name one by its id",
                  "ambiguous-entry")


def parse_triple(text: str) -> tuple[int, int, int] | None:
    """``inet,stream,tcp`` -> (2, 1, 6); None when ``text`` is not three comma-separated parts
    (a name with commas in it is then tried as a name).  Bad names raise UsageError."""
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip() for p in parts):
        return None
    return (ws.parse_family(parts[0]), ws.parse_socket_type(parts[1]),
            ws.parse_protocol(parts[2]))


def base_for_triple(cat: Catalog, triple: tuple[int, int, int],
                    text: str = "") -> ProtocolEntry:
    """The base provider for ``triple`` (see the module docstring)."""
    from .resolver import resolve
    res = resolve(cat, *triple)
    chosen = res.layers[-1] if res.ok and res.layers else None
    exact = [e for e in cat.protocols if e.kind == "base" and e.triple == triple]
    if chosen is not None and (chosen in exact or not exact):
        return chosen
    if exact:
        return _one(cat, text or ",".join(map(str, triple)), exact, "base providers")
    raise _refuse(cat, text or ",".join(map(str, triple)),
                  f"({ws.family_name(triple[0]) or triple[0]}, "
                  f"{ws.socket_type_name(triple[1]) or triple[1]}, "
                  f"{ws.protocol_name(triple[0], triple[2]) or triple[2]}) has no base provider",
                  "no-such-entry")


def entry_id(text: str) -> int | None:
    """An id as users write one: ASCII decimal or ``0x`` hexadecimal (no sign, no other
    digits); None for anything else."""
    t = text.strip()
    if _ID.match(t):
        return int(t, 16) if t[:2].lower() == "0x" else int(t)
    return None


def _named(cat: Catalog, text: str) -> list[ProtocolEntry]:
    """Entries whose stored or displayed name is ``text``: exactly (as typed, then without the
    surrounding spaces), then ignoring case."""
    for want in dict.fromkeys((text, text.strip())):
        found = [e for e in cat.protocols if want in (e.name, display_name(e.name))]
        if found:
            return found
    folded = text.strip().casefold()
    return [e for e in cat.protocols
            if folded in (e.name.casefold(), display_name(e.name).casefold())]


def find_entry(cat: Catalog, text: str) -> ProtocolEntry:
    """The entry ``text`` names in ``cat`` (see the module docstring), or OperationRefused."""
    t = text.strip()
    number = entry_id(t)
    if number is not None:
        e = cat.get(number)
        if e is None:
            raise _refuse(cat, text, "is not the id of an entry", "no-such-entry")
        return e
    try:
        triple = parse_triple(t)
    except UsageError:
        named = _named(cat, text)            # "a,b,c" may be a name after all
        if named:
            return _one(cat, text, named, "entries")
        raise
    if triple is not None:
        return base_for_triple(cat, triple, t)
    if _GUID.match(t):
        guid = "{" + t.strip("{}").upper() + "}"
        found = [e for e in cat.protocols if e.provider_id == guid]
        hidden = [e for e in found if e.kind == "layered"]
        if hidden:                       # an LSP's GUID names the LSP: its hidden entry
            return _one(cat, text, hidden, "LSPs")
        if found:
            return _one(cat, text, found, "entries")
        raise _refuse(cat, text, "is not the provider GUID of an entry", "no-such-entry")
    found = _named(cat, text)
    if found:
        return _one(cat, text, found, "entries")
    raise _refuse(cat, text, "names no entry (give an id, a triple such as inet,stream,tcp, a "
                  "provider GUID or a name)", "no-such-entry")


def find_id(cat: Catalog, text: str | int) -> int:
    """``find_entry`` for callers that keep ids; an int is taken as an id as it is."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    return find_entry(cat, str(text)).id


def candidates(cat: Catalog) -> list[tuple[str, str]]:
    """What completion offers for an entry argument: (value, help) for ids, triples of base
    providers, provider GUIDs of LSPs and names."""
    out: list[tuple[str, str]] = [(str(e.id), display_name(e.name)) for e in cat.protocols]
    seen: set[str] = set()
    for e in cat.protocols:
        if e.kind == "base":
            fam = (ws.family_name(e.family) or str(e.family)).removeprefix("AF_").lower()
            typ = (ws.socket_type_name(e.socket_type) or str(e.socket_type)).removeprefix(
                "SOCK_").lower()
            pro = ws.protocol_name(e.family, e.protocol) or str(e.protocol)
            for prefix in ("IPPROTO_", "BTHPROTO_", "HV_PROTOCOL_", "NSPROTO_", "IRDA_PROTO_"):
                pro = pro.removeprefix(prefix)
            value = f"{fam},{typ},{pro.lower()}"
            if value not in seen:
                seen.add(value)
                out.append((value, display_name(e.name)))
        if e.kind == "layered":
            out.append((e.provider_id, display_name(e.name)))
    out.extend((display_name(e.name), f"entry {e.id}") for e in cat.protocols)
    return out
