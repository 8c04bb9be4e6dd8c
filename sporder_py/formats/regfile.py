r"""Registry exports (.reg) of ``...\Services\WinSock2\Parameters`` (winsock-semantics §5).

Reading accepts what regedit writes — "Windows Registry Editor Version 5.00" (UTF-16LE with a
BOM, CRLF) and "REGEDIT4" (ANSI; read as UTF-8, else cp1252) — with ``"string"``, ``dword:``,
``hex:`` and ``hex(N):`` values wrapped over ``\`` continuation lines, and key paths under any
prefix (``HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet``, ``ControlSet001``, hivex's
``\ControlSet001``).  The ``Parameters`` subtree becomes a :class:`RegTree`, and
:func:`catalog_from_tree` — shared with the offline hive reader (``hive.py``) — maps it to the
model:

* Deletions (``[-key]``, ``"name"=-``) below Parameters refuse the file: an export describes a
  catalog (a key deletion elsewhere is ignored, as other keys are).  The one exception is what
  :func:`render_reg` itself writes first: ``[-...\Parameters\<catalog>\Catalog_Entries]`` and
  ``...\Catalog_Entries64`` (``<catalog>`` a direct subkey of Parameters), applied in file order
  as regedit applies them (the key and its subkeys are gone until the file adds them again).
* When the file holds ``WinSock2\Parameters`` under several prefixes, ``CurrentControlSet``
  wins; without one the file is refused as ambiguous.  ``hex(1)``/``hex(2)`` are strings
  (UTF-16LE in 5.00, ANSI in REGEDIT4), ``hex(4)`` a DWORD, other ``hex(N)`` raw bytes.
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
``<key_root>\Services\WinSock2\Parameters`` (``key_root`` defaults to
``HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet``; ``HKEY_LOCAL_MACHINE\OFFLINE\ControlSet001`` for
a hive loaded with ``reg load``, ``HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001`` for hivexregedit's
``--prefix``) with ``WinSock_Registry_Version`` "2.0" and the two ``Current_*`` values
(default-catalogs §2), keys in regedit's (alphabetical) order, hex values wrapped as regedit wraps
them, entries keyed ``%012u`` from 1 in catalog order, each with the 1016-byte PackedCatalogItem
(or the bare 888-byte form on request) and a ``ProtocolName`` REG_SZ (§5.3).  Both
``Serial_Access_Num`` values are the file's serial (the model keeps one) unless the namespace
catalog's is given.  A string containing CR or LF, which regedit's ``"..."`` form cannot hold, is
written as ``hex(1)``.

The file first deletes the four entry-list keys -- ``Protocol_Catalog9\Catalog_Entries{,64}``
and ``NameSpace_Catalog5\Catalog_Entries{,64}`` -- always all four, whichever catalogs the file
has: merging it (regedit, ``reg import``, ``hivexregedit --merge``) then leaves exactly the
modelled catalog whatever the key held before (no stale entry keys past the new count, no stale
WOW64 or native catalog the model does not have).  Everything else under Parameters
(``AppId_Catalog``, ``NameSpace_Callout``, ``AutodialDLL``, tuning values) is left as it was; so
is a ``Num_Catalog_Entries{,64}`` value of a catalog the model lacks (sporder's reader ignores
it without its ``Catalog_Entries{,64}`` key, but ws2_32 would look for the entries it counts:
``hivewrite.write_hive`` therefore refuses a model whose catalogs differ from the hive's).
"""

from __future__ import annotations

import codecs
import re

from .. import winsock as ws
from ..errors import CatalogFileError, UsageError
from ..model import Bitness, CatalogFile, NamespaceEntry
from .packed import (
    PACKED_MIN,
    PACKED_SIZE,
    encode_packed,
    guid_to_bytes,
)
from .registry import (
    COUNT_VALUE,
    ENTRIES_KEY,
    NAMESPACE_CATALOG,
    PARAMETERS,
    PROTOCOL_CATALOG,
    REGISTRY_VERSION,
    RegTree,
    RegValue,
    catalog_from_tree,
)

HEADER5 = "Windows Registry Editor Version 5.00"
HEADER4 = "REGEDIT4"
DEFAULT_KEY_ROOT = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet"
ROOT = DEFAULT_KEY_ROOT + "\\" + PARAMETERS
# Registry roots a key_root may start with: HKLM (where SYSTEM lives and where ``reg load``
# mounts an offline hive) and HKU (the other root ``reg load`` accepts).  The file is written
# with the full names, as regedit itself exports them, so the abbreviations are expanded.
KEY_ROOTS = {"hkey_local_machine": "HKEY_LOCAL_MACHINE", "hklm": "HKEY_LOCAL_MACHINE",
             "hkey_users": "HKEY_USERS", "hku": "HKEY_USERS"}
MAX_KEY_NAME = 255          # characters in one registry key name (Registry Element Size Limits)


# ---------------------------------------------------------------------------------------------
# Reading .reg text.

def _fail(source: str, line: int, detail: str) -> CatalogFileError:
    return CatalogFileError(f"{source}: line {line}: {detail}", code="reg-syntax")


def _decode(data: bytes, source: str) -> str:
    if data.startswith(codecs.BOM_UTF16_LE):
        body, encoding = data[2:], "utf-16-le"
    elif data.startswith(codecs.BOM_UTF16_BE):   # not what regedit writes, but unambiguous
        body, encoding = data[2:], "utf-16-be"
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


def _is_entry_list(sub: str) -> bool:
    r"""``<catalog>\Catalog_Entries`` or ``...64`` directly below Parameters."""
    parts = [p for p in sub.split("\\") if p]
    return len(parts) == 2 and parts[1].lower() in ("catalog_entries", "catalog_entries64")


def _delete(trees: dict[str, tuple[str, RegTree]], key: str, source: str, line: int) -> None:
    """Apply a ``[-key]`` line: below Parameters only the entry-list deletions render_reg
    writes are accepted; keys elsewhere are ignored, as their additions are."""
    rel = _relative(key)
    if rel is None:                           # outside WinSock2\Parameters: not the catalog's
        return
    if not _is_entry_list(rel[1]):
        raise _fail(source, line, "deletes a key; a catalog export only adds keys (or first "
                                  "deletes the Catalog_Entries and Catalog_Entries64 keys).")
    prefix, sub = rel
    if prefix.lower() in trees:               # a deletion creates nothing
        trees[prefix.lower()][1].delete(sub)


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
    in_key = after_delete = False
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
                _delete(trees, text[2:-1], source, line_no)
                in_key, current, after_delete = False, None, True
                continue
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
            raise _fail(source, line_no, "has a value after a [-key] deletion line; values "
                                         "belong to a [key] line." if after_delete else
                        "has a value before the first [key] line.")
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


def check_key_root(key_root: str) -> str:
    r"""A validated key root, abbreviations expanded (``HKLM\X`` -> ``HKEY_LOCAL_MACHINE\X``).

    It names the key that holds ``Services`` -- a control set such as
    ``HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet`` or ``HKEY_LOCAL_MACHINE\OFFLINE\ControlSet001``:
    a registry root (HKEY_LOCAL_MACHINE/HKLM or HKEY_USERS/HKU) and at least one key below it,
    no empty names (one trailing backslash is dropped), no control characters, no brackets (the
    .reg key line could not hold them), names of at most 255 characters, and nothing of
    ``WinSock2`` itself.  Anything else raises UsageError naming the value.
    """
    def bad(why: str) -> UsageError:
        if isinstance(key_root, str):        # as typed, control characters escaped
            shown = "'" + "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256
                                  else f"\\u{ord(c):04x}" for c in key_root[:300]) + "'"
        else:
            shown = f"of type {type(key_root).__name__}"
        return UsageError(f"the registry key root {shown} is not valid: {why}.",
                          code="bad-key-root")

    if not isinstance(key_root, str):
        raise bad(f"it must be a string such as {DEFAULT_KEY_ROOT}")
    text = key_root[:-1] if key_root.endswith("\\") else key_root
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text):
        raise bad("it contains a control character")
    if any(c in text for c in "[]"):
        raise bad("it contains a bracket, which a .reg key line cannot hold")
    parts = text.split("\\")
    if parts[0].lower() not in KEY_ROOTS:
        raise bad("it must start with HKEY_LOCAL_MACHINE (HKLM) or HKEY_USERS (HKU)")
    if len(parts) < 2:
        raise bad("it names a registry root, not the control set key below it")
    if any(p.strip() == "" for p in parts):
        raise bad("it has an empty key name (a doubled, leading or blank backslash part)")
    if any(len(p) > MAX_KEY_NAME for p in parts):
        raise bad(f"a key name is longer than {MAX_KEY_NAME} characters")
    if any(p.lower() == "winsock2" for p in parts):
        raise bad("it must name the control set (the key holding Services), not a key of "
                  "WinSock2 itself")
    return "\\".join([KEY_ROOTS[parts[0].lower()], *parts[1:]])


def render_reg(f: CatalogFile, key_root: str = DEFAULT_KEY_ROOT, *,
               packed_size: int = PACKED_SIZE, namespace_serial: int | None = None) -> bytes:
    r"""The catalog file as a regedit 5.00 export (UTF-16LE with BOM, CRLF).

    ``key_root`` is the control set the keys go under (see :func:`check_key_root`; UsageError
    when it is not valid).  ``packed_size`` is 1016 (the default) or 888: the bare form that
    the real Windows 7/8/10 hives hold, for a writer that keeps the target's size.
    ``namespace_serial`` is ``NameSpace_Catalog5\Serial_Access_Num`` (default: the file's
    serial, which ``Protocol_Catalog9\Serial_Access_Num`` always is).  The output starts by
    deleting the four entry-list keys (module docstring), so merging it gives exactly ``f``.
    """
    root = check_key_root(key_root) + "\\" + PARAMETERS
    if packed_size not in (PACKED_MIN, PACKED_SIZE):
        raise ValueError(f"packed_size must be {PACKED_MIN} or {PACKED_SIZE}, not {packed_size}")
    ns_serial = f.serial if namespace_serial is None else namespace_serial
    blocks: list[tuple[str, list[tuple[str, RegValue]]]] = [("", [
        ("WinSock_Registry_Version", REGISTRY_VERSION),
        ("Current_NameSpace_Catalog", NAMESPACE_CATALOG),
        ("Current_Protocol_Catalog", PROTOCOL_CATALOG)])]
    order: list[Bitness] = [b for b in ("32", "64") if b in f.catalogs]   # regedit's key order
    counts = [(COUNT_VALUE[b], len(f.catalogs[b].namespaces)) for b in order]
    blocks.append((NAMESPACE_CATALOG, [*counts, ("Serial_Access_Num", ns_serial)]))
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
        blocks += [(f"{path}\\{pos:012d}", [
            ("PackedCatalogItem", encode_packed(e)[:packed_size]),  # the trailer is zeros
            ("ProtocolName", e.name)]) for pos, e in enumerate(f.catalogs[b].protocols, 1)]
    out = [HEADER5, ""]
    for catalog in (NAMESPACE_CATALOG, PROTOCOL_CATALOG):     # always all four (docstring)
        for b in ("32", "64"):
            out += [f"[-{root}\\{catalog}\\{ENTRIES_KEY[b]}]", ""]
    for path, values in blocks:
        out.append(f"[{root}\\{path}]" if path else f"[{root}]")
        out += [_value_line(name, value) for name, value in values]
        out.append("")
    return codecs.BOM_UTF16_LE + ("\r\n".join(out) + "\r\n").encode("utf-16-le")
