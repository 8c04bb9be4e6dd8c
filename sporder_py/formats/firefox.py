"""Firefox's ``Winsock_LSP`` crash annotation: reader (netsh-format.md, "Other real formats").

Mozilla's LSPAnnotator writes one line per entry of the catalog WSCEnumProtocols returns, in
catalog order::

    szProtocol : iVersion : iAddressFamily : iSocketType : iProtocol : 0x<dwServiceFlags1> :
    0x<dwProviderFlags> : <provider DLL path> : <0x LSP categories, or empty> : <ProviderId>

(one line, shown wrapped), the ProviderId in lower case without braces and only when ChainLen <= 1.
Entries are joined by ``" \\n "`` and the first line carries the prefix ``Winsock_LSP: `` (the
bare annotation value, without the prefix, is accepted too).

Choices (each is tested):

* **Splitting.** szProtocol may itself contain ``" : "``, so the nine fixed fields are taken
  from the right and whatever is left is the name.  The DLL path cannot contain ``" : "`` (``:``
  is not allowed in Windows file names).  Spaces around a line are removed.
* **Ids.** The annotation carries no catalog ids: entries get 1001, 1002, ... in order
  (next_entry_id follows), and a warning says so.
* **Kind.** An entry with a GUID has ChainLen <= 1: it is ``layered`` when PFL_HIDDEN is set and
  the socket type is 0 (the hidden entry an LSP installer creates, winsock-semantics §1.2),
  ``base`` otherwise.  An entry without a GUID is a protocol chain whose ids the annotation does
  not record.  Where its name reads as instlsp's ``"<LSP> over [<entry below>]"`` and names
  exactly one hidden entry (same DLL path) and one entry below it (same triple), it becomes a
  chain entry ``[hidden id, *chain of the entry below]`` with ``inferred = ("kind", "chain")``
  (``_infer_chains``); otherwise the model cannot hold it as a chain, so it is imported as a
  ``base`` entry.  Either way it keeps the nil GUID (not recorded), and a warning says which.
* **Bitness.** The entries form the native ``"64"`` catalog.  (The annotation does not say
  whether the Firefox process was 32- or 64-bit, i.e. which catalog it enumerated.)
* **Not carried:** address lengths, iProtocolMaxOffset, dwMessageSize and the other
  WSAPROTOCOL_INFOW fields get the model defaults, except that ``sporder_py.known`` fills in the
  first four for the well-known Microsoft providers and the chain entries over them (listed in
  each entry's ``inferred`` and in the warnings); an empty path (WSCGetProviderPath failed) is
  kept empty, with a warning; empty categories (WSCGetProviderInfo unavailable) read as 0.
"""

from __future__ import annotations

import re

from .. import winsock as ws
from .._record import replace
from ..errors import CatalogFileError
from ..model import Catalog, CatalogFile, Kind, ProtocolEntry
from .catalog_toml import normalize_guid

PREFIX = "Winsock_LSP:"
SEPARATOR = " : "
NIL_GUID = "{00000000-0000-0000-0000-000000000000}"
DESCRIPTION = "imported from a Firefox Winsock_LSP annotation"
_FIXED = 9                          # fields after szProtocol
_DECIMAL = re.compile(r"-?[0-9]{1,20}")
_HEX = re.compile(r"0[xX][0-9a-fA-F]+")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_LINE_SPLIT = re.compile(r"\r\n|\r|\n")
_OVER = re.compile(r" over \[")
# What an annotation line does not carry and ``known.complete`` may fill in (the ids, chains and
# the other WSAPROTOCOL_INFOW fields are not carried either; see the module docstring).
NOT_CARRIED = ("protocol_max_offset", "message_size", "min_address_length", "max_address_length")


def _lines(text: str) -> list[str]:
    lines = _LINE_SPLIT.split(text.removeprefix("\ufeff"))
    while lines and not lines[-1].strip():
        lines.pop()
    if lines:
        first = lines[0].lstrip()
        lines[0] = first[len(PREFIX):] if first.startswith(PREFIX) else first
    return lines


class _Line:
    """One annotation line split into its fields; ``fail`` builds errors naming the line."""

    def __init__(self, source: str, n: int, line: str) -> None:
        self.source, self.n = source, n
        self.name = ""
        if "\x00" in line:
            raise self.fail("contains a NUL byte; this is binary data, not an annotation.")
        text = line.strip()
        if not text:
            raise self.fail("is empty; entries follow each other with no blank line.")
        if text.endswith(" :"):                     # an empty last field lost its space
            text += " "
        parts = text.split(SEPARATOR)
        if len(parts) < _FIXED + 1:
            raise self.fail(f"has {len(parts)} ' : '-separated fields; an entry has 10 "
                            "(szProtocol : iVersion : iAddressFamily : iSocketType : iProtocol "
                            ": 0xServiceFlags : 0xProviderFlags : path : categories : GUID).")
        self.name = SEPARATOR.join(parts[:-_FIXED])
        self.fields = parts[-_FIXED:]

    def fail(self, detail: str) -> CatalogFileError:
        shown = self.name if len(self.name) <= 60 else self.name[:60] + "..."
        named = f", {shown!r}" if self.name else ""
        return CatalogFileError(f"{self.source}: line {self.n} (entry {self.n}{named}) {detail}",
                                code="firefox-invalid")

    def number(self, index: int, what: str) -> int:
        text = self.fields[index]
        if not _DECIMAL.fullmatch(text) or not ws.INT_MIN <= int(text) <= ws.INT_MAX:
            raise self.fail(f"has {what} {ws.shown(text)}, which is not a decimal C int.")
        return int(text)

    def flags(self, index: int, what: str, empty_ok: bool = False) -> int:
        text = self.fields[index]
        if empty_ok and text == "":
            return 0
        if not _HEX.fullmatch(text) or len(text) > 20 or int(text, 16) > ws.DWORD_MAX:
            raise self.fail(f"has {what} {ws.shown(text)}, which is not a 0x hex DWORD.")
        return int(text, 16)


def parse_firefox(text: str, source: str) -> tuple[CatalogFile, list[str]]:
    """Read a ``Winsock_LSP`` annotation into a CatalogFile with one native catalog.

    Returns (file, warnings); raises CatalogFileError naming the line and entry of the first
    defect.
    """
    lines = _lines(text)
    if not lines or (len(lines) == 1 and not lines[0].strip()):
        raise CatalogFileError(f"{source}: line 1: no Winsock_LSP entries; the text is empty.",
                               code="firefox-invalid")
    warnings: list[str] = []
    entries: list[ProtocolEntry] = []
    chainless: set[int] = set()                 # line numbers of the entries without a GUID
    for n, raw in enumerate(lines, 1):
        line = _Line(source, n, raw)
        if len(line.name) > ws.WSAPROTOCOL_LEN:
            raise line.fail(f"has a name of {len(line.name)} characters; the limit is "
                            f"{ws.WSAPROTOCOL_LEN}.")
        version, family = line.number(0, "iVersion"), line.number(1, "iAddressFamily")
        socket_type, protocol = line.number(2, "iSocketType"), line.number(3, "iProtocol")
        service_flags = line.flags(4, "dwServiceFlags1")
        provider_flags = line.flags(5, "dwProviderFlags")
        path = line.fields[6]
        if len(path) > ws.MAX_PATH - 1:
            raise line.fail(f"has a path of {len(path)} characters; the limit is "
                            f"{ws.MAX_PATH - 1}.")
        categories = line.flags(7, "LSP categories", empty_ok=True)
        guid_text = line.fields[8].strip()
        kind: Kind = "base"
        if not guid_text:
            guid = NIL_GUID
            chainless.add(n)
        else:
            found = normalize_guid(guid_text) if _GUID.fullmatch(guid_text) else None
            if found is None:
                raise line.fail(f"has provider GUID {guid_text!r}, which is not a GUID like "
                                "e70f1aa0-ab8b-11cf-8ca3-00805f48a192.")
            guid = found
            if provider_flags & ws.PFL_HIDDEN and socket_type == 0:
                kind = "layered"
        if not path:
            warnings.append(f"{source}: line {n} (entry {n}, {line.name!r}) has no provider "
                            "path (WSCGetProviderPath failed when Firefox wrote it).")
        entries.append(ProtocolEntry(
            id=ws.FIRST_CATALOG_ENTRY_ID + n - 1, kind=kind, name=line.name, provider_id=guid,
            path=path, family=family, socket_type=socket_type, protocol=protocol,
            service_flags=service_flags, provider_flags=provider_flags, version=version,
            lsp_categories=categories))
    last = ws.FIRST_CATALOG_ENTRY_ID + len(entries) - 1
    warnings.append(f"{source}: the annotation carries no catalog ids, address lengths, "
                    "protocol max offset, message size or protocol chains; ids "
                    f"{ws.FIRST_CATALOG_ENTRY_ID}-{last} were assigned in catalog order and the "
                    "other fields set to the defaults except where inferred below.")
    entries, chain_notes = _infer_chains(entries, chainless)
    for n, e in enumerate(entries, 1):
        if n in chainless and e.kind != "chain":
            warnings.append(f"{source}: line {n} (entry {n}, {e.name!r}) has no provider GUID, "
                            "so it is a protocol chain whose layer ids the annotation does not "
                            "record, and its name does not name one hidden entry and one entry "
                            "below it unambiguously; it was imported as a base entry with the "
                            "nil GUID.")
    warnings += [f"{source}: {note}" for note in chain_notes]
    f = CatalogFile(catalogs={"64": Catalog("64", tuple(entries))}, next_entry_id=last + 1,
                    serial=1, description=DESCRIPTION)
    from ..known import complete
    f, inferred = complete(f, NOT_CARRIED, source)
    return f, warnings + inferred


def _over(name: str) -> list[tuple[str, str]]:
    """Every way to read ``name`` as instlsp's ``"<LSP> over [<entry below>]"``."""
    if not name.endswith("]"):
        return []
    return [(name[:m.start()], name[m.end():-1]) for m in _OVER.finditer(name)]


def _infer_chains(entries: list[ProtocolEntry], chainless: set[int],
                  ) -> tuple[list[ProtocolEntry], list[str]]:
    """Turn the GUID-less ``"X over [Y]"`` entries into chain entries where the names say so
    unambiguously: exactly one layered (hidden) entry is named X and has the entry's DLL path
    (a chain entry carries its top layer's DLL), and exactly one other non-layered entry is
    named Y and has the entry's (family, type, protocol).  The chain is X's hidden id followed
    by Y's chain (``[X, Y]`` over a base Y, ``[X, A, B]`` over a chain ``[A, B]``); a Y that is
    itself such an entry is resolved first.  Everything else is left as it is."""
    by_line = dict(enumerate(entries, 1))
    chains: dict[int, tuple[int, ...] | None] = {}

    def chain_of(n: int, seen: frozenset[int]) -> tuple[int, ...] | None:
        if n in chains:
            return chains[n]
        if n in seen:
            return None                                # names that go round in a circle
        e = by_line[n]
        found: list[tuple[int, ...]] = []
        for lsp, below in _over(e.name):
            hidden = [h for h in entries if h.kind == "layered" and h.name == lsp
                      and h.path.lower() == e.path.lower()]
            under = [m for m, u in by_line.items() if m != n and u.kind != "layered"
                     and u.name == below and u.triple == e.triple]
            if len(hidden) != 1 or len(under) != 1:
                continue
            rest = (chain_of(under[0], seen | {n}) if under[0] in chainless
                    else by_line[under[0]].chain_ids)
            if rest is None:
                continue
            chain = (hidden[0].id, *rest)
            if len(chain) <= ws.MAX_PROTOCOL_CHAIN and len(set(chain)) == len(chain):
                found.append(chain)
        chains[n] = found[0] if len(found) == 1 else None
        return chains[n]

    out = list(entries)
    made: list[str] = []
    for n in sorted(chainless):
        chain = chain_of(n, frozenset())
        if chain is not None:
            out[n - 1] = replace(out[n - 1], kind="chain", chain=chain, inferred=("kind", "chain"))
            made.append(f"{out[n - 1].id} = [{', '.join(map(str, chain))}]")
    notes = []
    if made:
        notes.append(f"the entries without a provider GUID named '<LSP> over [<entry>]' were read "
                     f"as chain entries of that LSP's hidden entry over that entry: "
                     f"{'; '.join(made)} (kind and chain inferred; their provider GUID is not "
                     "recorded, so they keep the nil GUID).")
    return out, notes


def looks_like_firefox(text: str) -> bool:
    """True for text starting with ``Winsock_LSP:`` or whose first line reads as an entry."""
    stripped = text.removeprefix("\ufeff").lstrip()
    if stripped.startswith(PREFIX):
        return True
    lines = _lines(stripped)
    if not lines:
        return False
    try:
        line = _Line("", 1, lines[0])
        line.number(0, "")
        line.flags(4, "")
        line.flags(5, "")
    except CatalogFileError:
        return False
    return True
