r"""The one registry decoder: a ``WinSock2\\Parameters`` subtree (``RegTree``), whatever it was
read from -- a ``.reg`` export (``regfile``), an offline SYSTEM hive (``hive``) or the live
registry (``live``) -- mapped to the model by :func:`catalog_from_tree` (winsock-semantics §5).

Entry keys ``%012u`` are read in numeric order, which is the catalog order (§5.1; ReactOS
``dcatitem.c`` ``WsTcEntryInitializeFromRegistry``); ``Catalog_Entries64`` is the native catalog
of 64-bit Windows ("64") and ``Catalog_Entries`` the WOW64 one ("32", and the only catalog of
32-bit Windows).  The result is validated by the TOML catalog loader's rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from .. import winsock as ws
from ..errors import CatalogFileError
from ..model import BITNESSES, Bitness, Catalog, CatalogFile, NamespaceEntry, ProtocolEntry
from . import catalog_toml
from .packed import decode_packed, guid_from_bytes

RegValue = str | int | bytes          # REG_SZ/REG_EXPAND_SZ, REG_DWORD, anything else as bytes

PARAMETERS = r"Services\WinSock2\Parameters"          # below a control set (§5.1)
PROTOCOL_CATALOG = "Protocol_Catalog9"
NAMESPACE_CATALOG = "NameSpace_Catalog5"
REGISTRY_VERSION = "2.0"
ENTRIES_KEY: dict[Bitness, str] = {"32": "Catalog_Entries", "64": "Catalog_Entries64"}
COUNT_VALUE: dict[Bitness, str] = {"32": "Num_Catalog_Entries", "64": "Num_Catalog_Entries64"}
_TYPE_NAMES = {str: "REG_SZ", int: "REG_DWORD", bytes: "REG_BINARY"}
_T = TypeVar("_T", str, int, bytes)


@dataclass
class _Key:
    path: str
    values: dict[str, RegValue] = field(default_factory=dict)


def _norm(path: str) -> str:
    return "\\".join(p for p in path.split("\\") if p).lower()


class RegTree:
    r"""Keys below ``WinSock2\Parameters`` ("" is Parameters itself); names case-insensitive."""

    def __init__(self) -> None:
        self._keys: dict[str, _Key] = {"": _Key("")}

    def add(self, path: str) -> None:
        """Create a key and its parents (as the registry does)."""
        parts = [p for p in path.split("\\") if p]
        for n in range(1, len(parts) + 1):
            sub = "\\".join(parts[:n])
            self._keys.setdefault(sub.lower(), _Key(sub))

    def set(self, path: str, name: str, value: RegValue) -> None:
        self.add(path)
        self._keys[_norm(path)].values[name.lower()] = value

    def delete(self, path: str) -> None:
        """Remove a key and its subkeys (nothing when it is absent), as ``[-key]`` does."""
        gone = _norm(path)
        self._keys = {lk: k for lk, k in self._keys.items()
                      if lk != gone and not lk.startswith(gone + "\\")}

    def paths(self) -> list[str]:
        """Every key, as spelled where it was read ("" is Parameters itself)."""
        return [k.path for k in self._keys.values()]

    def has(self, path: str) -> bool:
        return _norm(path) in self._keys

    def values(self, path: str) -> dict[str, RegValue]:
        """The values of a key by lower-case name ({} for a missing key)."""
        key = self._keys.get(_norm(path))
        return key.values if key else {}

    def children(self, path: str) -> list[str]:
        """Names of the direct subkeys, as spelled where they were read."""
        prefix = _norm(path) + "\\" if _norm(path) else ""
        return [k.path[len(prefix):] for lk, k in self._keys.items()
                if lk.startswith(prefix) and lk != prefix and "\\" not in lk[len(prefix):]]


def _optional(values: dict[str, RegValue], name: str, kind: type[_T], where: str) -> _T | None:
    """A value of the expected kind (REG_SZ str, REG_DWORD int, REG_BINARY bytes) or None."""
    v = values.get(name.lower())
    if v is None:
        return None
    if not isinstance(v, kind):
        raise CatalogFileError(f"{where}: the value {name} must be a {_TYPE_NAMES[kind]}, not "
                               f"{_TYPE_NAMES.get(type(v), 'another type')}.", code="reg-type")
    if isinstance(v, int) and not 0 <= v <= ws.DWORD_MAX:
        raise CatalogFileError(f"{where}: the value {name} ({v}) is outside the DWORD range.",
                               code="reg-type")
    return v


def _value(values: dict[str, RegValue], name: str, kind: type[_T], where: str,
           default: _T | None = None) -> _T:
    v = _optional(values, name, kind, where)
    if v is not None:
        return v
    if default is None:
        raise CatalogFileError(f"{where}: the value {name} is missing.", code="reg-missing")
    return default


def _signed(v: int) -> int:
    """A REG_DWORD holding a C int (address family, namespace): 0xFFFFFFFF -> -1."""
    return v - 2**32 if v > ws.INT_MAX else v


def protocol_from_values(values: dict[str, RegValue], where: str,
                         warnings: list[str]) -> ProtocolEntry:
    """The values of one ``Protocol_Catalog9\\Catalog_Entries{,64}\\%012u`` key -> entry."""
    blob = _value(values, "PackedCatalogItem", bytes, where)
    return decode_packed(blob, where, warnings)


def namespace_from_values(values: dict[str, RegValue], where: str) -> NamespaceEntry:
    """The values of one ``NameSpace_Catalog5\\Catalog_Entries{,64}\\%012u`` key (§5.4)."""
    guid = _value(values, "ProviderId", bytes, where)
    if len(guid) != 16:
        raise CatalogFileError(f"{where}: the value ProviderId is {len(guid)} bytes; a GUID is "
                               "16.", code="reg-guid")
    return NamespaceEntry(
        provider_id=guid_from_bytes(guid),
        name=_value(values, "DisplayString", str, where),
        namespace=_signed(_value(values, "SupportedNameSpace", int, where)),
        path=_value(values, "LibraryPath", str, where),
        enabled=bool(_value(values, "Enabled", int, where, 1)),
        version=_value(values, "Version", int, where, 0),
        family=_signed(_value(values, "AddressFamily", int, where, 0)),
        stores_class_info=bool(_value(values, "StoresServiceClassInfo", int, where, 0)),
        provider_info=_value(values, "ProviderInfo", bytes, where, b"").hex())


def _entry_keys(tree: RegTree, path: str, count: int | None, count_name: str, source: str,
                warnings: list[str]) -> list[str]:
    names = tree.children(path)
    for name in names:
        if not (name.isascii() and name.isdigit()):
            raise CatalogFileError(f"{source}: key {path}\\{name} is not a numbered catalog "
                                   "entry (%012u).", code="reg-entry-key")
    names.sort(key=int)
    if [int(n) for n in names] != list(range(1, len(names) + 1)):
        warnings.append(f"{source}: {path} has entry keys {', '.join(names)}; Windows reads "
                        f"1..N without gaps, the catalog order here is the numeric order.")
    if count != len(names):
        stated = "no value" if count is None else f"{count}"
        warnings.append(f"{source}: {path} holds {len(names)} entries but {count_name} is "
                        f"{stated}; every entry key present was imported.")
    return names


def catalog_from_tree(tree: RegTree, source: str) -> tuple[CatalogFile, list[str]]:
    """Map a ``WinSock2\\Parameters`` subtree to a validated CatalogFile (+ warnings)."""
    warnings: list[str] = []
    params = tree.values("")
    where = f"{source}: WinSock2\\Parameters"
    proto = _value(params, "Current_Protocol_Catalog", str, where, PROTOCOL_CATALOG)
    nscat = _value(params, "Current_NameSpace_Catalog", str, where, NAMESPACE_CATALOG)
    if not any(tree.has(f"{proto}\\{k}") for k in ENTRIES_KEY.values()):
        raise CatalogFileError(f"{source}: WinSock2\\Parameters has no {proto}\\Catalog_Entries "
                               "or Catalog_Entries64 key.", code="reg-no-catalog")

    def entries(catalog_key: str, bitness: Bitness) -> list[tuple[str, dict[str, RegValue]]]:
        path, counters = f"{catalog_key}\\{ENTRIES_KEY[bitness]}", catalog_key
        if not tree.has(path):
            return []
        count_name = COUNT_VALUE[bitness]
        count = _optional(tree.values(counters), count_name, int, f"{source}: {counters}")
        return [(f"{source}: {path}\\{key}", tree.values(f"{path}\\{key}"))
                for key in _entry_keys(tree, path, count, count_name, source, warnings)]

    catalogs: dict[Bitness, Catalog] = {}
    for bitness in BITNESSES:
        if any(tree.has(f"{key}\\{ENTRIES_KEY[bitness]}") for key in (proto, nscat)):
            catalogs[bitness] = Catalog(
                bitness,
                tuple(protocol_from_values(v, w, warnings) for w, v in entries(proto, bitness)),
                tuple(namespace_from_values(v, w) for w, v in entries(nscat, bitness)))
    counters, cwhere = tree.values(proto), f"{source}: {proto}"
    next_id = _optional(counters, "Next_Catalog_Entry_ID", int, cwhere)
    if next_id is None:
        ids = [e.id for c in catalogs.values() for e in c.protocols]
        next_id = max([ws.FIRST_CATALOG_ENTRY_ID - 1, *ids]) + 1
        warnings.append(f"{cwhere}: Next_Catalog_Entry_ID is missing; using {next_id}.")
    serial = _optional(counters, "Serial_Access_Num", int, cwhere)
    if serial is None:
        serial = 1
        warnings.append(f"{cwhere}: Serial_Access_Num is missing; using 1.")
    f = CatalogFile(catalogs=catalogs, next_entry_id=next_id, serial=serial)
    checked, more = catalog_toml.from_dict(catalog_toml.to_dict(f), source)
    return checked, warnings + more


