"""Changing the catalog: ``install``, ``install-lsp``, ``chain-insert``, ``reorder``, ``move``,
``uninstall``, ``namespace ...``, ``categories set``, ``app-category ...`` and ``reset``.  Each
turns its options into an operation spec and runs it through ``mutation.run_spec``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .. import render as R
from ..errors import CatalogFileError, UsageError
from ..store import reading, shipped
from . import complete
from .app import Globals, json_option
from .mutation import _mutating, run_spec


@click.command("install")
@click.option("--name", metavar="TEXT", help="szProtocol of the entry (<= 255 characters).")
@click.option("--path", metavar="DLL", help="Provider DLL path (<= 259 characters, stored "
              "unexpanded, e.g. %SystemRoot%\\system32\\x.dll).")
@click.option("--path32", metavar="DLL", help="The 32-bit catalog's DLL path (as "
              "WSCInstallProviderAndChains64_32's lpszProviderDllPath32); default: --path, and "
              "the plan says so.")
@click.option("--family", metavar="AF", help="Address family: AF_INET, inet, 2 ...")
@click.option("--type", "type_", metavar="TYPE", help="Socket type: SOCK_STREAM, stream, 1 ...")
@click.option("--protocol", metavar="PROTO", help="Protocol: IPPROTO_TCP, tcp, 6 ... (default 0).")
@click.option("--provider-id", metavar="GUID", help="Provider GUID (generated and printed when "
              "absent).")
@click.option("--kind", type=click.Choice(["base", "layered", "chain"], case_sensitive=False),
              default=None,
              help="Raw entry kind (default base).")
@click.option("--chain", "chain", metavar="ID", type=int, multiple=True,
              help="With --kind chain: the chain ids, top layer first (repeatable).")
@click.option("--protocol-max-offset", type=int, metavar="N",
              help="iProtocolMaxOffset (default 0).")
@click.option("--min-address-length", type=int, metavar="N",
              help="iMinSockAddr (default by family).")
@click.option("--max-address-length", type=int, metavar="N",
              help="iMaxSockAddr (default by family).")
@click.option("--service-flags", metavar="FLAGS", help="XP1_ flags, comma separated names or a "
              "number (default by type, as Microsoft's providers).")
@click.option("--provider-flags", metavar="FLAGS", help="PFL_ flags (default "
              "PFL_MATCHES_PROTOCOL_ZERO).")
@click.option("--message-size", type=int, metavar="N", help="dwMessageSize (default by type).")
@click.option("--version", "version_", type=int, metavar="N", help="iVersion (default 2).")
@click.option("--byte-order", type=int, metavar="N", help="iNetworkByteOrder (default 0).")
@click.option("--security-scheme", type=int, metavar="N", help="iSecurityScheme (default 0).")
@click.option("--from", "from_file", metavar="FILE", help="Install the [[protocol]] entries of "
              "a TOML file (sporder-catalog(5) keys; id optional) under one GUID.")
@click.option("--exist-ok", is_flag=True, help="Succeed without change when identical entries "
              "with this GUID are already installed.")
@_mutating
@click.pass_obj
def install_cmd(g: Globals, name: str | None, path: str | None, family: str | None,
                type_: str | None, protocol: str | None, provider_id: str | None,
                kind: str | None, chain: tuple[int, ...], protocol_max_offset: int | None,
                min_address_length: int | None, max_address_length: int | None,
                service_flags: str | None, provider_flags: str | None,
                message_size: int | None, version_: int | None, byte_order: int | None,
                security_scheme: int | None, from_file: str | None, exist_ok: bool,
                path32: str | None, dry_run: bool, if_serial: int | None,
                as_json: bool) -> None:
    """Install entries under one provider GUID (WSCInstallProvider): ids assigned from
    next_entry_id, appended at the end, never reused."""
    spec: dict[str, Any] = {"command": "install", "provider_id": provider_id,
                            "exist_ok": exist_ok, "path32": path32}
    if from_file:
        from ..formats import catalog_toml
        try:
            text = reading.read_bytes(Path(from_file)).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CatalogFileError(f"{from_file}: not UTF-8 text (bad byte at offset "
                                   f"{exc.start}).", code="catalog-syntax") from None
        guid, entries = catalog_toml.entries_file(text, from_file)
        spec["provider_id"] = provider_id or guid
        spec["entries"] = [catalog_toml.protocol_to_dict(e) for e in entries]
    else:
        spec.update(name=name, path=path, family=family, type=type_, protocol=protocol,
                    kind=kind, chain=list(chain) or None,
                    protocol_max_offset=protocol_max_offset,
                    min_address_length=min_address_length,
                    max_address_length=max_address_length,
                    service_flags=service_flags.split(",") if service_flags else None,
                    provider_flags=provider_flags.split(",") if provider_flags else None,
                    message_size=message_size, version=version_, byte_order=byte_order,
                    security_scheme=security_scheme)
    run_spec(g, spec, as_json=as_json, dry_run=dry_run, if_serial=if_serial)


def _categories(text: tuple[str, ...]) -> list[str]:
    return [c for item in text for c in item.split(",") if c]


@click.command("install-lsp")
@click.option("--name", required=True, metavar="TEXT", help="The LSP's name.")
@click.option("--path", required=True, metavar="DLL", help="The LSP DLL path (every entry "
              "of the LSP carries it).")
@click.option("--path32", metavar="DLL", help="The 32-bit catalog's DLL path (instlsp -d32, "
              "WSCInstallProviderAndChains64_32's lpszProviderDllPath32); default: --path, and "
              "the plan says so.")
@click.option("--provider-id", metavar="GUID", help="The LSP's GUID (generated and printed when "
              "absent).")
@click.option("--over", "over", multiple=True, metavar="ENTRY", shell_complete=complete.entries,
              help="Layer over this entry (repeatable), as instlsp -o: an id, a triple such as "
                   "inet,stream,tcp (its base provider), a GUID or a name.")
@click.option("--exist-ok", is_flag=True, help="Succeed without change when this provider GUID "
              "is already installed with the same name, path(s), categories and targets "
              "(exit 1, saying what differs, when it is installed differently).")
@click.option("--over-all", is_flag=True, help="Layer over the entry socket() picks today for "
              "every distinct (family, type, protocol), so the LSP stacks on top of the LSPs "
              "there instead of bypassing them.  (instlsp -a before Vista layers over every "
              "non-layered entry, chains of other LSPs included.)")
@click.option("--over-base-only", is_flag=True, help="Layer over the first base provider of "
              "every distinct (family, type, protocol), bypassing existing LSPs: what "
              "WSCInstallProviderAndChains does with no protocol list (instlsp -a on Vista+).")
@click.option("--ifs", is_flag=True, help="The LSP returns IFS handles.  Over a chain with a "
              "non-IFS layer it goes directly below that layer: its own chain is the part "
              "below it, and the target entry is updated in place to include it (instlsp).")
@click.option("--categories", multiple=True, metavar="CATS", help="LSP categories, e.g. "
              "LSP_INSPECTOR,LSP_SYSTEM (repeatable or comma separated).")
@_mutating
@click.pass_obj
def install_lsp_cmd(g: Globals, name: str, path: str, path32: str | None,
                    provider_id: str | None, over: tuple[str, ...], exist_ok: bool,
                    over_all: bool, over_base_only: bool, ifs: bool, categories: tuple[str, ...],
                    dry_run: bool, if_serial: int | None, as_json: bool) -> None:
    """Install a layered service provider: a hidden entry plus one chain per target, moved to
    the top of the catalog.

    \b
    Targets, side by side:
      --over ENTRY      the entries given (instlsp -o); ENTRY is an id, a triple
                        (inet,stream,tcp: its base provider), a GUID or a name
      --over-all        what socket() picks today per (family, type, protocol): stacks on
                        existing LSPs
      --over-base-only  the first base provider per (family, type, protocol): bypasses
                        existing LSPs (WSCInstallProviderAndChains, instlsp -a on Vista+)
    instlsp -a before Vista layers over every non-layered entry, other LSPs' chains included.
    """
    if sum((bool(over), over_all, over_base_only)) != 1:
        raise UsageError("give exactly one of --over ID, --over-all, --over-base-only.")
    run_spec(g, {"command": "install-lsp", "name": name, "path": path, "path32": path32,
                 "provider_id": provider_id, "over": list(over), "over_all": over_all,
                 "over_base_only": over_base_only, "ifs": ifs, "exist_ok": exist_ok,
                 "categories": _categories(categories)},
             as_json=as_json, dry_run=dry_run, if_serial=if_serial)


@click.command("chain-insert")
@click.argument("lsp_id", metavar="LSP", shell_complete=complete.entries)
@click.argument("chain_ids", metavar="[CHAIN]...", nargs=-1, shell_complete=complete.entries)
@click.option("--all-over", metavar="ENTRY", shell_complete=complete.entries,
              help="Every chain entry whose chain contains ENTRY (an id, a triple such as "
                   "inet,stream,tcp, a GUID or a name).")
@click.option("--position", type=int, metavar="N", help="Position in the chain, 1-based as in "
              "'show': 2 = directly below the top layer, the chain's length = directly above "
              "the base provider.  1 (the top) is refused: the top layer owns the entry.")
@click.option("--above", metavar="ENTRY", shell_complete=complete.entries,
              help="Directly above this layer (not the top layer).")
@click.option("--below", metavar="ENTRY", shell_complete=complete.entries,
              help="Directly below this layer.")
@click.option("--auto", is_flag=True, help="Place by LSP categories (filtering/inspection "
              "above proxies above caches above data-modifying and crypto layers), then the "
              "IFS rule, always below the top layer.")
@_mutating
@click.pass_obj
def chain_insert_cmd(g: Globals, lsp_id: str, chain_ids: tuple[str, ...], all_over: str | None,
                     position: int | None, above: str | None, below: str | None, auto: bool,
                     dry_run: bool, if_serial: int | None, as_json: bool) -> None:
    """Put an installed LSP into existing chain entries, in place (ids, GUIDs, paths, order
    kept).  The top layer never changes: ws2_32 loads the DLL of the entry's top layer, so to
    put an LSP on top, install it over the entry (install-lsp --over ID)."""
    if bool(chain_ids) == (all_over is not None):
        raise UsageError("give chain ids or --all-over ID (one of the two).")
    if sum(x is not None for x in (position, above, below)) + auto != 1:
        raise UsageError("give exactly one of --position, --above, --below, --auto.")
    run_spec(g, {"command": "chain-insert", "lsp": lsp_id, "chains": list(chain_ids),
                 "all_over": all_over, "position": position, "above": above, "below": below,
                 "auto": auto}, as_json=as_json, dry_run=dry_run, if_serial=if_serial)


@click.command("reorder")
@click.argument("ids", metavar="ENTRY...", nargs=-1, required=True, shell_complete=complete.entries)
@_mutating
@click.pass_obj
def reorder_cmd(g: Globals, ids: tuple[str, ...], dry_run: bool, if_serial: int | None,
                as_json: bool) -> None:
    """Write the catalog order (WSCWriteProviderOrder): IDs must be an exact permutation."""
    run_spec(g, {"command": "reorder", "ids": list(ids)}, as_json=as_json, dry_run=dry_run,
             if_serial=if_serial)


@click.command("move")
@click.argument("entry_id", metavar="ENTRY", shell_complete=complete.entries)
@click.option("--top", is_flag=True, help="To the top of the catalog.")
@click.option("--bottom", is_flag=True, help="To the bottom.")
@click.option("--before", metavar="ENTRY", shell_complete=complete.entries,
              help="Just before this entry.")
@click.option("--after", metavar="ENTRY", shell_complete=complete.entries,
              help="Just after this entry.")
@click.option("--position", type=int, metavar="N", help="To position N (1-based).")
@_mutating
@click.pass_obj
def move_cmd(g: Globals, entry_id: str, top: bool, bottom: bool, before: str | None,
             after: str | None, position: int | None, dry_run: bool, if_serial: int | None,
             as_json: bool) -> None:
    """Move one entry; computes the permutation and writes it as reorder does."""
    if top + bottom + sum(x is not None for x in (before, after, position)) != 1:
        raise UsageError("give exactly one of --top, --bottom, --before, --after, --position.")
    run_spec(g, {"command": "move", "id": entry_id, "top": top, "bottom": bottom,
                 "before": before, "after": after, "position": position},
             as_json=as_json, dry_run=dry_run, if_serial=if_serial)


@click.command("uninstall")
@click.argument("entry_id", metavar="[ENTRY]", required=False, shell_complete=complete.entries)
@click.option("--provider-id", metavar="GUID", help="Remove by provider GUID instead of id.")
@click.option("--cascade", is_flag=True, help="Removing a base provider also removes the "
              "chains that depend on it.")
@click.option("--no-repair", is_flag=True, help="Raw WSCDeinstallProvider: remove only that "
              "GUID's entries and leave orphaned chains (to reproduce broken catalogs).")
@_mutating
@click.pass_obj
def uninstall_cmd(g: Globals, entry_id: str | None, provider_id: str | None, cascade: bool,
                  no_repair: bool, dry_run: bool, if_serial: int | None, as_json: bool) -> None:
    """Remove an LSP whole (given its hidden id or any chain id) or a base provider, repairing
    the chains that mention it.  ENTRY is an id, a triple, an LSP's GUID or a name."""
    if (entry_id is None) == (provider_id is None):
        raise UsageError("give an ENTRY or --provider-id GUID (one of the two).")
    run_spec(g, {"command": "uninstall", "id": entry_id, "provider_id": provider_id,
                 "cascade": cascade, "no_repair": no_repair},
             as_json=as_json, dry_run=dry_run, if_serial=if_serial)


# --- namespace providers -------------------------------------------------------------------------

@click.group("namespace")
def namespace_group() -> None:
    """Namespace providers (DNS, NLA, Bluetooth ...): identified by GUID, never layered."""


@namespace_group.command("list")
@json_option
@click.pass_obj
def ns_list_cmd(g: Globals, as_json: bool) -> None:
    """List the namespace providers in order."""
    from .. import winsock as ws
    from ..formats import jsondoc
    f = g.read().file
    cat = f.catalog(g.read_bitnesses(f)[0])
    data = {"catalog": cat.bitness, "serial": f.serial,
            "namespaces": [jsondoc.namespace_to_json(n, i)
                           for i, n in enumerate(cat.namespaces, 1)]}
    from ..names import display_name
    emit_rows = [[i, n.provider_id, display_name(n.name),
                  R.sym(ws.namespace_name(n.namespace), n.namespace),
                  "yes" if n.enabled else "no", n.version, n.path]
                 for i, n in enumerate(cat.namespaces, 1)]
    if as_json:
        R.out(R.envelope("namespace list", data))
    else:
        R.table(["POS", "PROVIDER ID", "NAME", "NAMESPACE", "ENABLED", "VERSION", "PATH"],
                emit_rows)


@namespace_group.command("install")
@click.option("--name", required=True, metavar="TEXT", help="Display string.")
@click.option("--path", required=True, metavar="DLL", help="Provider DLL path.")
@click.option("--namespace", "space", required=True, metavar="NS", help="NS_DNS, dns, 12 ...")
@click.option("--provider-id", metavar="GUID", help="GUID (generated when absent).")
@click.option("--version", "version_", type=int, default=0, show_default=True, metavar="N",
              help="dwVersion.")
@click.option("--disabled", is_flag=True, help="Install it disabled.")
@_mutating
@click.pass_obj
def ns_install_cmd(g: Globals, name: str, path: str, space: str, provider_id: str | None,
                   version_: int, disabled: bool, dry_run: bool, if_serial: int | None,
                   as_json: bool) -> None:
    """Install a namespace provider (WSCInstallNameSpace); a duplicate GUID is refused."""
    run_spec(g, {"command": "namespace-install", "name": name, "path": path,
                 "namespace": space, "provider_id": provider_id, "version": version_,
                 "disabled": disabled}, as_json=as_json, dry_run=dry_run, if_serial=if_serial)


def _ns_simple(command: str, doc: str) -> None:
    @namespace_group.command(command.split("-", 1)[1], help=doc)
    @click.argument("provider_id", metavar="GUID")
    @_mutating
    @click.pass_obj
    def cmd(g: Globals, provider_id: str, dry_run: bool, if_serial: int | None,
            as_json: bool) -> None:
        run_spec(g, {"command": command, "provider_id": provider_id}, as_json=as_json,
                 dry_run=dry_run, if_serial=if_serial)


_ns_simple("namespace-uninstall", "Remove a namespace provider (WSCUnInstallNameSpace).")
_ns_simple("namespace-enable", "Enable a namespace provider (WSCEnableNSProvider).")
_ns_simple("namespace-disable", "Disable a namespace provider (WSCEnableNSProvider FALSE).")


@namespace_group.command("reorder")
@click.argument("provider_ids", metavar="GUID...", nargs=-1, required=True)
@_mutating
@click.pass_obj
def ns_reorder_cmd(g: Globals, provider_ids: tuple[str, ...], dry_run: bool,
                   if_serial: int | None, as_json: bool) -> None:
    """Write the namespace order (WSCWriteNameSpaceOrder): an exact permutation of GUIDs."""
    run_spec(g, {"command": "namespace-reorder", "provider_ids": list(provider_ids)},
             as_json=as_json, dry_run=dry_run, if_serial=if_serial)


# --- categories ----------------------------------------------------------------------------------

@click.group("categories")
def categories_group() -> None:
    """LSP categories of installed LSPs (Vista+, WSCSetProviderInfo)."""


@categories_group.command("set")
@click.argument("entry_id", metavar="ENTRY", shell_complete=complete.entries)
@click.argument("cats", metavar="CAT...", nargs=-1)
@_mutating
@click.pass_obj
def categories_set_cmd(g: Globals, entry_id: str, cats: tuple[str, ...], dry_run: bool,
                       if_serial: int | None, as_json: bool) -> None:
    """Set an LSP's categories on its hidden entry (ENTRY: its hidden entry or one of its
    chains, by id, GUID or name)."""
    run_spec(g, {"command": "categories-set", "id": entry_id, "categories": _categories(cats)},
             as_json=as_json, dry_run=dry_run, if_serial=if_serial)


@click.group("app-category")
def app_category_group() -> None:
    """Which LSP categories an application accepts (WSCSetApplicationCategory)."""


@app_category_group.command("set")
@click.argument("path", metavar="PATH")
@click.argument("cats", metavar="CAT...", nargs=-1, required=True)
@click.option("--args", "args", default="", metavar="ARGS", help="The command-line arguments "
              "that, with PATH, identify the application (e.g. '-k netsvcs').")
@_mutating
@click.pass_obj
def app_set_cmd(g: Globals, path: str, cats: tuple[str, ...], args: str, dry_run: bool,
                if_serial: int | None, as_json: bool) -> None:
    """Permit LSP categories for an application; repeated calls OR them together."""
    run_spec(g, {"command": "app-category-set", "path": path, "args": args,
                 "categories": _categories(cats)}, as_json=as_json, dry_run=dry_run,
             if_serial=if_serial)


@app_category_group.command("remove")
@click.argument("path", metavar="PATH")
@click.option("--args", "args", default="", metavar="ARGS", help="As given to set.")
@_mutating
@click.pass_obj
def app_remove_cmd(g: Globals, path: str, args: str, dry_run: bool, if_serial: int | None,
                   as_json: bool) -> None:
    """Remove an application's categories (it then loads every LSP)."""
    run_spec(g, {"command": "app-category-remove", "path": path, "args": args},
             as_json=as_json, dry_run=dry_run, if_serial=if_serial)


@app_category_group.command("list")
@json_option
@click.pass_obj
def app_list_cmd(g: Globals, as_json: bool) -> None:
    """List the categorized applications."""
    from .. import winsock as ws
    f = g.read().file
    rows: list[dict[str, Any]] = [{"path": a.path, "args": a.args, "categories": a.categories,
             "category_names": ws.flag_names(a.categories, ws.LSP_CATEGORIES)[0]}
            for a in f.app_categories]
    if as_json:
        R.out(R.envelope("app-category list", {"applications": rows}))
    else:
        R.table(["PATH", "ARGS", "CATEGORIES"],
                [[r["path"], r["args"], ws.format_flags(r["categories"], ws.LSP_CATEGORIES)]
                 for r in rows])


# --- reset, apply -----------------------------------------------------------------------------

@click.command("reset")
@click.option("--to", "to", default=shipped.DEFAULT_CATALOG, show_default=True, metavar="NAME",
              help="The shipped catalog to restore (see 'sporder defaults').")
@_mutating
@click.pass_obj
def reset_cmd(g: Globals, to: str, dry_run: bool, if_serial: int | None, as_json: bool) -> None:
    """Like 'netsh winsock reset': restore the default protocol catalogs (removing every LSP and
    third-party provider), keep namespace providers, print what was removed."""
    shipped.shipped_path(to)
    run_spec(g, {"command": "reset", "to": to}, as_json=as_json, dry_run=dry_run,
             if_serial=if_serial)


