"""The catalog file, format 1 (DESIGN §3; documented in man/sporder-catalog.5).

``loads`` = tomllib + full validation into the model; ``dumps`` = one canonical tomli-w layout
with a header comment, so that loading and saving an unchanged file gives identical bytes.

Defects that refuse the file (exit 3): wrong types, unknown keys, an unknown or newer format,
duplicate ids in a catalog, ids >= next_entry_id (entry ids and chain ids), a chain entry whose
``chain`` is missing, shorter than 2, longer than 7 (MAX_PROTOCOL_CHAIN), repeats an id or names
itself, a ``chain`` on a base or layered entry, names over 255 characters (WSAPROTOCOL_LEN),
paths over 259 (MAX_PATH - 1), NUL characters, malformed GUIDs, integers outside their C type
(DWORD or int), a bad ``inferred`` list.
Defects that load with a warning (real catalogs have them; ``doctor`` reports them): a chain id
naming no entry of its own catalog (an orphan left by an uninstall, or by removing one half of
an LSP: the two catalogs are independent), and duplicate namespace provider GUIDs.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from typing import Any

from .. import winsock as ws
from ..errors import CatalogFileError, UsageError
from ..model import (
    BITNESSES,
    KINDS,
    AppCategory,
    Bitness,
    Catalog,
    CatalogFile,
    HistoryRecord,
    NamespaceEntry,
    ProtocolEntry,
    WskRange,
)

FORMAT_VERSION = 1
HEADER = ("# Winsock 2 catalog managed by sporder (format 1; see sporder-catalog(5)).\n"
          "# Written in one canonical layout: comments and formatting are not preserved.\n")

_GUID_RE = re.compile(r"^\{?([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
                      r"[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\}?$")
DWORD = "DWORD"
INT = "int"


def normalize_guid(text: str) -> str | None:
    """``{e70f1aa0-...}`` or ``e70f1aa0-...`` -> ``{E70F1AA0-...}``; None if malformed."""
    m = _GUID_RE.match(text.strip()) if isinstance(text, str) else None
    if not m or (text.strip().startswith("{") != text.strip().endswith("}")):
        return None
    return "{" + m.group(1).upper() + "}"


class _Where:
    """Builds the 'file: catalog64 protocol #3 (id 1003): field x' prefix of messages."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.place = ""

    def fail(self, detail: str, fieldname: str | None = None) -> CatalogFileError:
        place = f"{self.place}: " if self.place else ""
        fld = f"field '{fieldname}' " if fieldname else ""
        return CatalogFileError(f"{self.source}: {place}{fld}{detail}", code="catalog-invalid")


def _check_int(w: _Where, name: str, value: Any, ctype: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise w.fail(f"must be an integer, not {_tname(value)}.", name)
    lo, hi = (0, ws.DWORD_MAX) if ctype == DWORD else (ws.INT_MIN, ws.INT_MAX)
    if not lo <= value <= hi:
        raise w.fail(f"value {value} is outside the range of a {ctype} ({lo}..{hi}).", name)
    return value


def _tname(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def _check_str(w: _Where, name: str, value: Any, limit: int | None = None) -> str:
    if not isinstance(value, str):
        raise w.fail(f"must be a string, not {_tname(value)}.", name)
    if "\x00" in value:
        raise w.fail("contains a NUL character.", name)
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:    # a lone surrogate (JSON "\ud800"), never text
            raise w.fail(f"is not valid Unicode text (a lone surrogate at character "
                         f"{exc.start + 1}).", name) from None
    if limit is not None and len(value) > limit:
        raise w.fail(f"is {len(value)} characters long; the limit is {limit}.", name)
    return value


def _check_guid(w: _Where, name: str, value: Any) -> str:
    text = _check_str(w, name, value, 64)
    guid = normalize_guid(text)
    if guid is None:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise w.fail(f"{shown!r} is not a GUID like {{E70F1AA0-AB8B-11CF-8CA3-00805F48A192}}.",
                     name)
    return guid


# Successful parses of symbol names and flag-name lists, which repeat across a catalog's entries
# (validation of a 10,000-entry file spent a fifth of its time re-parsing the same few names).
# Only all-text inputs are remembered (so 1 and True can never share a slot), only successes
# (every refusal is raised afresh with its own place), and at most _MEMO_MAX of them.
_MEMO: dict[tuple[object, ...], int] = {}
_MEMO_MAX = 4096


def _check_symbol(w: _Where, name: str, value: Any, parse: Callable[[str], int]) -> int:
    if isinstance(value, str):
        got = _MEMO.get((parse, value))
        if got is not None:
            return got
        try:
            got = parse(value)
        except UsageError as exc:
            raise w.fail(exc.message[0].lower() + exc.message[1:], name) from None
        if len(_MEMO) < _MEMO_MAX:
            _MEMO[(parse, value)] = got
        return got
    return _check_int(w, name, value, INT)


def _check_flags(w: _Where, name: str, value: Any, table: Mapping[str, int]) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return _check_int(w, name, value, DWORD)
    if not isinstance(value, list):
        raise w.fail(f"must be a list of flag names or an integer, not {_tname(value)}.", name)
    key = (id(table), *value) if all(type(v) is str for v in value) else None
    got = _MEMO.get(key) if key is not None else None
    if got is not None:
        return got
    try:
        got = ws.parse_flags(value, table, "flag")
    except UsageError as exc:
        raise w.fail(exc.message[0].lower() + exc.message[1:], name) from None
    if key is not None and len(_MEMO) < _MEMO_MAX:
        _MEMO[key] = got
    return got


def _check_keys(w: _Where, table: Mapping[str, Any], allowed: set[str], required: set[str]) -> None:
    for key in table:
        if key not in allowed:
            raise w.fail(f"unknown key '{key}' (allowed: {', '.join(sorted(allowed))}).")
    for key in sorted(required):
        if key not in table:
            raise w.fail("is missing.", key)


def _need_table(w: _Where, value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise w.fail(f"{what} must be a table, not {_tname(value)}.")
    return value


def _need_list(w: _Where, value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise w.fail(f"{what} must be an array of tables, not {_tname(value)}.")
    return value


_PROTO_REQUIRED = {"id", "kind", "name", "provider_id", "path", "family", "socket_type",
                   "protocol"}
_PROTO_OPTIONAL = {"protocol_max_offset", "min_address_length", "max_address_length",
                   "service_flags", "provider_flags", "chain", "version", "byte_order",
                   "security_scheme", "message_size", "provider_reserved", "service_flags2",
                   "service_flags3", "service_flags4", "lsp_categories", "inferred"}
# What ``inferred`` may name: the entry's fields (an import fills in what its format lacks).
INFERABLE = frozenset(ProtocolEntry.__dataclass_fields__) - {"id", "inferred"}
_INT_FIELDS = {"protocol_max_offset": INT, "min_address_length": INT, "max_address_length": INT,
               "version": INT, "byte_order": INT, "security_scheme": INT, "message_size": DWORD,
               "provider_reserved": DWORD, "service_flags2": DWORD, "service_flags3": DWORD,
               "service_flags4": DWORD}


def _protocol(w: _Where, raw: Mapping[str, Any]) -> ProtocolEntry:
    _check_keys(w, raw, _PROTO_REQUIRED | _PROTO_OPTIONAL, _PROTO_REQUIRED)
    entry_id = _check_int(w, "id", raw["id"], DWORD)
    kind = raw["kind"]
    if kind not in KINDS:
        raise w.fail(f"{kind!r} is not one of layered, base, chain.", "kind")
    family = _check_symbol(w, "family", raw["family"], ws.parse_family)
    values: dict[str, Any] = {
        "id": entry_id, "kind": kind,
        "name": _check_str(w, "name", raw["name"], ws.WSAPROTOCOL_LEN),
        "provider_id": _check_guid(w, "provider_id", raw["provider_id"]),
        "path": _check_str(w, "path", raw["path"], ws.MAX_PATH - 1),
        "family": family,
        "socket_type": _check_symbol(w, "socket_type", raw["socket_type"], ws.parse_socket_type),
        "protocol": _check_symbol(w, "protocol", raw["protocol"], ws.parse_protocol),
    }
    for name, ctype in _INT_FIELDS.items():
        if name in raw:
            values[name] = _check_int(w, name, raw[name], ctype)
    if "service_flags" in raw:
        values["service_flags"] = _check_flags(w, "service_flags", raw["service_flags"],
                                               ws.SERVICE_FLAGS)
    if "provider_flags" in raw:
        values["provider_flags"] = _check_flags(w, "provider_flags", raw["provider_flags"],
                                                ws.PROVIDER_FLAGS)
    if "lsp_categories" in raw:
        values["lsp_categories"] = _check_flags(w, "lsp_categories", raw["lsp_categories"],
                                                ws.LSP_CATEGORIES)
    if kind == "chain":
        if "chain" not in raw:
            raise w.fail("is missing (a chain entry lists its layers and base provider).",
                         "chain")
        chain = raw["chain"]
        if not isinstance(chain, list):
            raise w.fail(f"must be a list of catalog ids, not {_tname(chain)}.", "chain")
        ids = tuple(_check_int(w, "chain", c, DWORD) for c in chain)
        if len(ids) < 2:
            raise w.fail(f"has {len(ids)} id(s); a chain names at least 2 (a layer and a base).",
                         "chain")
        if len(ids) > ws.MAX_PROTOCOL_CHAIN:
            raise w.fail(f"has {len(ids)} ids; MAX_PROTOCOL_CHAIN is {ws.MAX_PROTOCOL_CHAIN}.",
                         "chain")
        if len(set(ids)) != len(ids):
            raise w.fail("names the same id twice (a chain may not contain a layer twice).",
                         "chain")
        if entry_id in ids:
            raise w.fail(f"names the entry's own id {entry_id} (a chain cannot contain itself).",
                         "chain")
        values["chain"] = ids
    elif "chain" in raw:
        raise w.fail(f"is only allowed on chain entries, and this entry is {kind}.", "chain")
    inferred = raw.get("inferred", [])                  # fields an import filled in
    if not isinstance(inferred, list) or not all(isinstance(v, str) for v in inferred):
        raise w.fail(f"must be a list of field names, not {_tname(inferred)}.", "inferred")
    bad = [v for v in inferred if v not in INFERABLE]
    if bad or len(set(inferred)) != len(inferred):
        raise w.fail(f"names {ws.shown(bad[0])}, which is not a field of a protocol entry."
                     if bad else "names the same field twice.", "inferred")
    values["inferred"] = tuple(inferred)
    return ProtocolEntry(**values)


_NS_REQUIRED = {"provider_id", "name", "namespace", "path"}
_NS_OPTIONAL = {"enabled", "version", "family", "stores_class_info", "provider_info"}


def _namespace(w: _Where, raw: Mapping[str, Any]) -> NamespaceEntry:
    _check_keys(w, raw, _NS_REQUIRED | _NS_OPTIONAL, _NS_REQUIRED)
    values: dict[str, Any] = {
        "provider_id": _check_guid(w, "provider_id", raw["provider_id"]),
        "name": _check_str(w, "name", raw["name"], ws.WSAPROTOCOL_LEN),
        "namespace": _check_symbol(w, "namespace", raw["namespace"], ws.parse_namespace),
        "path": _check_str(w, "path", raw["path"], ws.MAX_PATH - 1),
    }
    for flag in ("enabled", "stores_class_info"):
        if flag in raw:
            if not isinstance(raw[flag], bool):
                raise w.fail(f"must be true or false, not {_tname(raw[flag])}.", flag)
            values[flag] = raw[flag]
    if "version" in raw:
        values["version"] = _check_int(w, "version", raw["version"], DWORD)
    if "family" in raw:
        values["family"] = _check_symbol(w, "family", raw["family"], ws.parse_family)
    if "provider_info" in raw:
        blob = _check_str(w, "provider_info", raw["provider_info"])
        if len(blob) % 2 or any(c not in "0123456789abcdefABCDEF" for c in blob):
            raise w.fail("must be an even number of hex digits.", "provider_info")
        values["provider_info"] = blob.lower()
    return NamespaceEntry(**values)


def _catalog(w: _Where, bitness: Bitness, raw: Any, warnings: list[str]) -> Catalog:
    w.place = f"catalog{bitness}"
    table = _need_table(w, raw, f"catalog{bitness}")
    _check_keys(w, table, {"protocol", "namespace"}, set())
    protocols: list[ProtocolEntry] = []
    seen: dict[int, int] = {}
    for pos, item in enumerate(_need_list(w, table.get("protocol", []), "protocol"), 1):
        ident = item.get("id") if isinstance(item, dict) else None
        w.place = f"catalog{bitness} protocol #{pos}" + (
            f" (id {ident})" if isinstance(ident, int) and not isinstance(ident, bool) else "")
        entry = _protocol(w, _need_table(w, item, "an entry"))
        if entry.id in seen:
            raise w.fail(f"id {entry.id} is already used by entry #{seen[entry.id]}.", "id")
        seen[entry.id] = pos
        protocols.append(entry)
    namespaces: list[NamespaceEntry] = []
    guids: dict[str, int] = {}
    for pos, item in enumerate(_need_list(w, table.get("namespace", []), "namespace"), 1):
        w.place = f"catalog{bitness} namespace #{pos}"
        ns = _namespace(w, _need_table(w, item, "a namespace provider"))
        if ns.provider_id in guids:
            warnings.append(f"{w.source}: {w.place}: provider {ns.provider_id} repeats "
                            f"namespace #{guids[ns.provider_id]}.")
        guids.setdefault(ns.provider_id, pos)
        namespaces.append(ns)
    w.place = ""
    return Catalog(bitness, tuple(protocols), tuple(namespaces))


def _cross_checks(w: _Where, f: CatalogFile, warnings: list[str]) -> None:
    for bitness, cat in f.catalogs.items():
        other = [c for b, c in f.catalogs.items() if b != bitness]
        for pos, e in enumerate(cat.protocols, 1):
            w.place = f"catalog{bitness} protocol #{pos} (id {e.id})"
            if e.id >= f.next_entry_id:
                raise w.fail(f"id {e.id} is not below next_entry_id {f.next_entry_id}.", "id")
            for cid in e.chain:
                if cid in cat:
                    continue
                if cid >= f.next_entry_id:
                    raise w.fail(f"names id {cid}, which is not below next_entry_id "
                                 f"{f.next_entry_id} and so was never assigned.", "chain")
                if any(cid in o for o in other):   # independent catalogs (issue 13, case 4)
                    warnings.append(f"{w.source}: {w.place}: chain names id {cid}, which exists "
                                    "only in the other catalog, so the chain is orphaned (see "
                                    "'sporder doctor').")
                    continue
                warnings.append(f"{w.source}: {w.place}: chain names id {cid}, which is not in "
                                "the catalog (an orphaned chain; see 'sporder doctor').")
    w.place = ""


_DIGEST_RE = re.compile(r"[0-9a-f]{64}")


def _check_digest(w: _Where, name: str, value: Any) -> str:
    text = _check_str(w, name, value, 64)
    if text and not _DIGEST_RE.fullmatch(text):
        raise w.fail("is not a SHA-256 digest (64 lower-case hex digits).", name)
    return text


def _history(w: _Where, raw: Any) -> tuple[HistoryRecord, ...]:
    out = []
    for pos, item in enumerate(_need_list(w, raw, "history"), 1):
        w.place = f"history #{pos}"
        t = _need_table(w, item, "a history record")
        keys = {"time", "user", "command", "summary", "serial_before", "serial_after",
                "undo_target"}
        _check_keys(w, t, keys | {"state_sha256"}, keys)
        rec = HistoryRecord(
            _check_str(w, "time", t["time"], 64), _check_str(w, "user", t["user"], 256),
            _check_str(w, "command", t["command"], 4096),
            _check_str(w, "summary", t["summary"], 4096),
            _check_int(w, "serial_before", t["serial_before"], DWORD),
            _check_int(w, "serial_after", t["serial_after"], DWORD),
            _check_int(w, "undo_target", t["undo_target"], DWORD),
            _check_digest(w, "state_sha256", t.get("state_sha256", "")))
        # Every write moves the serial forward and undo only goes back: a record whose target is
        # not below its own serial (or whose serial does not grow) would make undo walk in a
        # circle, so the file is refused instead (issue 12, item 9).
        if rec.serial_after <= rec.serial_before:
            raise w.fail(f"serial_after {rec.serial_after} is not above serial_before "
                         f"{rec.serial_before}.", "serial_after")
        if rec.undo_target >= rec.serial_after:
            raise w.fail(f"undo_target {rec.undo_target} is not below serial_after "
                         f"{rec.serial_after}.", "undo_target")
        out.append(rec)
    w.place = ""
    return tuple(out)


def _app_categories(w: _Where, raw: Any) -> tuple[AppCategory, ...]:
    out = []
    for pos, item in enumerate(_need_list(w, raw, "app_category"), 1):
        w.place = f"app_category #{pos}"
        t = _need_table(w, item, "an application category")
        _check_keys(w, t, {"path", "args", "categories"}, {"path", "categories"})
        out.append(AppCategory(_check_str(w, "path", t["path"], 32767),
                               _check_str(w, "args", t.get("args", ""), 32767),
                               _check_flags(w, "categories", t["categories"], ws.LSP_CATEGORIES)))
    w.place = ""
    return tuple(out)


def _wsk(w: _Where, raw: Any) -> WskRange:
    w.place = "wsk"
    t = _need_table(w, raw, "wsk")
    _check_keys(w, t, {"lowest", "highest", "documented"}, {"lowest", "highest"})
    try:
        lo = ws.parse_wsk_version(_check_str(w, "lowest", t["lowest"], 16))
        hi = ws.parse_wsk_version(_check_str(w, "highest", t["highest"], 16))
    except UsageError as exc:
        raise w.fail(exc.message[0].lower() + exc.message[1:]) from None
    documented = t.get("documented", True)
    if not isinstance(documented, bool):
        raise w.fail(f"must be true or false, not {_tname(documented)}.", "documented")
    try:
        rng = WskRange(lo, hi, documented)
    except CatalogFileError as exc:
        raise w.fail(exc.message[0].lower() + exc.message[1:]) from None
    w.place = ""
    return rng


_TOP_KEYS = {"format", "description", "next_entry_id", "serial", "catalog64", "catalog32",
             "app_category", "lsp_ranking", "wsk", "history"}


def from_dict(data: Mapping[str, Any], source: str) -> tuple[CatalogFile, list[str]]:
    """Validate a parsed TOML document into a CatalogFile; returns (file, warnings)."""
    w = _Where(source)
    warnings: list[str] = []
    fmt = data.get("format")
    if fmt is None:
        raise w.fail("has no 'format' key; is it a sporder catalog file?")
    fmt = _check_int(w, "format", fmt, INT)
    if fmt > FORMAT_VERSION:
        raise CatalogFileError(f"{source}: format {fmt} was written by a newer sporder; this "
                               f"one reads format {FORMAT_VERSION}.", code="catalog-too-new")
    if fmt != FORMAT_VERSION:
        raise w.fail(f"format {fmt} is not a known catalog format (expected 1).", "format")
    _check_keys(w, data, _TOP_KEYS, {"next_entry_id"})
    catalogs = {b: _catalog(w, b, data[f"catalog{b}"], warnings)
                for b in BITNESSES if f"catalog{b}" in data}
    if not catalogs:
        raise w.fail("has neither a catalog64 nor a catalog32 table.")
    ranking: tuple[str, ...] = ()
    if "lsp_ranking" in data:
        items = data["lsp_ranking"]
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise w.fail("must be a list of LSP category names.", "lsp_ranking")
        for name in items:
            try:
                ws.parse_flags([name], ws.LSP_CATEGORIES, "category")
            except UsageError as exc:
                raise w.fail(exc.message[0].lower() + exc.message[1:], "lsp_ranking") from None
        ranking = tuple(items)
    f = CatalogFile(
        catalogs=catalogs,
        next_entry_id=_check_int(w, "next_entry_id", data["next_entry_id"], DWORD),
        serial=_check_int(w, "serial", data.get("serial", 1), DWORD),
        description=_check_str(w, "description", data.get("description", ""), 4096),
        format=fmt,
        app_categories=_app_categories(w, data.get("app_category", [])),
        lsp_ranking=ranking,
        wsk=_wsk(w, data["wsk"]) if "wsk" in data else None,
        history=_history(w, data.get("history", [])),
    )
    _cross_checks(w, f, warnings)
    return f, warnings


def decode(data: bytes, source: str) -> tuple[CatalogFile, list[str]]:
    """Validate a catalog file's bytes: UTF-8 text without NUL, then ``loads``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogFileError(f"{source}: not UTF-8 text (bad byte at offset {exc.start}).",
                               code="catalog-syntax") from None
    if "\x00" in text:
        raise CatalogFileError(f"{source}: contains a NUL byte at offset {text.index(chr(0))}; "
                               "a catalog file is text.", code="catalog-syntax")
    return loads(text, source)


def loads(text: str, source: str) -> tuple[CatalogFile, list[str]]:
    return from_dict(parse_toml(text, source), source)


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """tomllib, with every way it can fail turned into one sentence naming the file."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogFileError(f"{source}: not valid TOML ({exc}).",
                               code="catalog-syntax") from None
    except ValueError as exc:      # e.g. an integer of more than 4300 digits
        raise CatalogFileError(f"{source}: not a usable TOML file ({str(exc)[:80]}).",
                               code="catalog-syntax") from None
    except RecursionError:
        raise CatalogFileError(f"{source}: not valid TOML (nested too deeply).",
                               code="catalog-syntax") from None


# ---------------------------------------------------------------------------------------------
# Writing: one canonical layout.

def _symbol(name: str | None, value: int) -> str | int:
    return name if name is not None else value


def _flags(value: int, table: Mapping[str, int]) -> list[str]:
    names, rest = ws.flag_names(value, table)
    if rest:
        names.append(f"0x{rest:08x}")
    return names


def protocol_to_dict(e: ProtocolEntry) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": e.id, "kind": e.kind, "name": e.name, "provider_id": e.provider_id, "path": e.path,
        "family": _symbol(ws.family_name(e.family), e.family),
        "socket_type": _symbol(ws.socket_type_name(e.socket_type), e.socket_type),
        "protocol": _symbol(ws.protocol_name(e.family, e.protocol), e.protocol),
        "protocol_max_offset": e.protocol_max_offset,
        "min_address_length": e.min_address_length,
        "max_address_length": e.max_address_length,
        "service_flags": _flags(e.service_flags, ws.SERVICE_FLAGS),
        "provider_flags": _flags(e.provider_flags, ws.PROVIDER_FLAGS),
        "message_size": e.message_size,
    }
    if e.kind == "chain":
        d["chain"] = list(e.chain)
    if e.lsp_categories:
        d["lsp_categories"] = _flags(e.lsp_categories, ws.LSP_CATEGORIES)
    for name, default in (("version", 2), ("byte_order", 0), ("security_scheme", 0),
                          ("provider_reserved", 0), ("service_flags2", 0),
                          ("service_flags3", 0), ("service_flags4", 0)):
        value = getattr(e, name)
        if value != default:
            d[name] = value
    if e.inferred:
        d["inferred"] = list(e.inferred)
    return d


def namespace_to_dict(n: NamespaceEntry) -> dict[str, Any]:
    d: dict[str, Any] = {
        "provider_id": n.provider_id, "name": n.name,
        "namespace": _symbol(ws.namespace_name(n.namespace), n.namespace),
        "path": n.path, "enabled": n.enabled, "version": n.version,
    }
    if n.family:
        d["family"] = _symbol(ws.family_name(n.family), n.family)
    if n.stores_class_info:
        d["stores_class_info"] = True
    if n.provider_info:
        d["provider_info"] = n.provider_info
    return d


def to_dict(f: CatalogFile) -> dict[str, Any]:
    d: dict[str, Any] = {"format": f.format, "description": f.description,
                         "next_entry_id": f.next_entry_id, "serial": f.serial}
    if f.lsp_ranking:
        d["lsp_ranking"] = list(f.lsp_ranking)
    if f.wsk is not None:
        d["wsk"] = {"lowest": ws.format_wsk_version(f.wsk.lowest),
                    "highest": ws.format_wsk_version(f.wsk.highest),
                    "documented": f.wsk.documented}
    for b in f.bitnesses:
        cat = f.catalogs[b]
        table: dict[str, Any] = {"protocol": [protocol_to_dict(e) for e in cat.protocols]}
        if cat.namespaces:
            table["namespace"] = [namespace_to_dict(n) for n in cat.namespaces]
        d[f"catalog{b}"] = table
    if f.app_categories:
        d["app_category"] = [
            {"path": a.path, **({"args": a.args} if a.args else {}),
             "categories": _flags(a.categories, ws.LSP_CATEGORIES)} for a in f.app_categories]
    if f.history:
        d["history"] = [{"time": h.time, "user": h.user, "command": h.command,
                         "summary": h.summary, "serial_before": h.serial_before,
                         "serial_after": h.serial_after, "undo_target": h.undo_target,
                         **({"state_sha256": h.state_sha256} if h.state_sha256 else {})}
                        for h in f.history]
    return d


def dumps(f: CatalogFile) -> str:
    return dumps_dict(to_dict(f))


def dumps_dict(d: Mapping[str, Any]) -> str:
    """The file text of ``to_dict(f)`` (for callers that already hold that dict)."""
    import tomli_w
    return HEADER + tomli_w.dumps(d)


def entry_from_spec(raw: Mapping[str, Any], where: str) -> ProtocolEntry:
    """An entry to install: the catalog-file keys, with ``id`` optional (assigned on install)
    and ``kind`` defaulting to base.  Errors name ``where``."""
    w = _Where(where)
    if not isinstance(raw, Mapping):
        raise CatalogFileError(f"{where}: an entry must be a table.", code="catalog-invalid")
    table = dict(raw)
    table.setdefault("id", 0)
    table.setdefault("kind", "base")
    table.setdefault("provider_id", "{00000000-0000-0000-0000-000000000000}")  # install sets it
    return _protocol(w, table)


def entries_file(text: str, source: str) -> tuple[str | None, list[ProtocolEntry]]:
    """``install --from FILE``: an optional top-level provider_id and [[protocol]] entries."""
    data = parse_toml(text, source)
    w = _Where(source)
    _check_keys(w, data, {"provider_id", "protocol"}, {"protocol"})
    guid = _check_guid(w, "provider_id", data["provider_id"]) if "provider_id" in data else None
    entries = [entry_from_spec(_need_table(w, item, "an entry"), f"{source}: protocol #{i}")
               for i, item in enumerate(_need_list(w, data["protocol"], "protocol"), 1)]
    return guid, entries
