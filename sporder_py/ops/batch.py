"""One dispatcher for every catalog mutation: the CLI commands and ``sporder apply`` both describe
an operation as a spec (a table whose keys are the command's long options with ``_`` for ``-``)
and run it here, so a batch and a single command cannot drift apart.

A batch (``apply``) is a list of specs applied in order to one in-memory catalog: all or nothing.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import refs
from .. import winsock as ws
from ..errors import SporderError, UsageError
from ..formats import catalog_toml
from ..model import Bitness, CatalogFile, Change, NamespaceEntry
from . import categories as C
from . import namespaces as N
from . import reset as RS
from .chain_insert import chain_insert
from .install import install
from .install_lsp import Targets, install_lsp, new_guid
from .order import move, reorder
from .uninstall import uninstall

Result = tuple[CatalogFile, list[Change], dict[str, Any]]


class Ctx:
    """What operations need from outside the catalog: fresh GUIDs and the shipped defaults."""

    def __init__(self, guid: Callable[[], str] | None = None,
                 load_default: Callable[[str], CatalogFile] | None = None) -> None:
        self.guid = guid or new_guid
        self.load_default = load_default


# Windows-like defaults for an entry installed from options (the Microsoft providers' values,
# default-catalogs.md §2): XP1 flags, message size by socket type; address lengths by family.
_TYPE_DEFAULTS = {1: (0x20066, 0), 2: (0x20609, 65527), 3: (0x20609, 32768)}
_ADDR_DEFAULTS = {2: 16, 23: 28, 1: 110, 32: 30, 34: 36}


class Spec:
    """Typed access to one operation's table; every key must be consumed (unknown -> error)."""

    def __init__(self, raw: Mapping[str, Any], where: str) -> None:
        if not isinstance(raw, Mapping):
            raise UsageError(f"{where}: an operation must be a table.", code="bad-operation")
        self.raw = dict(raw)
        self.where = where
        self.used = {"command", "bitness"}

    def _get(self, key: str, default: Any = None) -> Any:
        self.used.add(key)
        return self.raw.get(key, default)

    def _bad(self, key: str, what: str) -> UsageError:
        return UsageError(f"{self.where}: '{key}' must be {what}.", code="bad-operation")

    def int(self, key: str, default: int | None = None) -> int | None:
        v = self._get(key, default)
        if v is None or (isinstance(v, int) and not isinstance(v, bool)):
            return v
        if isinstance(v, str) and ws.parse_int(v) is not None:
            return ws.parse_int(v)
        raise self._bad(key, "an integer")

    def entry(self, key: builtins.str, f: CatalogFile,
              bitnesses: Sequence[Bitness]) -> builtins.int | None:
        """An entry named as users name it (refs.py): an id, a hex id, a triple such as
        ``inet,stream,tcp``, a provider GUID or a name; it must name the same id in every
        selected catalog."""
        v = self._get(key)
        if v is None or (isinstance(v, int) and not isinstance(v, bool)):
            return v
        if not isinstance(v, str):
            raise self._bad(key, "an entry id, a triple such as inet,stream,tcp, a GUID or a name")
        return _resolved(v, f, bitnesses, self.where)

    def entries(self, key: builtins.str, f: CatalogFile,
                bitnesses: Sequence[Bitness]) -> tuple[builtins.int, ...]:
        v = self._get(key, [])
        items = [v] if isinstance(v, (int, str)) and not isinstance(v, bool) else v
        if not isinstance(items, (list, tuple)) or not all(
                isinstance(i, (int, str)) and not isinstance(i, bool) for i in items):
            raise self._bad(key, "a list of entry ids, triples (inet,stream,tcp), GUIDs or names")
        return tuple(i if isinstance(i, int) else _resolved(i, f, bitnesses, self.where)
                     for i in items)

    def ints(self, key: str) -> tuple[builtins.int, ...]:
        v = self._get(key, [])
        if isinstance(v, int) and not isinstance(v, bool):
            return (v,)
        if not isinstance(v, (list, tuple)) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in v):
            raise self._bad(key, "a list of integers")
        return tuple(v)

    def str(self, key: builtins.str,
            default: builtins.str | None = None) -> builtins.str | None:
        v = self._get(key, default)
        if v is None or isinstance(v, str):
            return v
        raise self._bad(key, "a string")

    def strs(self, key: builtins.str) -> list[builtins.str]:
        v = self._get(key, [])
        if isinstance(v, str):
            return [v]
        if not isinstance(v, (list, tuple)) or not all(isinstance(i, str) for i in v):
            raise self._bad(key, "a list of strings")
        return list(v)

    def flag(self, key: builtins.str) -> bool:
        v = self._get(key, False)
        if not isinstance(v, bool):
            raise self._bad(key, "true or false")
        return v

    def required(self, key: builtins.str, value: Any) -> Any:
        if value is None or value == "":
            raise UsageError(f"{self.where}: '{key}' is required.", code="bad-operation")
        return value

    def categories(self, key: builtins.str) -> builtins.int:
        v = self._get(key, [])
        items = [v] if isinstance(v, (str, int)) and not isinstance(v, bool) else v
        if not isinstance(items, (list, tuple)):
            raise self._bad(key, "a list of LSP category names")
        return ws.parse_flags(items, ws.LSP_CATEGORIES, "LSP category")

    def finish(self) -> None:
        extra = sorted(set(self.raw) - self.used)
        if extra:
            raise UsageError(f"{self.where}: unknown key '{extra[0]}' for "
                             f"'{self.raw.get('command')}'.", code="bad-operation")


def _resolved(text: str, f: CatalogFile, bitnesses: Sequence[Bitness], where: str) -> int:
    number = refs.entry_id(text)
    if number is not None:            # an id (or hex id) is checked by the operation itself
        return number
    ids = {b: refs.find_id(f.catalog(b), text) for b in bitnesses}
    if len(set(ids.values())) > 1:
        from ..errors import OperationRefused
        raise OperationRefused(f"{where}: {ws.shown(text)} names different entries in the "
                               f"catalogs ({', '.join(f'{i} in {b}-bit' for b, i in ids.items())});"
                               " name one catalog with --bitness.", code="ambiguous-entry")
    return next(iter(ids.values()))


def _bitnesses(f: CatalogFile, spec: Spec, default: str | None, *, many: bool) -> list[Bitness]:
    given = spec._get("bitness")
    if given in (64, 32) and not isinstance(given, bool):   # bitness = 64 in a TOML file
        given = str(given)
    if isinstance(given, str):
        given = given.lower()                  # "BOTH", as the command line takes it
    elif given is not None:
        raise spec._bad("bitness", '"64", "32" or "both"')
    b = given or default
    if b in (None, "both"):
        return f.bitnesses if many else [f.native]
    if b not in f.catalogs:
        from ..errors import OperationRefused
        raise OperationRefused(f"the catalog file has no {b}-bit catalog (it has "
                               f"{', '.join(f.bitnesses)}).", code="no-such-catalog")
    return [b]


def _install_entry(spec: Spec) -> Any:
    for key, limit in (("name", ws.WSAPROTOCOL_LEN), ("path", ws.MAX_PATH - 1)):
        value = spec.raw.get(key)
        if isinstance(value, str) and len(value) > limit:
            from ..errors import WinsockError
            raise WinsockError(f"{spec.where}: the {key} is {len(value)} characters long; "
                               f"Windows allows {limit}.", code="wsaeinval",
                               winsock_error=ws.WSAEINVAL)
    family = ws.parse_family(str(spec.required("family", spec._get("family"))))
    stype = ws.parse_socket_type(str(spec.required("type", spec._get("type"))))
    proto_v = spec._get("protocol", 0)
    protocol = ws.parse_protocol(str(proto_v))
    sflags, msg = _TYPE_DEFAULTS.get(stype, (0, 0))
    addr = _ADDR_DEFAULTS.get(family, 16)
    raw: dict[str, Any] = {
        "kind": spec.str("kind", "base"), "name": spec.required("name", spec.str("name")),
        "path": spec.required("path", spec.str("path")),
        "provider_id": "{00000000-0000-0000-0000-000000000000}",
        "family": family, "socket_type": stype, "protocol": protocol,
        "protocol_max_offset": spec.int("protocol_max_offset", 0),
        "min_address_length": spec.int("min_address_length", addr),
        "max_address_length": spec.int("max_address_length", addr),
        "service_flags": spec._get("service_flags", sflags),
        "provider_flags": spec._get("provider_flags", ["PFL_MATCHES_PROTOCOL_ZERO"]),
        "message_size": spec.int("message_size", msg), "version": spec.int("version", 2),
        "byte_order": spec.int("byte_order", 0),
        "security_scheme": spec.int("security_scheme", 0),
    }
    if raw["kind"] == "chain":
        raw["chain"] = list(spec.ints("chain"))
    if raw["kind"] == "layered":
        raw["lsp_categories"] = spec.categories("categories")
    for k in ("service_flags", "provider_flags"):
        if isinstance(raw[k], str):
            raw[k] = [raw[k]]
    try:
        return catalog_toml.entry_from_spec(raw, spec.where)
    except SporderError as exc:
        raise UsageError(exc.message, code="bad-operation") from None


def run_one(f: CatalogFile, raw: Mapping[str, Any], *, bitness: str | None = None,
            where: str = "operation", ctx: Ctx | None = None) -> Result:
    spec = Spec(raw, where)
    command = spec.raw.get("command")
    if not isinstance(command, str) or command not in HANDLERS:
        raise UsageError(f"{where}: unknown command {command!r} (known: "
                         f"{', '.join(sorted(HANDLERS))}).", code="bad-operation")
    unknown = sorted(set(spec.raw) - KEYS[command] - {"command", "bitness"})
    if unknown:
        raise UsageError(f"{where}: unknown key '{unknown[0]}' for '{command}' (known: "
                         f"{', '.join(sorted(KEYS[command]))}).", code="bad-operation")
    result = HANDLERS[command](f, spec, bitness, ctx or Ctx())
    spec.finish()
    return result


def run_batch(f: CatalogFile, specs: list[Mapping[str, Any]], *, bitness: str | None = None,
              source: str = "batch", ctx: Ctx | None = None) -> Result:
    """All operations in order on one in-memory catalog; the first refusal aborts the batch."""
    changes: list[Change] = []
    extras: list[dict[str, Any]] = []
    for i, raw in enumerate(specs, 1):
        where = f"{source}: operation #{i}"
        try:
            f, more, extra = run_one(f, raw, bitness=bitness, where=where, ctx=ctx)
        except SporderError as exc:
            if not exc.message.startswith(where):
                exc.message = f"{where}: {exc.message}"
                exc.args = (exc.message,)
            raise
        changes += more
        extras.append(extra)
    return f, changes, {"operations": len(specs), "results": extras}


# --- handlers ------------------------------------------------------------------------------------

def _install(f: CatalogFile, s: Spec, b: str | None, ctx: Ctx) -> Result:
    entries_path = s.str("from")
    if entries_path is not None:
        raise UsageError(f"{s.where}: 'from' is resolved by the command line, not here.",
                         code="bad-operation")
    given = s._get("entries")
    if given is not None:
        if not isinstance(given, list):
            raise s._bad("entries", "a list of entry tables")
        try:
            entries = [catalog_toml.entry_from_spec(e, f"{s.where}: entries #{i}")
                       for i, e in enumerate(given, 1)]
        except SporderError as exc:
            raise UsageError(exc.message, code="bad-operation") from None
    else:
        entries = [_install_entry(s)]
    provider = s.str("provider_id")
    generated = provider is None
    if generated and s.flag("exist_ok"):
        raise UsageError(f"{s.where}: exist_ok needs the provider_id: a generated GUID is new "
                         "on every run, so nothing installed could match it.",
                         code="bad-operation")
    provider = catalog_toml.normalize_guid(provider) if provider else ctx.guid()
    if provider is None:
        raise s._bad("provider_id", "a GUID like {E70F1AA0-AB8B-11CF-8CA3-00805F48A192}")
    new, changes = install(f, entries, provider, _bitnesses(f, s, b, many=True),
                           exist_ok=s.flag("exist_ok"), path32=s.str("path32"))
    return new, changes, {"provider_id": provider, "provider_id_generated": generated}


def _install_lsp(f: CatalogFile, s: Spec, b: str | None, ctx: Ctx) -> Result:
    provider = s.str("provider_id")
    generated = provider is None
    if generated and s.flag("exist_ok"):
        raise UsageError(f"{s.where}: exist_ok needs the LSP's provider_id: a generated GUID is "
                         "new on every run, so nothing installed could match it.",
                         code="bad-operation")
    provider = catalog_toml.normalize_guid(provider) if provider else ctx.guid()
    if provider is None:
        raise s._bad("provider_id", "a GUID like {E70F1AA0-AB8B-11CF-8CA3-00805F48A192}")
    bits = _bitnesses(f, s, b, many=True)
    over, over_all = s.entries("over", f, bits), s.flag("over_all")
    base_only = s.flag("over_base_only")
    if sum((bool(over), over_all, base_only)) != 1:
        raise UsageError(f"{s.where}: give exactly one of over, over_all, over_base_only.",
                         code="bad-operation")
    new, changes, hidden = install_lsp(
        f, name=s.required("name", s.str("name")), path=s.required("path", s.str("path")),
        provider_id=provider, targets=Targets(over=over, over_all=over_all,
                                            over_base_only=base_only),
        ifs=s.flag("ifs"), categories=s.categories("categories"),
        bitnesses=bits, new_guid=ctx.guid, path32=s.str("path32"), exist_ok=s.flag("exist_ok"))
    return new, changes, {"lsp_id": hidden, "provider_id": provider,
                          "provider_id_generated": generated}


def _chain_insert(f: CatalogFile, s: Spec, b: str | None, ctx: Ctx) -> Result:
    placement = [k for k in ("position", "above", "below") if s.raw.get(k) is not None]
    auto = s.flag("auto")
    if len(placement) + auto != 1:
        raise UsageError(f"{s.where}: give exactly one of position, above, below, auto.",
                         code="bad-operation")
    bits = _bitnesses(f, s, b, many=True)
    chains, all_over = s.entries("chains", f, bits), s.entry("all_over", f, bits)
    if bool(chains) == (all_over is not None):
        raise UsageError(f"{s.where}: give chain ids or all_over, not both or neither.",
                         code="bad-operation")
    new, changes = chain_insert(
        f, s.required("lsp", s.entry("lsp", f, bits)), chains=chains, all_over=all_over,
        position=s.int("position"), above=s.entry("above", f, bits),
        below=s.entry("below", f, bits), auto=auto, ranking=f.lsp_ranking or None,
        bitnesses=bits)
    return new, changes, {}


def _reorder(f: CatalogFile, s: Spec, b: str | None, ctx: Ctx) -> Result:
    bits = _bitnesses(f, s, b, many=False)
    new, changes = reorder(f, list(s.entries("ids", f, bits)), bits[0])
    return new, changes, {}


def _move(f: CatalogFile, s: Spec, b: str | None, ctx: Ctx) -> Result:
    where = {k: s.raw.get(k) for k in ("top", "bottom", "before", "after", "position")}
    given = [k for k, v in where.items() if v is not None and v is not False]
    if len(given) != 1:
        raise UsageError(f"{s.where}: give exactly one of top, bottom, before, after, position.",
                         code="bad-operation")
    bits = _bitnesses(f, s, b, many=False)
    new, changes = move(f, s.required("id", s.entry("id", f, bits)), top=s.flag("top"),
                        bottom=s.flag("bottom"), before=s.entry("before", f, bits),
                        after=s.entry("after", f, bits), position=s.int("position"),
                        bitness=bits[0])
    return new, changes, {}


def _uninstall(f: CatalogFile, s: Spec, b: str | None, ctx: Ctx) -> Result:
    bits = _bitnesses(f, s, b, many=True)
    entry_id, provider = s.entry("id", f, bits), s.str("provider_id")
    if (entry_id is None) == (provider is None):
        raise UsageError(f"{s.where}: give an entry id or provider_id, not both or neither.",
                         code="bad-operation")
    if provider is not None:
        provider = catalog_toml.normalize_guid(provider)
        if provider is None:
            raise s._bad("provider_id", "a GUID")
    new, changes = uninstall(f, entry_id=entry_id, provider_id=provider,
                             cascade=s.flag("cascade"), repair=not s.flag("no_repair"),
                             bitnesses=bits)
    return new, changes, {}


def _ns_guid(s: Spec) -> str:
    return N.guid_argument(s.required("provider_id", s.str("provider_id")))


def _ns_install(f: CatalogFile, s: Spec, b: str | None, ctx: Ctx) -> Result:
    provider = s.str("provider_id")
    entry = NamespaceEntry(
        provider_id=N.guid_argument(provider) if provider else ctx.guid(),
        name=s.required("name", s.str("name")),
        namespace=ws.parse_namespace(str(s.required("namespace", s._get("namespace")))),
        path=s.required("path", s.str("path")), enabled=not s.flag("disabled"),
        version=_dword(s, "version"))
    new, changes = N.ns_install(f, entry, _bitnesses(f, s, b, many=True))
    return new, changes, {"provider_id": entry.provider_id}


def _dword(s: Spec, key: str) -> int:
    value = s.int(key, 0) or 0
    if not 0 <= value <= ws.DWORD_MAX:
        raise s._bad(key, f"an integer in 0..{ws.DWORD_MAX}")
    return value


def _ns_uninstall(f: CatalogFile, s: Spec, b: str | None, ctx: Ctx) -> Result:
    return (*N.ns_uninstall(f, _ns_guid(s), _bitnesses(f, s, b, many=True)), {})


def _ns_enable(f: CatalogFile, s: Spec, b: str | None, ctx: Ctx) -> Result:
    return (*N.ns_enable(f, _ns_guid(s), True, _bitnesses(f, s, b, many=True)), {})


def _ns_disable(f: CatalogFile, s: Spec, b: str | None, ctx: Ctx) -> Result:
    return (*N.ns_enable(f, _ns_guid(s), False, _bitnesses(f, s, b, many=True)), {})


def _ns_reorder(f: CatalogFile, s: Spec, b: str | None, ctx: Ctx) -> Result:
    return (*N.ns_reorder(f, s.strs("provider_ids"), _bitnesses(f, s, b, many=False)[0]), {})


def _categories_set(f: CatalogFile, s: Spec, b: str | None, ctx: Ctx) -> Result:
    bits = _bitnesses(f, s, b, many=True)
    return (*C.set_lsp_categories(f, s.required("id", s.entry("id", f, bits)),
                                  s.categories("categories"), bits), {})


def _app_set(f: CatalogFile, s: Spec, b: str | None, ctx: Ctx) -> Result:
    return (*C.app_category_set(f, s.required("path", s.str("path")), s.str("args", "") or "",
                                s.categories("categories")), {})


def _app_remove(f: CatalogFile, s: Spec, b: str | None, ctx: Ctx) -> Result:
    return (*C.app_category_remove(f, s.required("path", s.str("path")),
                                   s.str("args", "") or ""), {})


def _reset(f: CatalogFile, s: Spec, b: str | None, ctx: Ctx) -> Result:
    name = s.str("to", "windows-11") or "windows-11"
    if ctx.load_default is None:
        raise UsageError(f"{s.where}: reset needs the shipped catalogs.", code="bad-operation")
    return (*RS.reset(f, ctx.load_default(name)), {"reset_to": name})


HANDLERS: dict[str, Callable[[CatalogFile, Spec, str | None, Ctx], Result]] = {
    "install": _install, "install-lsp": _install_lsp, "chain-insert": _chain_insert,
    "reorder": _reorder, "move": _move, "uninstall": _uninstall,
    "namespace-install": _ns_install, "namespace-uninstall": _ns_uninstall,
    "namespace-enable": _ns_enable, "namespace-disable": _ns_disable,
    "namespace-reorder": _ns_reorder, "categories-set": _categories_set,
    "app-category-set": _app_set, "app-category-remove": _app_remove, "reset": _reset,
}

_ENTRY_KEYS = {"name", "path", "family", "type", "protocol", "kind", "chain", "categories",
               "protocol_max_offset", "min_address_length", "max_address_length",
               "service_flags", "provider_flags", "message_size", "version", "byte_order",
               "security_scheme"}
KEYS: dict[str, set[str]] = {   # the keys each command takes (its long options, "_" for "-")
    "install": _ENTRY_KEYS | {"provider_id", "exist_ok", "entries", "from", "path32"},
    "install-lsp": {"name", "path", "path32", "provider_id", "over", "over_all",
                    "over_base_only", "ifs", "categories", "exist_ok"},
    "chain-insert": {"lsp", "chains", "all_over", "position", "above", "below", "auto"},
    "reorder": {"ids"}, "move": {"id", "top", "bottom", "before", "after", "position"},
    "uninstall": {"id", "provider_id", "cascade", "no_repair"},
    "namespace-install": {"name", "path", "namespace", "provider_id", "version", "disabled"},
    "namespace-uninstall": {"provider_id"}, "namespace-enable": {"provider_id"},
    "namespace-disable": {"provider_id"}, "namespace-reorder": {"provider_ids"},
    "categories-set": {"id", "categories"}, "app-category-set": {"path", "args", "categories"},
    "app-category-remove": {"path", "args"}, "reset": {"to"},
}
