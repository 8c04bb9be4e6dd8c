"""Frozen, typed dataclasses for the Winsock 2 catalog (winsock-semantics §1.1, §1.2, §6).

Each class is a dataclass made with ``_record.record`` (a frozen dataclass whose ``__init__`` is
written out instead of generated at import, for start-up time: see that module).

A ``ProtocolEntry`` is a WSAPROTOCOL_INFOW plus its provider DLL path and LSP categories.  Its
kind follows ProtocolChain.ChainLen exactly (§1.2): 0 = layered (an LSP's hidden entry), 1 = base
provider, 2..7 = chain (ids from the top layer down to the base provider).  A ``Catalog`` is one
ordered list of protocol entries plus one ordered list of namespace providers; a ``CatalogFile``
holds the native (64) and/or WOW64 (32) catalog and the file-level counters.
"""

from __future__ import annotations

from dataclasses import field
from functools import cached_property
from itertools import count
from operator import attrgetter
from typing import Literal

from . import winsock as ws
from ._record import Record, record, replace
from .errors import CatalogFileError

Kind = Literal["layered", "base", "chain"]
Bitness = Literal["64", "32"]
KINDS: tuple[Kind, ...] = ("layered", "base", "chain")
BITNESSES: tuple[Bitness, ...] = ("64", "32")
_set = object.__setattr__
_entry_id = attrgetter("id")


def kind_for_chain_len(chain_len: int) -> Kind:
    """§1.2: ChainLen 0 = LAYERED_PROTOCOL, 1 = BASE_PROTOCOL, > 1 = protocol chain."""
    if chain_len == ws.LAYERED_PROTOCOL:
        return "layered"
    if chain_len == ws.BASE_PROTOCOL:
        return "base"
    return "chain"


@record()
class ProtocolEntry(Record):
    """One catalog entry: every WSAPROTOCOL_INFOW field, the DLL path, the LSP categories."""

    id: int                                   # dwCatalogEntryId
    kind: Kind                                # from ProtocolChain.ChainLen
    name: str                                 # szProtocol
    provider_id: str                          # ProviderId, "{XXXXXXXX-XXXX-...}" upper case
    path: str                                 # provider DLL path, stored unexpanded
    family: int                               # iAddressFamily
    socket_type: int                          # iSocketType
    protocol: int                             # iProtocol
    protocol_max_offset: int = 0              # iProtocolMaxOffset
    min_address_length: int = 16              # iMinSockAddr
    max_address_length: int = 16              # iMaxSockAddr
    service_flags: int = 0                    # dwServiceFlags1 (XP1_*)
    provider_flags: int = 0                   # dwProviderFlags (PFL_*)
    chain: tuple[int, ...] = ()               # ChainEntries[:ChainLen], only for kind "chain"
    version: int = 2                          # iVersion
    byte_order: int = 0                       # iNetworkByteOrder
    security_scheme: int = 0                  # iSecurityScheme
    message_size: int = 0                     # dwMessageSize
    provider_reserved: int = 0                # dwProviderReserved
    service_flags2: int = 0                   # dwServiceFlags2..4 (reserved)
    service_flags3: int = 0
    service_flags4: int = 0
    lsp_categories: int = 0                   # LSP_* (meaningful on layered entries, §7)
    inferred: tuple[str, ...] = ()            # names of fields an import filled in because the
    #                                           format lacks them (sporder_py.known), () = none

    def __init__(self, id: int, kind: Kind, name: str, provider_id: str, path: str, family: int,
                 socket_type: int, protocol: int, protocol_max_offset: int = 0,
                 min_address_length: int = 16, max_address_length: int = 16,
                 service_flags: int = 0, provider_flags: int = 0, chain: tuple[int, ...] = (),
                 version: int = 2, byte_order: int = 0, security_scheme: int = 0,
                 message_size: int = 0, provider_reserved: int = 0, service_flags2: int = 0,
                 service_flags3: int = 0, service_flags4: int = 0,
                 lsp_categories: int = 0, inferred: tuple[str, ...] = ()) -> None:
        _set(self, "id", id)
        _set(self, "kind", kind)
        _set(self, "name", name)
        _set(self, "provider_id", provider_id)
        _set(self, "path", path)
        _set(self, "family", family)
        _set(self, "socket_type", socket_type)
        _set(self, "protocol", protocol)
        _set(self, "protocol_max_offset", protocol_max_offset)
        _set(self, "min_address_length", min_address_length)
        _set(self, "max_address_length", max_address_length)
        _set(self, "service_flags", service_flags)
        _set(self, "provider_flags", provider_flags)
        _set(self, "chain", chain)
        _set(self, "version", version)
        _set(self, "byte_order", byte_order)
        _set(self, "security_scheme", security_scheme)
        _set(self, "message_size", message_size)
        _set(self, "provider_reserved", provider_reserved)
        _set(self, "service_flags2", service_flags2)
        _set(self, "service_flags3", service_flags3)
        _set(self, "service_flags4", service_flags4)
        _set(self, "lsp_categories", lsp_categories)
        _set(self, "inferred", inferred)

    @property
    def chain_len(self) -> int:
        return {"layered": 0, "base": 1}.get(self.kind, len(self.chain))

    @property
    def chain_ids(self) -> tuple[int, ...]:
        """The JSON view of the chain: [] for layered, [id] for base, the chain otherwise."""
        if self.kind == "base":
            return (self.id,)
        return self.chain

    @property
    def is_ifs(self) -> bool:
        return bool(self.service_flags & ws.XP1_IFS_HANDLES)

    @property
    def is_hidden(self) -> bool:
        return bool(self.provider_flags & ws.PFL_HIDDEN)

    @property
    def triple(self) -> tuple[int, int, int]:
        return (self.family, self.socket_type, self.protocol)

    def with_changes(self, **changes: object) -> ProtocolEntry:
        return replace(self, **changes)


@record()
class NamespaceEntry(Record):
    """A namespace provider (WSANAMESPACE_INFOEX, §6): identified by GUID, never layered."""

    provider_id: str
    name: str                                 # lpszIdentifier / DisplayString
    namespace: int                            # dwNameSpace (NS_*)
    path: str                                 # LibraryPath
    enabled: bool = True                      # fActive
    version: int = 0                          # dwVersion
    family: int = 0                           # AddressFamily value of the registry entry
    stores_class_info: bool = False           # StoresServiceClassInfo
    provider_info: str = ""                   # ProviderInfo blob as lower-case hex, "" = none

    def __init__(self, provider_id: str, name: str, namespace: int, path: str,
                 enabled: bool = True, version: int = 0, family: int = 0,
                 stores_class_info: bool = False, provider_info: str = "") -> None:
        _set(self, "provider_id", provider_id)
        _set(self, "name", name)
        _set(self, "namespace", namespace)
        _set(self, "path", path)
        _set(self, "enabled", enabled)
        _set(self, "version", version)
        _set(self, "family", family)
        _set(self, "stores_class_info", stores_class_info)
        _set(self, "provider_info", provider_info)


@record(slots=False)
class Catalog(Record):
    """One protocol catalog (in order) and its namespace catalog (in order)."""

    bitness: Bitness
    protocols: tuple[ProtocolEntry, ...] = ()
    namespaces: tuple[NamespaceEntry, ...] = ()

    def __init__(self, bitness: Bitness, protocols: tuple[ProtocolEntry, ...] = (),
                 namespaces: tuple[NamespaceEntry, ...] = ()) -> None:
        _set(self, "bitness", bitness)
        _set(self, "protocols", protocols)
        _set(self, "namespaces", namespaces)

    @cached_property
    def _index(self) -> dict[int, int]:
        """id -> position (the last one where an id repeats); built in C: a batch builds one
        per intermediate catalog."""
        return dict(zip(map(_entry_id, self.protocols), count()))

    def get(self, entry_id: int) -> ProtocolEntry | None:
        i = self._index.get(entry_id)
        return None if i is None else self.protocols[i]

    def position(self, entry_id: int) -> int | None:
        """1-based position of an id in catalog order, or None."""
        i = self._index.get(entry_id)
        return None if i is None else i + 1

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._index

    @property
    def ids(self) -> list[int]:
        return [e.id for e in self.protocols]

    def with_protocols(self, protocols: tuple[ProtocolEntry, ...] | list[ProtocolEntry]) -> Catalog:
        return Catalog(self.bitness, tuple(protocols), self.namespaces)

    def with_namespaces(self, namespaces: tuple[NamespaceEntry, ...] | list[NamespaceEntry],
                        ) -> Catalog:
        return Catalog(self.bitness, self.protocols, tuple(namespaces))


@record(slots=False)
class WskRange(Record):
    """The WSK version range a catalog records for a system."""

    lowest: int
    highest: int
    documented: bool

    def __init__(self, lowest: int, highest: int, documented: bool) -> None:
        for name, v in (("lowest", lowest), ("highest", highest)):
            if not (isinstance(v, int) and not isinstance(v, bool)) or not 0 <= v <= 0xFFFF:
                raise CatalogFileError(f"WSK range {name} {v!r} is not a 16-bit version.")
        if lowest > highest:
            raise CatalogFileError(
                f"WSK range lowest {ws.format_wsk_version(lowest)} is above highest "
                f"{ws.format_wsk_version(highest)}.")
        _set(self, "lowest", lowest)
        _set(self, "highest", highest)
        _set(self, "documented", documented)

    def contains(self, version: int) -> bool:
        return self.lowest <= version <= self.highest


@record()
class AppCategory(Record):
    """An application's permitted LSP categories (WSCSetApplicationCategory, §7.3)."""

    path: str
    args: str = ""
    categories: int = 0

    def __init__(self, path: str, args: str = "", categories: int = 0) -> None:
        _set(self, "path", path)
        _set(self, "args", args)
        _set(self, "categories", categories)


@record()
class HistoryRecord(Record):
    """One write to the catalog file: who, when, what (kept inside the file, DESIGN §5)."""

    time: str                                 # UTC, ISO 8601 with "Z"
    user: str
    command: str
    summary: str
    serial_before: int
    serial_after: int
    undo_target: int                          # the serial `undo` returns to from serial_after
    state_sha256: str = ""                    # SHA-256 (hex) of the saved state of serial_before,
    #                                           "" when none was saved (the file was created)

    def __init__(self, time: str, user: str, command: str, summary: str, serial_before: int,
                 serial_after: int, undo_target: int, state_sha256: str = "") -> None:
        _set(self, "time", time)
        _set(self, "user", user)
        _set(self, "command", command)
        _set(self, "summary", summary)
        _set(self, "serial_before", serial_before)
        _set(self, "serial_after", serial_after)
        _set(self, "undo_target", undo_target)
        _set(self, "state_sha256", state_sha256)


@record(slots=False)
class CatalogFile(Record):
    """The whole catalog file (format 1, DESIGN §3)."""

    catalogs: dict[Bitness, Catalog]          # "64" and/or "32", in that order
    next_entry_id: int = ws.FIRST_CATALOG_ENTRY_ID
    serial: int = 1
    description: str = ""
    format: int = 1
    app_categories: tuple[AppCategory, ...] = ()
    lsp_ranking: tuple[str, ...] = ()         # category ranking override for chain-insert --auto
    wsk: WskRange | None = None
    history: tuple[HistoryRecord, ...] = field(default=())

    def __init__(self, catalogs: dict[Bitness, Catalog],
                 next_entry_id: int = ws.FIRST_CATALOG_ENTRY_ID, serial: int = 1,
                 description: str = "", format: int = 1,
                 app_categories: tuple[AppCategory, ...] = (), lsp_ranking: tuple[str, ...] = (),
                 wsk: WskRange | None = None, history: tuple[HistoryRecord, ...] = ()) -> None:
        _set(self, "catalogs", catalogs)
        _set(self, "next_entry_id", next_entry_id)
        _set(self, "serial", serial)
        _set(self, "description", description)
        _set(self, "format", format)
        _set(self, "app_categories", app_categories)
        _set(self, "lsp_ranking", lsp_ranking)
        _set(self, "wsk", wsk)
        _set(self, "history", history)

    @property
    def bitnesses(self) -> list[Bitness]:
        return [b for b in BITNESSES if b in self.catalogs]

    @property
    def native(self) -> Bitness:
        return "64" if "64" in self.catalogs else "32"

    def catalog(self, bitness: Bitness) -> Catalog:
        return self.catalogs[bitness]

    def with_catalog(self, catalog: Catalog) -> CatalogFile:
        cats = dict(self.catalogs)
        cats[catalog.bitness] = catalog
        return replace(self, catalogs={b: cats[b] for b in BITNESSES if b in cats})

    def same_content(self, other: CatalogFile) -> bool:
        """Equal in everything but the serial and the history."""
        return replace(self, serial=0, history=()) == replace(other, serial=0, history=())


@record()
class Change(Record):
    """One effect of an operation; --dry-run plans and mutation JSON are built from these."""

    action: str                               # add | remove | update | move | namespace-* | ...
    catalog: str                              # "64", "32" or "" for file-level changes
    id: int | None = None
    name: str = ""
    fields: tuple[tuple[str, object, object], ...] = ()   # (field, before, after)
    detail: str = ""

    def __init__(self, action: str, catalog: str, id: int | None = None, name: str = "",
                 fields: tuple[tuple[str, object, object], ...] = (), detail: str = "") -> None:
        _set(self, "action", action)
        _set(self, "catalog", catalog)
        _set(self, "id", id)
        _set(self, "name", name)
        _set(self, "fields", fields)
        _set(self, "detail", detail)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"action": self.action, "catalog": self.catalog,
                                  "id": self.id, "name": self.name}
        if self.fields:
            out["fields"] = [{"field": f, "before": b, "after": a} for f, b, a in self.fields]
        if self.detail:
            out["detail"] = self.detail
        return out
