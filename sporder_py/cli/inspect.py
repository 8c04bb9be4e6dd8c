"""Reading a catalog: ``list``, ``show``, ``resolve`` and ``defaults``."""

from __future__ import annotations

from typing import Any

import click

from .. import render as R
from .. import resolver
from .. import winsock as ws
from ..errors import OperationRefused
from ..formats import jsondoc
from ..model import Bitness, Catalog
from ..store import shipped
from .app import Globals, emit, json_option, parse_triple


@click.command("list")
@click.option("--namespaces", is_flag=True, help="Also list the namespace providers.")
@json_option
@click.pass_obj
def list_cmd(g: Globals, namespaces: bool, as_json: bool) -> None:
    """List the catalog in order: position, id, kind, name, triple, chain, flags."""
    loaded = g.read()
    f = loaded.file
    bits = g.read_bitnesses(f, allow_both=True)

    def data_for(b: Bitness) -> dict[str, Any]:
        cat = f.catalog(b)
        d: dict[str, Any] = {"catalog": b, "serial": f.serial,
                             "entries": jsondoc.catalog_entries(cat)}
        if namespaces:
            d["namespaces"] = [jsondoc.namespace_to_json(n, i)
                               for i, n in enumerate(cat.namespaces, 1)]
        return d

    data: dict[str, Any] = (data_for(bits[0]) if len(bits) == 1 else
                            {"serial": f.serial, "catalogs": [data_for(b) for b in bits]})

    def human() -> None:
        for b in bits:
            cat = f.catalog(b)
            R.catalog_table(cat, f"{b}-bit protocol catalog ({loaded.source}, serial {f.serial})")
            if namespaces:
                R.out()
                R.table(["POS", "PROVIDER ID", "NAME", "NAMESPACE", "ENABLED", "PATH"],
                        [[i, n.provider_id, n.name, R.sym(ws.namespace_name(n.namespace),
                                                          n.namespace),
                          "yes" if n.enabled else "no", n.path]
                         for i, n in enumerate(cat.namespaces, 1)],
                        f"{b}-bit namespace catalog")
            if b != bits[-1]:
                R.out()
    emit(as_json, "list", data, human)


def _entry_or_fail(cat: Catalog, entry_id: int) -> Any:
    e = cat.get(entry_id)
    if e is None:
        raise OperationRefused(f"there is no entry with id {entry_id} in the {cat.bitness}-bit "
                               "catalog.", code="no-such-entry",
                               winsock_error=ws.WSAEINVAL)
    return e


@click.command("show")
@click.argument("entry_id", metavar="ID", type=int)
@json_option
@click.pass_obj
def show_cmd(g: Globals, entry_id: int, as_json: bool) -> None:
    """Show every field of one entry, flags by name, and the entries its chain names."""
    from ..names import display_name
    f = g.read().file
    cat = f.catalog(g.read_bitnesses(f)[0])
    e = _entry_or_fail(cat, entry_id)
    stack = resolver.layer_stack(cat, e)
    data = {"entry": jsondoc.entry_to_json(e, cat.position(e.id)),
            "chain": [jsondoc.entry_to_json(x, cat.position(x.id)) if x else None for x in stack]}

    def human() -> None:
        rows: list[tuple[str, object]] = [
            ("Catalog", f"{cat.bitness}-bit, position {cat.position(e.id)}"),
            ("Id", e.id), ("Kind", f"{e.kind} (ChainLen {e.chain_len})"), ("Name", e.name)]
        if display_name(e.name) != e.name:
            rows.append(("Display name", display_name(e.name)))
        rows += [
            ("Provider id", e.provider_id), ("Path", e.path), ("Version", e.version),
            ("Address family", f"{e.family} {ws.family_name(e.family) or ''}".rstrip()),
            ("Socket type", f"{e.socket_type} {ws.socket_type_name(e.socket_type) or ''}".rstrip()),
            ("Protocol", f"{e.protocol} {ws.protocol_name(e.family, e.protocol) or ''}".rstrip()),
            ("Protocol max offset", e.protocol_max_offset),
            ("Address length", f"min {e.min_address_length}, max {e.max_address_length}"),
            ("Service flags",
             f"{e.service_flags:#x} {ws.format_flags(e.service_flags, ws.SERVICE_FLAGS)}"),
            ("Provider flags",
             f"{e.provider_flags:#x} {ws.format_flags(e.provider_flags, ws.PROVIDER_FLAGS)}"),
            ("Byte order", e.byte_order), ("Security scheme", e.security_scheme),
            ("Message size", e.message_size), ("Provider reserved", e.provider_reserved),
            ("LSP categories",
             f"{e.lsp_categories:#x} {ws.format_flags(e.lsp_categories, ws.LSP_CATEGORIES)}"
             if e.lsp_categories else "0 (none)"),
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
                R.out(f"  {i}  " + (f"{x.kind}  {R.safe(x.name)}  {R.safe(x.path)}" if x else
                                    "(missing: no entry has this id)"))
    emit(as_json, "show", data, human)


def resolution_json(res: resolver.Resolution, cat: Catalog) -> dict[str, Any]:
    af, st, pr = res.request
    data: dict[str, Any] = {"request": {"family": af, "socket_type": st, "protocol": pr}}
    if res.entry is not None:
        data["entry"] = jsondoc.entry_to_json(res.entry, cat.position(res.entry.id))
        data["layers"] = [jsondoc.entry_to_json(x, cat.position(x.id)) if x else None
                          for x in res.layers]
        if res.effective:
            data["socket"] = dict(zip(("family", "socket_type", "protocol"), res.effective,
                                      strict=True))
    if res.verdicts:
        data["explain"] = [{"position": cat.position(v.entry.id), "id": v.entry.id,
                            "verdict": v.verdict, "reason": v.reason} for v in res.verdicts]
    return data


@click.command("resolve", context_settings={"ignore_unknown_options": True})
@click.argument("af", metavar="AF")
@click.argument("type_", metavar="TYPE")
@click.argument("protocol", metavar="PROTOCOL")
@click.option("--explain", is_flag=True, help="Show, for every entry in order, why it was "
              "skipped or chosen.")
@click.option("--protocol-info", "info_id", type=int, metavar="ID",
              help="Resolve like WSASocket given entry ID's WSAPROTOCOL_INFO (§2.5): 0 or -1 "
                   "arguments are taken from it.")
@click.option("--app", "app", metavar="PATH", help="Report, for each layer, whether the LSP "
              "loads into this application (its LSP categories, §7.4).")
@click.option("--args", "app_args", metavar="ARGS", default="", help="The application's "
              "command-line arguments, with --app.")
@json_option
@click.pass_obj
def resolve_cmd(g: Globals, af: str, type_: str, protocol: str, explain: bool,
                info_id: int | None, app: str | None, app_args: str, as_json: bool) -> None:
    """Which entry socket(AF, TYPE, PROTOCOL) gets, and its layer stack (top to base).

    AF, TYPE and PROTOCOL take names (AF_INET, inet), or numbers (2, 0x2, -1).
    Fails with the Winsock error (WSAE name and number) and exit status 1.
    """
    triple = parse_triple(af, type_, protocol)
    f = g.read().file
    cat = f.catalog(g.read_bitnesses(f)[0])
    if info_id is not None:
        res = resolver.resolve_with_info(cat, *triple, info_id)
    else:
        res = resolver.resolve(cat, *triple, explain=explain)
    data = resolution_json(res, cat)
    loads = None
    if app is not None and res.ok:
        from ..ops import categories
        loads = categories.lsp_load_report(f, cat, res, app, app_args)
        data["app"] = {"path": app, "args": app_args,
                       "categories": categories.app_category_get(f, app, app_args),
                       "layers": [{"id": x.id if x else None, "lsp_categories": c, "loads": ok}
                                  for x, c, ok in loads]}
    if not res.ok:
        emit(as_json, "resolve", data, lambda: _explain_table(res, cat) if res.verdicts else None,
             resolver.error_for(res))

    def human() -> None:
        if res.verdicts:
            _explain_table(res, cat)
            R.out()
        e = res.entry
        assert e is not None
        R.out(f"socket({R.triple_text(*res.request)}) -> {e.id} {R.safe(e.name)}")
        if res.effective and res.effective != res.request:
            R.out(f"  the socket reports ({R.triple_text(*res.effective)})")
        R.out("  layer stack (top layer to base provider):")
        for i, (cid, x) in enumerate(zip(e.chain_ids, res.layers, strict=True)):
            extra = ""
            if loads is not None:
                extra = "  loads" if loads[i][2] else "  NOT loaded into this application"
            R.out(f"    {cid}  " + (f"{R.safe(x.name)}  {R.safe(x.path)}{extra}" if x
                                    else "(missing entry)"))
    emit(as_json, "resolve", data, human)


def _explain_table(res: resolver.Resolution, cat: Catalog) -> None:
    R.table(["POS", "ID", "VERDICT", "NAME", "REASON"],
            [[cat.position(v.entry.id), v.entry.id, v.verdict, v.entry.name, v.reason]
             for v in res.verdicts])



# --- defaults, init --------------------------------------------------------------------------

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


