r"""Registry exports (.reg) of ``...\Services\WinSock2\Parameters`` (winsock-semantics §5).

Reading accepts what regedit writes — "Windows Registry Editor Version 5.00" (UTF-16LE with a
BOM, CRLF) and "REGEDIT4" (ANSI; read as UTF-8, else cp1252) — with ``"string"``, ``dword:``,
``hex:`` and ``hex(N):`` values wrapped over ``\`` continuation lines, and key paths under any
prefix (``HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet``, ``ControlSet001``, hivex's
``\ControlSet001``).  The ``Parameters`` subtree becomes a :class:`RegTree`, and
:func:`catalog_from_tree` — shared with the offline hive reader (``hive.py``) — maps it to the
model:

* Deletions (``[-key]``, ``"name"=-``) refuse the file: an export describes a catalog.  When the
  file holds ``WinSock2\Parameters`` under several prefixes, ``CurrentControlSet`` wins; without
  one the file is refused as ambiguous.  ``hex(1)``/``hex(2)`` are strings (UTF-16LE in 5.00,
  ANSI in REGEDIT4), ``hex(4)`` a DWORD, other ``hex(N)`` raw bytes.
* ``Current_Protocol_Catalog`` / ``Current_NameSpace_Catalog`` name the catalog keys (default
  ``Protocol_Catalog9`` / ``NameSpace_Catalog5``, §5.1).
* ``Catalog_Entries64`` is the native catalog of 64-bit Windows ("64"); ``Catalog_Entries`` is the
  WOW64 catalog there, and the only (native) catalog of 32-bit Windows.  The model labels it "32"
  in both cases: on a 32-bit system the native catalog *is* a 32-bit catalog, so a file with only
  ``Catalog_Entries`` gives a file with only catalog "32" (and renders back the same way).
* Entry keys ``%012u`` are read in numeric order, which is the catalog order (§5.1); a gap in
  1..N or a count different from ``Num_Catalog_Entries{,64}`` is a warning (every key present is
  imported).  ``PackedCatalogItem`` is decoded by ``packed.py``; ``ProtocolName`` is ignored (the
  blob's szProtocol wins).  Names are kept exactly as stored (``@...dll,-60100`` stays).
* Namespace entries come from the §5.4 values.  An absent ``AddressFamily`` is family 0 and
  family 0 is written by leaving the value out (real catalogs do not store it), ``ProviderInfo``
  is kept as hex ("" = empty or absent; always written, empty, as Windows does).
* ``Next_Catalog_Entry_ID`` -> ``next_entry_id``, ``Serial_Access_Num`` -> ``serial``; when
  missing they default (to max id + 1, at least 1001, and to 1) with a warning.
* The result is validated by the TOML catalog loader's rules, so whatever is imported can be saved.

Not carried by this format in either direction: ``AppId_Catalog`` (its key names are a hash whose
algorithm is unknown, §5.5 / §8 item 7), LSP categories of entries (storage unknown), the catalog
file's description, history, lsp_ranking and wsk range.

Writing (:func:`render_reg`) produces a regedit 5.00 export: UTF-16LE with BOM, CRLF, the key
``HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters`` with
``WinSock_Registry_Version`` "2.0" and the two ``Current_*`` values (default-catalogs §2), keys in
regedit's (alphabetical) order, hex values wrapped as regedit wraps them, entries keyed ``%012u``
from 1 in catalog order, each with the 1016-byte PackedCatalogItem and a ``ProtocolName`` REG_SZ
(§5.3).  Both ``Serial_Access_Num`` values are the file's serial (the model keeps one).  A string
containing CR or LF, which regedit's ``"..."`` form cannot hold, is written as ``hex(1)``.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import TypeVar

from .. import winsock as ws
from ..errors import CatalogFileError
from ..model import BITNESSES, Bitness, Catalog, CatalogFile, NamespaceEntry, ProtocolEntry
from . import catalog_toml
from .packed import decode_packed, encode_packed, guid_from_bytes, guid_to_bytes

RegValue = str | int | bytes          # REG_SZ/REG_EXPAND_SZ, REG_DWORD, anything else as bytes

HEADER5 = "Windows Registry Editor Version 5.00"
HEADER4 = "REGEDIT4"
ROOT = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters"
PROTOCOL_CATALOG = "Protocol_Catalog9"
NAMESPACE_CATALOG = "NameSpace_Catalog5"
REGISTRY_VERSION = "2.0"
ENTRIES_KEY: dict[Bitness, str] = {"32": "Catalog_Entries", "64": "Catalog_Entries64"}
COUNT_VALUE: dict[Bitness, str] = {"32": "Num_Catalog_Entries", "64": "Num_Catalog_Entries64"}
_TYPE_NAMES = {str: "REG_SZ", int: "REG_DWORD", bytes: "REG_BINARY"}
_T = TypeVar("_T", str, int, bytes)


# ---------------------------------------------------------------------------------------------
# The Parameters subtree, independent of where it was read from.

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


# ---------------------------------------------------------------------------------------------
# Reading .reg text.

def _fail(source: str, line: int, detail: str) -> CatalogFileError:
    return CatalogFileError(f"{source}: line {line}: {detail}", code="reg-syntax")


def _decode(data: bytes, source: str) -> str:
    if data.startswith(codecs.BOM_UTF16_LE):
        body, encoding = data[2:], "utf-16-le"
    elif data.startswith(codecs.BOM_UTF8):
        body, encoding = data[3:], "utf-8"
    elif b"\0" in data[:512]:
        raise CatalogFileError(f"{source}: contains NUL bytes; it is binary data or UTF-16 text "
                               "without the byte-order mark regedit writes.", code="reg-encoding")
    else:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            body, encoding = data, "cp1252"
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as exc:
        raise CatalogFileError(f"{source}: is not valid {encoding} text (byte offset "
                               f"{exc.start + len(data) - len(body)}).",
                               code="reg-encoding") from None


_NAME_RE = re.compile(r'"((?:[^"\\]|\\.)*)"=|@=')
_HEX_RE = re.compile(r"hex(?:\(([0-9a-fA-F]{1,8})\))?:", re.IGNORECASE)
_BYTE_RE = re.compile(r"[0-9a-fA-F]{1,2}")
# regedit escapes only backslash and quote; Wine's regedit also writes a newline as \n.
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


def _unescape(text: str, source: str, line: int) -> str:
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            nxt = text[i + 1:i + 2]
            if nxt not in _ESCAPES:
                raise _fail(source, line, f"the string has an unknown escape '\\{nxt}' (write a "
                                          "backslash as '\\\\').")
            out.append(_ESCAPES[nxt])
            i += 2
        elif c == '"':
            raise _fail(source, line, "the string has an unescaped '\"' inside it.")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _parse_data(data: str, unicode: bool, name: str, source: str, line: int) -> RegValue:
    what = f"value {name!r}" if name else "the default value"
    if data.startswith('"'):
        if len(data) < 2 or not data.endswith('"'):
            raise _fail(source, line, f"the string of {what} has no closing quote.")
        return _unescape(data[1:-1], source, line)
    if data[:6].lower() == "dword:":
        digits = data[6:]
        if not re.fullmatch(r"[0-9a-fA-F]{1,8}", digits):
            raise _fail(source, line, f"{what} has a bad dword {digits!r} (1 to 8 hex digits).")
        return int(digits, 16)
    m = _HEX_RE.match(data)
    if not m:
        shown = data if len(data) <= 30 else data[:30] + "..."
        raise _fail(source, line, f"{what} has data {shown!r}, which is not a string, dword: "
                                  "or hex: value.")
    body = data[m.end():].strip()
    tokens = [t.strip() for t in body.split(",")] if body else []
    for t in tokens:
        if not _BYTE_RE.fullmatch(t):
            raise _fail(source, line, f"{what} has a bad hex byte {t[:10]!r}.")
    raw = bytes(int(t, 16) for t in tokens)
    rtype = int(m.group(1), 16) if m.group(1) else 3
    if rtype in (1, 2):                     # REG_SZ, REG_EXPAND_SZ as hex
        if unicode and len(raw) % 2:
            raise _fail(source, line, f"{what} is a UTF-16 string with an odd byte count.")
        try:
            return raw.decode("utf-16-le" if unicode else "cp1252").rstrip("\0")
        except UnicodeDecodeError:
            raise _fail(source, line, f"{what} is not a valid string.") from None
    if rtype == 4:                          # REG_DWORD as hex
        if len(raw) != 4:
            raise _fail(source, line, f"{what} is hex(4) (REG_DWORD) but has {len(raw)} bytes.")
        return int.from_bytes(raw, "little")
    return raw


def _relative(path: str) -> tuple[str, str] | None:
    r"""``...\WinSock2\Parameters\rest`` -> (prefix, rest); None for other keys."""
    parts = [p for p in path.split("\\") if p]
    for i in range(len(parts) - 1):
        if parts[i].lower() == "winsock2" and parts[i + 1].lower() == "parameters":
            return "\\".join(parts[:i]), "\\".join(parts[i + 2:])
    return None


def read_reg_tree(data: bytes, source: str) -> RegTree:
    r"""Parse .reg bytes into the ``WinSock2\Parameters`` subtree (syntax-checking every line)."""
    lines = _decode(data, source).replace("\r\n", "\n").split("\n")
    header = lines[0].strip()
    if header not in (HEADER5, HEADER4):
        shown = header if len(header) <= 40 else header[:40] + "..."
        raise _fail(source, 1, f"found {shown!r}, not the header '{HEADER5}' or '{HEADER4}'.")
    unicode = header == HEADER5
    trees: dict[str, tuple[str, RegTree]] = {}
    current: tuple[RegTree, str] | None = None
    in_key = False
    i = 1
    while i < len(lines):
        line_no, text = i + 1, lines[i].strip()
        i += 1
        if not text or text.startswith(";"):
            continue
        if text.startswith("["):
            if not text.endswith("]") or len(text) < 3:
                raise _fail(source, line_no, "the key line does not end with ']'.")
            if text.startswith("[-"):
                raise _fail(source, line_no, "deletes a key; a catalog export only adds keys.")
            in_key = True
            rel = _relative(text[1:-1])
            current = None
            if rel is not None:
                prefix, sub = rel
                tree = trees.setdefault(prefix.lower(), (prefix, RegTree()))[1]
                tree.add(sub)
                current = (tree, sub)
            continue
        m = _NAME_RE.match(text)
        if not m:
            raise _fail(source, line_no, "expected a [key] line or a \"name\"=value line.")
        if not in_key:
            raise _fail(source, line_no, "has a value before the first [key] line.")
        name = _unescape(m.group(1), source, line_no) if m.group(1) is not None else ""
        data_text = text[m.end():]
        if data_text == "-":
            raise _fail(source, line_no, "deletes a value; a catalog export only adds values.")
        if _HEX_RE.match(data_text):
            while data_text.endswith("\\"):
                nxt = lines[i].strip() if i < len(lines) else ""
                if not _BYTE_RE.match(nxt):
                    where = (f"line {i + 1} does not continue it"
                             if any(rest.strip() for rest in lines[i:]) else "the file ends")
                    raise _fail(source, i, f"value {name!r} (from line {line_no}) ends with a "
                                           f"'\\' continuation but {where}.")
                data_text = data_text[:-1] + nxt
                i += 1
        value = _parse_data(data_text, unicode, name, source, line_no)
        if current is not None:
            current[0].set(current[1], name, value)
    if not trees:
        raise CatalogFileError(f"{source}: has no ...\\Services\\WinSock2\\Parameters key.",
                               code="reg-no-parameters")
    if len(trees) > 1:
        chosen = [t for p, t in trees.items() if "currentcontrolset" in p.split("\\")]
        if len(chosen) != 1:
            raise CatalogFileError(
                f"{source}: has WinSock2\\Parameters under several prefixes "
                f"({', '.join(p for p, _ in trees.values())}); export one control set.",
                code="reg-ambiguous")
        return chosen[0][1]
    return next(iter(trees.values()))[1]


def parse_reg(data: bytes, source: str) -> tuple[CatalogFile, list[str]]:
    """A .reg export -> (CatalogFile, warnings); CatalogFileError naming the line or key."""
    return catalog_from_tree(read_reg_tree(data, source), source)


def looks_like_reg(data: bytes) -> bool:
    """True when the bytes start like a regedit export (either header, any of its encodings)."""
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF8, "utf-8"),
                          (b"", "latin-1")):
        if data.startswith(bom):
            head = data[len(bom):len(bom) + 2 * len(HEADER5)].decode(encoding, "ignore")
            return head.startswith((HEADER5, HEADER4))
    return False


# ---------------------------------------------------------------------------------------------
# Writing.

_MAX_HEX_CHARS = 77      # regedit breaks a hex line once it reaches this many characters


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _hex_lines(prefix: str, raw: bytes) -> str:
    """regedit's wrapping: ``xx,`` per byte, ``\\`` + CRLF + two spaces once 77 columns are
    reached, no comma after the last byte (as Wine's regedit reproduces Windows')."""
    out, col = [prefix], len(prefix)
    for n, b in enumerate(raw):
        out.append(f"{b:02x}")
        if n == len(raw) - 1:
            break
        out.append(",")
        col += 3
        if col >= _MAX_HEX_CHARS:
            out.append("\\\r\n  ")
            col = 2
    return "".join(out)


def _value_line(name: str, value: RegValue) -> str:
    head = f"{_quote(name)}="
    if isinstance(value, int):
        return f"{head}dword:{value & ws.DWORD_MAX:08x}"
    if isinstance(value, str):
        if "\r" in value or "\n" in value:      # not representable as "..." -> REG_SZ as hex(1)
            return _hex_lines(f"{head}hex(1):", (value + "\0").encode("utf-16-le"))
        return head + _quote(value)
    return _hex_lines(f"{head}hex:", value)


def _namespace_values(n: NamespaceEntry) -> list[tuple[str, RegValue]]:
    values: list[tuple[str, RegValue]] = [
        ("LibraryPath", n.path), ("DisplayString", n.name),
        ("ProviderId", guid_to_bytes(n.provider_id)),
        ("SupportedNameSpace", n.namespace)]
    if n.family:
        values.append(("AddressFamily", n.family))
    return values + [("Enabled", int(n.enabled)), ("Version", n.version),
                     ("StoresServiceClassInfo", int(n.stores_class_info)),
                     ("ProviderInfo", bytes.fromhex(n.provider_info))]


def render_reg(f: CatalogFile) -> bytes:
    """The catalog file as a regedit 5.00 export (UTF-16LE with BOM, CRLF)."""
    blocks: list[tuple[str, list[tuple[str, RegValue]]]] = [("", [
        ("WinSock_Registry_Version", REGISTRY_VERSION),
        ("Current_NameSpace_Catalog", NAMESPACE_CATALOG),
        ("Current_Protocol_Catalog", PROTOCOL_CATALOG)])]
    order: list[Bitness] = [b for b in ("32", "64") if b in f.catalogs]   # regedit's key order
    counts = [(COUNT_VALUE[b], len(f.catalogs[b].namespaces)) for b in order]
    blocks.append((NAMESPACE_CATALOG, [*counts, ("Serial_Access_Num", f.serial)]))
    for b in order:
        path = f"{NAMESPACE_CATALOG}\\{ENTRIES_KEY[b]}"
        blocks.append((path, []))
        blocks += [(f"{path}\\{pos:012d}", _namespace_values(n))
                   for pos, n in enumerate(f.catalogs[b].namespaces, 1)]
    counts = [(COUNT_VALUE[b], len(f.catalogs[b].protocols)) for b in order]
    blocks.append((PROTOCOL_CATALOG, [("Next_Catalog_Entry_ID", f.next_entry_id), *counts,
                                      ("Serial_Access_Num", f.serial)]))
    for b in order:
        path = f"{PROTOCOL_CATALOG}\\{ENTRIES_KEY[b]}"
        blocks.append((path, []))
        blocks += [(f"{path}\\{pos:012d}", [("PackedCatalogItem", encode_packed(e)),
                                            ("ProtocolName", e.name)])
                   for pos, e in enumerate(f.catalogs[b].protocols, 1)]
    out = [HEADER5, ""]
    for path, values in blocks:
        out.append(f"[{ROOT}\\{path}]" if path else f"[{ROOT}]")
        out += [_value_line(name, value) for name, value in values]
        out.append("")
    return codecs.BOM_UTF16_LE + ("\r\n".join(out) + "\r\n").encode("utf-16-le")
