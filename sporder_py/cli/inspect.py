"""Reading a catalog: ``list``, ``show``, ``resolve`` and ``defaults``.

When the file has both catalogs (64-bit Windows), ``list`` shows both, ``show`` finds an entry in
either and ``resolve`` answers for both, saying which catalog each answer comes from; the global
``--bitness 64|32`` narrows them to one.  Names are shown as Windows shows them
(``names.display_name``); the stored string stays in ``show``'s "Name" and in the JSON.
"""

from __future__ import annotations

from typing import Any

import click

from .. import render as R
from .. import resolver
from .. import winsock as ws
from ..errors import OperationRefused, UsageError, WinsockError
from ..formats import jsondoc
from ..model import Bitness, Catalog, CatalogFile, ProtocolEntry
from ..names import display_name
from ..store import shipped
from . import complete
from .app import Globals, emit, json_option, parse_triple

# list --columns: the names users type -> the table's headers.
LIST_COLUMNS: dict[str, str] = {
    "pos": "POS", "id": "ID", "kind": "KIND", "name": "NAME", "family": "FAMILY",
    "type": "TYPE", "protocol": "PROTOCOL", "chain": "CHAIN", "flags": "FLAGS (XP1/PFL)",
    "path": "PATH"}


def _bitnesses(g: Globals, f: CatalogFile) -> list[Bitness]:
    """Every catalog the file has (native first), unless --bitness names one."""
    if g.bitness is None or g.bitness == "both":
        return f.bitnesses
    return g.read_bitnesses(f)


def _columns(text: str | None) -> list[str] | None:
    if text is None:
        return None
    headers: list[str] = []
    for part in text.split(","):
        key = part.strip().casefold()
        header = LIST_COLUMNS.get(key) or next(
            (h for h in LIST_COLUMNS.values() if h.casefold() == key), None)
        if header is None:
            raise UsageError(f"unknown column {ws.shown(part.strip())} for --columns; the "
                             f"columns are {', '.join(LIST_COLUMNS)}.", code="bad-column")
        headers.append(header)
    return headers


def _title(b: Bitness, bits: list[Bitness], source: str, serial: int) -> str:
    wow = " (WOW64; netsh marks its entries (32))" if b == "32" and len(bits) > 1 else ""
    return f"{b}-bit protocol catalog{wow} ({source}, serial {serial})"


@click.command("list")
@click.option("--namespaces", is_flag=True, help="Also list the namespace providers.")
@click.option("--plain", is_flag=True, help="Aligned plain text (the piped format) even on a "
              "terminal: one line per entry, nothing folded or hidden.")
@click.option("--columns", metavar="COLS", help="Comma-separated columns to show, in that "
              "order: pos, id, kind, name, family, type, protocol, chain, flags, path.")
@json_option
@click.pass_obj
def list_cmd(g: Globals, namespaces: bool, plain: bool, columns: str | None,
             as_json: bool) -> None:
    """List the catalog in order: position, id, kind, name, triple, chain, flags, DLL path.

    When the file has both catalogs (64-bit Windows) both are listed, native first, as netsh
    does; --bitness 64 or 32 lists one. On a terminal the table fits its width: names and paths
    fold (at most 2 lines), low-value columns are hidden (PATH first), and identifiers are never
    split. With --json, data.entries is the first catalog's and data.catalogs holds each.
    """
    chosen = _columns(columns)
    loaded = g.read()
    f = loaded.file
    bits = _bitnesses(g, f)

    def data_for(b: Bitness) -> dict[str, Any]:
        cat = f.catalog(b)
        d: dict[str, Any] = {"catalog": b, "serial": f.serial,
                             "entries": jsondoc.catalog_entries(cat)}
        if namespaces:
            d["namespaces"] = [jsondoc.namespace_to_json(n, i)
                               for i, n in enumerate(cat.namespaces, 1)]
        return d

    data = data_for(bits[0])
    if len(bits) > 1:
        data["catalogs"] = [data_for(b) for b in bits]
    if loaded.control_set is not None:           # a SYSTEM hive: the ControlSet00N read
        data["control_set"] = loaded.control_set

    def human() -> None:
        for b in bits:
            cat = f.catalog(b)
            R.catalog_table(cat, _title(b, bits, loaded.source, f.serial), columns=chosen,
                            plain=True if plain else None)
            if namespaces:
                R.out()
                R.table(["POS", "PROVIDER ID", "NAME", "NAMESPACE", "ENABLED", "PATH"],
                        [[i, n.provider_id, display_name(n.name),
                          R.sym(ws.namespace_name(n.namespace), n.namespace),
                          "yes" if n.enabled else "no", n.path]
                         for i, n in enumerate(cat.namespaces, 1)],
                        f"{b}-bit namespace catalog", plain=True if plain else None)
            if b != bits[-1]:
                R.out()
    emit(as_json, "list", data, human)


# --- show ----------------------------------------------------------------------------------------

def find_in_catalogs(f: CatalogFile, bits: list[Bitness],
                     text: str) -> tuple[Catalog, ProtocolEntry, list[Bitness]]:
    """The entry ``text`` names (``refs.find_entry``) in the first catalog that has it, and the
    other catalogs holding the same entry.  Refused when none has it, when it is ambiguous in
    one, or when two catalogs hold different entries for it (then --bitness picks one)."""
    from ..refs import entry_id, find_entry
    hits: list[tuple[Catalog, ProtocolEntry]] = []
    refusals: list[OperationRefused] = []
    for b in bits:
        cat = f.catalog(b)
        try:
            hits.append((cat, find_entry(cat, text)))
        except OperationRefused as exc:
            refusals.append(exc)
    where = " or ".join(f"{b}-bit" for b in bits)
    if not hits:
        ambiguous = next((r for r in refusals if r.code == "ambiguous-entry"), None)
        if ambiguous is not None:
            raise ambiguous
        number = entry_id(text)
        what = (f"there is no entry with id {number}" if number is not None else
                f"{ws.shown(text)} names no entry (give an id, a hex id such as 0x3ec, a triple "
                "such as inet,stream,tcp, a provider GUID or a name)")
        raise OperationRefused(f"{what} in the {where} catalog.", code="no-such-entry",
                               winsock_error=ws.WSAEINVAL)
    cat, e = hits[0]
    if any(other != e for _, other in hits[1:]):
        found = "; ".join(f"{c.bitness}-bit: {x.id} {display_name(x.name)!r}" for c, x in hits)
        if all(other.id == e.id for _, other in hits[1:]):   # one id, entries that differ
            from dataclasses import fields
            differ = sorted({fl.name for _, other in hits[1:] for fl in fields(e)
                             if getattr(e, fl.name) != getattr(other, fl.name)})
            found += f"; they differ in {', '.join(differ)}"
        raise OperationRefused(f"{ws.shown(text)} names different entries in the {where} "
                               f"catalogs ({found}); pick one with --bitness 64 or --bitness 32.",
                               code="ambiguous-entry", winsock_error=ws.WSAEINVAL)
    return cat, e, [c.bitness for c, _ in hits[1:]]


def _flags_text(value: int, table: dict[str, int]) -> str:
    return f"{value:#x} {ws.format_flags(value, table)}" if value else "0x0 (none)"


def _categories_text(cat: Catalog, e: ProtocolEntry) -> str:
    """An LSP's categories live on its hidden entry: a chain shows its top layer's."""
    if e.kind != "chain" or not e.chain:
        return _flags_text(e.lsp_categories, ws.LSP_CATEGORIES)
    from ..lspmap import layer_entry
    top = layer_entry(cat.get, e.chain[0])
    if top is None or top.kind != "layered":
        return _flags_text(e.lsp_categories, ws.LSP_CATEGORIES)
    return (f"{_flags_text(top.lsp_categories, ws.LSP_CATEGORIES)} (of its LSP, {top.id} "
            f"'{display_name(top.name)}')")


def _layer_text(x: ProtocolEntry | None) -> str:
    if x is None:
        return "(missing: no entry has this id)"
    ifs = "IFS" if x.is_ifs else "non-IFS"
    return f"{x.kind}  {R.safe(display_name(x.name))}  {R.safe(x.path)}  ({ifs})"


@click.command("show")
@click.argument("entry", metavar="ENTRY", shell_complete=complete.entries)
@json_option
@click.pass_obj
def show_cmd(g: Globals, entry: str, as_json: bool) -> None:
    """Show every field of one entry, flags by name, and the entries its chain names.

    ENTRY is an id (1004 or 0x3ec), a triple such as inet,stream,tcp (its base provider), a
    provider GUID (an LSP's names its hidden entry) or a name, stored or displayed. When the
    file has both catalogs the entry is looked up in both; --bitness picks one when they differ.
    """
    f = g.read().file
    cat, e, also = find_in_catalogs(f, _bitnesses(g, f), entry)
    stack = resolver.layer_stack(cat, e)
    data = {"catalog": cat.bitness, "also_in": also,
            "entry": jsondoc.entry_to_json(e, cat.position(e.id)),
            "chain": [jsondoc.entry_to_json(x, cat.position(x.id)) if x else None for x in stack]}

    def human() -> None:
        where = f"{cat.bitness}-bit, position {cat.position(e.id)}"
        if also:
            where += f" (the same entry is in the {' and '.join(also)}-bit catalog)"
        proto = f"{e.protocol} {ws.protocol_name(e.family, e.protocol) or ''}".rstrip()
        if e.protocol_max_offset > 0:
            proto = f"{e.protocol}..{e.protocol + e.protocol_max_offset} (a range: protocol " \
                    f"{e.protocol} plus max offset {e.protocol_max_offset})"
        rows: list[tuple[str, object]] = [
            ("Catalog", where), ("Id", e.id), ("Kind", f"{e.kind} (ChainLen {e.chain_len})"),
            ("Name", e.name)]
        if display_name(e.name) != e.name:
            rows.append(("Display name", display_name(e.name)))
        rows += [
            ("Provider id", e.provider_id), ("Path", e.path), ("Version", e.version),
            ("Address family", f"{e.family} {ws.family_name(e.family) or ''}".rstrip()),
            ("Socket type", f"{e.socket_type} {ws.socket_type_name(e.socket_type) or ''}".rstrip()),
            ("Protocol", proto),
            ("Protocol max offset", e.protocol_max_offset),
            ("Address length", f"min {e.min_address_length}, max {e.max_address_length}"),
            ("Service flags", _flags_text(e.service_flags, ws.SERVICE_FLAGS)),
            ("Provider flags", _flags_text(e.provider_flags, ws.PROVIDER_FLAGS)),
            ("Byte order", e.byte_order), ("Security scheme", e.security_scheme),
            ("Message size", e.message_size), ("Provider reserved", e.provider_reserved),
            ("LSP categories", _categories_text(cat, e)),
        ]
        if e.service_flags2 or e.service_flags3 or e.service_flags4:
            rows.append(("Service flags 2..4",
                         f"{e.service_flags2:#x} {e.service_flags3:#x} {e.service_flags4:#x}"))
        if e.inferred:      # filled in on import because the format lacks them (issue 13)
            from ..known import explain
            rows.append(("Inferred fields", f"{', '.join(e.inferred)} ({explain(e)})"))
        width = max(len(k) for k, _ in rows) + 2
        for k, v in rows:
            R.out(f"{k + ':':<{width}}{R.safe(str(v))}")
        if e.kind != "layered":
            R.out("Chain (top layer to base provider):")
            for i, x in zip(e.chain_ids, stack, strict=True):
                R.out(f"  {i}  {_layer_text(x)}")
    emit(as_json, "show", data, human)


# --- resolve -------------------------------------------------------------------------------------

def explain_rows(res: resolver.Resolution, cat: Catalog,
                 info: bool = False) -> list[tuple[ProtocolEntry, str, str]]:
    """Every entry of the catalog in order with its verdict: the resolver's verdicts up to the
    chosen entry, then ``not-reached`` for the entries after it (``not-examined`` for all when
    the call fails before the walk, or the entry is chosen by --protocol-info)."""
    rows = [(v.entry, v.verdict, v.reason) for v in res.verdicts]
    if info:
        reason = "not examined: --protocol-info chooses the entry by its id"
        verdict = "not-examined"
    elif not res.verdicts:
        reason = "not examined: socket() fails before the walk (family 0 with protocol 0)"
        verdict = "not-examined"
    else:
        chosen = res.entry.id if res.entry is not None else None
        reason = f"not reached: entry {chosen} was chosen first"
        verdict = "not-reached"
    rows += [(e, verdict, reason) for e in cat.protocols[len(res.verdicts):]]
    return rows


def resolution_json(res: resolver.Resolution, cat: Catalog,
                    explain: list[tuple[ProtocolEntry, str, str]] | None = None) -> dict[str, Any]:
    af, st, pr = res.request
    data: dict[str, Any] = {"request": {"family": af, "socket_type": st, "protocol": pr}}
    if res.entry is not None:
        data["entry"] = jsondoc.entry_to_json(res.entry, cat.position(res.entry.id))
        data["layers"] = [jsondoc.entry_to_json(x, cat.position(x.id)) if x else None
                          for x in res.layers]
        if res.effective:
            data["socket"] = dict(zip(("family", "socket_type", "protocol"), res.effective,
                                      strict=True))
    if explain is not None:
        data["explain"] = [{"position": cat.position(e.id), "id": e.id, "verdict": verdict,
                            "reason": reason} for e, verdict, reason in explain]
    return data


def _stack_key(res: resolver.Resolution) -> object:
    return tuple((x.id, x.name, x.path) if x else None for x in res.layers) + (
        res.entry.id if res.entry else None,)


@click.command("resolve", context_settings={"ignore_unknown_options": True})
@click.argument("af", metavar="AF", shell_complete=complete.families)
@click.argument("type_", metavar="TYPE", shell_complete=complete.socket_types)
@click.argument("protocol", metavar="PROTOCOL", shell_complete=complete.protocols)
@click.option("--explain", is_flag=True, help="List every entry in catalog order with its "
              "verdict: skipped (and why), chosen, or not reached after the chosen one.")
@click.option("--protocol-info", "info_id", type=int, metavar="ID",
              shell_complete=complete.entry_ids,
              help="Resolve like WSASocket given entry ID's WSAPROTOCOL_INFO: 0 or -1 "
                   "arguments are taken from it.")
@click.option("--app", "app", metavar="PATH", help="Report, for each layer, whether the LSP "
              "loads into this application (its LSP categories).")
@click.option("--args", "app_args", metavar="ARGS", default="", help="The application's "
              "command-line arguments, with --app.")
@json_option
@click.pass_obj
def resolve_cmd(g: Globals, af: str, type_: str, protocol: str, explain: bool,
                info_id: int | None, app: str | None, app_args: str, as_json: bool) -> None:
    """Which entry socket(AF, TYPE, PROTOCOL) gets, and its layer stack (top to base).

    AF, TYPE and PROTOCOL take names (AF_INET, inet), or numbers (2, 0x2, -1). When the file
    has both catalogs the call is answered in each (a 32-bit program uses the WOW64 one);
    --bitness picks one. Fails with the Winsock error (WSAE name and number) and exit status 1
    when any catalog answered fails.
    """
    triple = parse_triple(af, type_, protocol)
    f = g.read().file
    answers: list[tuple[Catalog, resolver.Resolution, Any]] = []
    for b in _bitnesses(g, f):
        cat = f.catalog(b)
        res = (resolver.resolve_with_info(cat, *triple, info_id) if info_id is not None
               else resolver.resolve(cat, *triple, explain=explain))
        loads = None
        if app is not None and res.ok:
            from ..ops import categories
            loads = categories.lsp_load_report(f, cat, res, app, app_args)
        answers.append((cat, res, loads))
    rows = {cat.bitness: explain_rows(res, cat, info_id is not None) if explain else None
            for cat, res, _ in answers}

    def one(cat: Catalog, res: resolver.Resolution, loads: Any) -> dict[str, Any]:
        d = resolution_json(res, cat, rows[cat.bitness])
        if loads is not None:
            from ..ops import categories
            d["app"] = {"path": app, "args": app_args,
                        "categories": categories.app_category_get(f, app or "", app_args),
                        "layers": [{"id": x.id if x else None, "lsp_categories": c, "loads": ok}
                                   for x, c, ok in loads]}
        return d

    first = answers[0]
    data = {"catalog": first[0].bitness, **one(*first)}
    if len(answers) > 1:
        data["catalogs"] = [{"catalog": cat.bitness, **one(cat, res, loads)}
                            for cat, res, loads in answers]
    failed = [(cat, res) for cat, res, _ in answers if not res.ok]
    error = None
    if failed:
        cat, res = failed[0]
        error = resolver.error_for(res)
        assert error is not None
        if len({r.error for _, r in failed}) > 1 or len(failed) < len(answers):
            error = WinsockError(error.message.rstrip(".") + f" in the {cat.bitness}-bit catalog.",
                                 code=error.code, winsock_error=error.winsock_error)
    same = (len(answers) > 1 and not failed
            and len({_stack_key(res) for _, res, _ in answers}) == 1 and app is None
            and not explain)

    def human() -> None:
        shown = answers[:1] if same else answers
        for n, (cat, res, loads) in enumerate(shown):
            if explain:
                R.table(["POS", "ID", "VERDICT", "NAME", "REASON"],
                        [[cat.position(e.id), e.id, verdict, display_name(e.name), reason]
                         for e, verdict, reason in rows[cat.bitness] or []],
                        f"{cat.bitness}-bit catalog, every entry in order")
            if res.ok:
                _print_answer(res, loads, "64-bit and 32-bit (the same stack in both)" if same
                              else f"{cat.bitness}-bit")
            if n + 1 < len(shown) and (explain or res.ok):
                R.out()
    emit(as_json, "resolve", data, human, error)


def _print_answer(res: resolver.Resolution, loads: Any, catalogs: str) -> None:
    e = res.entry
    assert e is not None
    R.out(f"socket({R.triple_text(*res.request)}) -> {e.id} {R.safe(display_name(e.name))}")
    R.out(f"  catalog: {catalogs}")
    if res.effective and res.effective != res.request:
        R.out(f"  the socket reports ({R.triple_text(*res.effective)})")
    R.out("  layer stack (top layer to base provider):")
    for i, (cid, x) in enumerate(zip(e.chain_ids, res.layers, strict=True)):
        extra = ""
        if loads is not None:
            extra = "  loads" if loads[i][2] else "  NOT loaded into this application"
        R.out(f"    {cid}  " + (f"{R.safe(display_name(x.name))}  {R.safe(x.path)}{extra}"
                                if x else "(missing entry)"))


# --- defaults --------------------------------------------------------------------------------

@click.command("defaults")
@json_option
def defaults_cmd(as_json: bool) -> None:
    """List the shipped default catalogs (use with init --from and reset --to)."""
    rows: list[dict[str, Any]] = []
    for name in shipped.shipped_names():
        f = shipped.load_shipped(name)
        rows.append({"name": name, "description": f.description,
                     "catalogs": f.bitnesses,
                     "entries": len(f.catalog(f.native).protocols),
                     "default": name == shipped.DEFAULT_CATALOG})
    emit(as_json, "defaults", {"catalogs": rows}, lambda: R.table(
        ["NAME", "ENTRIES", "CATALOGS", "DESCRIPTION"],
        [[r["name"] + (" (default)" if r["default"] else ""), r["entries"],
          "+".join(r["catalogs"]), r["description"]] for r in rows]))
