"""The ``sporder`` command line: parse -> load -> call one domain operation -> render -> save.

Exit status (DESIGN §4): 0 success; 1 refused or found nothing (a Winsock-level error, a duplicate
provider, a bad order, doctor findings); 2 usage error; 3 catalog file missing, unreadable or
invalid; 4 conflict (lock not obtained in time, --if-serial mismatch).  Same code with --json and
with --dry-run.  The mapping from the error hierarchy happens once, in ``main``.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from . import __version__, resolver, store
from . import render as R
from . import winsock as ws
from .errors import EXIT_USAGE, OperationRefused, SporderError, UsageError
from .formats import jsondoc
from .model import Bitness, Catalog, CatalogFile, Change

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Globals:
    """The group's options, shared by every command (ctx.obj)."""

    __slots__ = ("catalog", "bitness", "lock_timeout")

    def __init__(self, catalog: str | None, bitness: str | None, lock_timeout: float) -> None:
        self.catalog = catalog
        self.bitness = bitness
        self.lock_timeout = lock_timeout

    @property
    def location(self) -> store.Location:
        return store.locate(self.catalog)

    def read(self, *, any_format: bool = True) -> store.Loaded:
        loaded = store.load(self.location, any_format=any_format)
        if loaded.fmt == "shipped":
            R.err(f"sporder: note: {self.location.path} does not exist yet; showing the shipped "
                  f"{store.DEFAULT_CATALOG} default catalog.")
        for w in loaded.warnings:
            R.warn(w)
        return loaded

    def read_bitnesses(self, f: CatalogFile, *, allow_both: bool = False) -> list[Bitness]:
        """Reads default to the native catalog (64 when present)."""
        if self.bitness is None:
            return [f.native]
        if self.bitness == "both":
            if not allow_both:
                raise UsageError("--bitness both only applies to list and to commands that "
                                 "change the catalog; pick 64 or 32.", code="bad-bitness")
            return f.bitnesses
        return [_have(f, self.bitness)]

    def write_bitnesses(self, f: CatalogFile) -> list[Bitness]:
        """Installs and removals default to every catalog the file has (WSC...64_32)."""
        if self.bitness is None or self.bitness == "both":
            return f.bitnesses
        return [_have(f, self.bitness)]

    def one_bitness(self, f: CatalogFile) -> Bitness:
        """Order and in-place edits act on one catalog: the native one unless --bitness says."""
        if self.bitness in (None, "both"):
            return f.native
        return _have(f, self.bitness)


def _have(f: CatalogFile, bitness: str) -> Bitness:
    if bitness not in f.catalogs:
        raise OperationRefused(f"the catalog file has no {bitness}-bit catalog (it has "
                               f"{', '.join(f.bitnesses)}).", code="no-such-catalog")
    return bitness  # type: ignore[return-value]


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print one JSON object on stdout (schema 1); messages go to stderr.")(fn)


def dry_run_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--if-serial", type=int, default=None, metavar="N",
                      help="Refuse (exit 4) unless the catalog's serial is N.")(fn)
    return click.option("--dry-run", is_flag=True,
                        help="Validate and print the plan; write nothing.")(fn)


def emit(as_json: bool, command: str, data: Any, human: Callable[[], None],
         error: SporderError | None = None) -> None:
    """Print the result (JSON envelope or human text); with ``error``, print it as a failed
    result carrying ``data`` and then fail with that error's exit status."""
    if as_json:
        R.out(R.envelope(command, data, error.to_json() if error else None))
    else:
        human()
    if error is not None:
        raise _Reported(error)


# ---------------------------------------------------------------------------------------------

LAZY = {  # command -> module that defines it; imported only when the command is used or listed
    **dict.fromkeys(["install", "install-lsp", "chain-insert", "reorder", "move", "uninstall",
                     "namespace", "categories", "app-category", "reset", "apply"],
                    "sporder_py.cli_edit"),
    **dict.fromkeys(["import", "export", "doctor", "probe", "wsk"], "sporder_py.cli_more"),
}


class SporderGroup(click.Group):
    """Loads the modules of mutating and auxiliary commands lazily (start-up, DESIGN §2)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(LAZY))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY:
            import importlib
            importlib.import_module(LAZY[cmd_name])
        return self.commands.get(cmd_name)


def load_all_commands() -> None:
    import importlib
    for module in sorted(set(LAZY.values())):
        importlib.import_module(module)


@click.group(cls=SporderGroup, context_settings=CONTEXT)
@click.option("--catalog", "catalog", metavar="PATH", envvar="SPORDER_CATALOG",
              help="Catalog file (env SPORDER_CATALOG; default "
                   "$XDG_DATA_HOME/sporder/catalog.toml). Read commands also accept netsh "
                   "text, .reg, SYSTEM hive, Firefox annotation and JSON files.")
@click.option("--bitness", type=click.Choice(["64", "32", "both"]), default=None,
              help="Which catalog: reads default to the native (64) one; installs and "
                   "uninstalls default to every catalog the file has.")
@click.option("--lock-timeout", type=click.FloatRange(min=0), default=store.DEFAULT_LOCK_TIMEOUT,
              envvar="SPORDER_LOCK_TIMEOUT", show_default=True, metavar="SECONDS",
              help="How long a writer waits for the catalog lock (env SPORDER_LOCK_TIMEOUT).")
@click.version_option(__version__, prog_name="sporder")
@click.pass_context
def cli(ctx: click.Context, catalog: str | None, bitness: str | None, lock_timeout: float) -> None:
    """Inspect, edit and predict the Winsock 2 catalog.

    Models the ordered list of transport providers, layered service providers (LSPs) with
    their protocol chains, and namespace providers that Windows consults on every socket()
    call; edits it the way Windows' installers do, safely (locked, atomic, recorded, undoable).

    \b
    Exit status: 0 ok, 1 refused or not found, 2 usage error,
                 3 catalog file missing/unreadable/invalid, 4 conflict (lock, --if-serial).
    """
    if not math.isfinite(lock_timeout):
        raise click.BadParameter("must be a finite number of seconds.", param_hint="--lock-timeout")
    ctx.obj = Globals(catalog, bitness, lock_timeout)


# --- read commands -----------------------------------------------------------------------------

@cli.command("list")
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


@cli.command("show")
@click.argument("entry_id", metavar="ID", type=int)
@json_option
@click.pass_obj
def show_cmd(g: Globals, entry_id: int, as_json: bool) -> None:
    """Show every field of one entry, flags by name, and the entries its chain names."""
    from .names import display_name
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
            ("Service flags", f"{e.service_flags:#x} {ws.format_flags(e.service_flags, ws.SERVICE_FLAGS)}"),
            ("Provider flags", f"{e.provider_flags:#x} {ws.format_flags(e.provider_flags, ws.PROVIDER_FLAGS)}"),
            ("Byte order", e.byte_order), ("Security scheme", e.security_scheme),
            ("Message size", e.message_size), ("Provider reserved", e.provider_reserved),
            ("LSP categories", f"{e.lsp_categories:#x} {ws.format_flags(e.lsp_categories, ws.LSP_CATEGORIES)}"
             if e.lsp_categories else "0 (none)"),
        ]
        if e.service_flags2 or e.service_flags3 or e.service_flags4:
            rows.append(("Service flags 2..4",
                         f"{e.service_flags2:#x} {e.service_flags3:#x} {e.service_flags4:#x}"))
        width = max(len(k) for k, _ in rows) + 2
        for k, v in rows:
            R.out(f"{k + ':':<{width}}{v}")
        if e.kind != "layered":
            R.out("Chain (top layer to base provider):")
            for i, x in zip(e.chain_ids, stack):
                R.out(f"  {i}  " + (f"{x.kind}  {x.name}  {x.path}" if x else
                                    "(missing: no entry has this id)"))
    emit(as_json, "show", data, human)


def _triple(af: str, type_: str, protocol: str) -> tuple[int, int, int]:
    return ws.parse_family(af), ws.parse_socket_type(type_), ws.parse_protocol(protocol)


def resolution_json(res: resolver.Resolution, cat: Catalog) -> dict[str, Any]:
    af, st, pr = res.request
    data: dict[str, Any] = {"request": {"family": af, "socket_type": st, "protocol": pr}}
    if res.entry is not None:
        data["entry"] = jsondoc.entry_to_json(res.entry, cat.position(res.entry.id))
        data["layers"] = [jsondoc.entry_to_json(x, cat.position(x.id)) if x else None
                          for x in res.layers]
        if res.effective:
            data["socket"] = dict(zip(("family", "socket_type", "protocol"), res.effective))
    if res.verdicts:
        data["explain"] = [{"position": cat.position(v.entry.id), "id": v.entry.id,
                            "verdict": v.verdict, "reason": v.reason} for v in res.verdicts]
    return data


@cli.command("resolve", context_settings={"ignore_unknown_options": True})
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
    triple = _triple(af, type_, protocol)
    f = g.read().file
    cat = f.catalog(g.read_bitnesses(f)[0])
    if info_id is not None:
        res = resolver.resolve_with_info(cat, *triple, info_id)
    else:
        res = resolver.resolve(cat, *triple, explain=explain)
    data = resolution_json(res, cat)
    loads = None
    if app is not None and res.ok:
        from .ops import categories
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
        R.out(f"socket({R.triple_text(*res.request)}) -> {e.id} {e.name}")
        if res.effective and res.effective != res.request:
            R.out(f"  the socket reports ({R.triple_text(*res.effective)})")
        R.out("  layer stack (top layer to base provider):")
        for i, (cid, x) in enumerate(zip(e.chain_ids, res.layers)):
            extra = ""
            if loads is not None:
                extra = "  loads" if loads[i][2] else "  NOT loaded into this application"
            R.out(f"    {cid}  " + (f"{x.name}  {x.path}{extra}" if x else "(missing entry)"))
    emit(as_json, "resolve", data, human)


def _explain_table(res: resolver.Resolution, cat: Catalog) -> None:
    R.table(["POS", "ID", "VERDICT", "NAME", "REASON"],
            [[cat.position(v.entry.id), v.entry.id, v.verdict, v.entry.name, v.reason]
             for v in res.verdicts])


class _Reported(Exception):
    """An error whose JSON envelope was already printed; main prints only the message."""

    def __init__(self, error: SporderError) -> None:
        super().__init__(error.message)
        self.error = error


# --- defaults, init --------------------------------------------------------------------------

@cli.command("defaults")
@json_option
def defaults_cmd(as_json: bool) -> None:
    """List the shipped default catalogs (use with init --from and reset --to)."""
    rows = []
    for name in store.shipped_names():
        f = store.load_shipped(name)
        rows.append({"name": name, "description": f.description,
                     "catalogs": f.bitnesses,
                     "entries": len(f.catalog(f.native).protocols),
                     "default": name == store.DEFAULT_CATALOG})
    emit(as_json, "defaults", {"catalogs": rows}, lambda: R.table(
        ["NAME", "ENTRIES", "CATALOGS", "DESCRIPTION"],
        [[r["name"] + (" (default)" if r["default"] else ""), r["entries"],
          "+".join(r["catalogs"]), r["description"]] for r in rows]))


_ARGS: list[str] = []      # the arguments main() was given, for history records


def command_line() -> str:
    import shlex
    return "sporder " + " ".join(shlex.quote(a) for a in _ARGS)


def run_mutation(g: Globals, command: str, operation: store.Operation, *, as_json: bool,
                 dry_run: bool, if_serial: int | None, summary: str | Callable[[list[Change]], str],
                 create: CatalogFile | None = None,
                 undo_target: Callable[[CatalogFile], int] | None = None,
                 human_extra: Callable[[store.Outcome], None] | None = None) -> store.Outcome:
    """Load under the lock, apply, validate, save (or not, for --dry-run), render the plan."""
    loc = g.location
    if not dry_run and loc.origin == "default" and not os.path.exists(loc.path) and create is None:
        R.err(f"sporder: note: creating {loc.path} from the shipped {store.DEFAULT_CATALOG} "
              "default catalog.")
    summarize = summary if callable(summary) else (lambda _c: summary)  # type: ignore[assignment]
    outcome = store.mutate(loc, operation, command=command_line(), summary=summarize,
                           dry_run=dry_run, if_serial=if_serial, lock_timeout=g.lock_timeout,
                           create=create, undo_target=undo_target)
    for w in outcome.warnings:
        R.warn(w)
    orders = {b: (outcome.before.catalogs[b].ids if b in outcome.before.catalogs else [],
                  outcome.after.catalogs[b].ids if b in outcome.after.catalogs else [])
              for b in outcome.after.bitnesses}
    native = outcome.after.native
    data: dict[str, Any] = {
        "changes": [c.to_json() for c in outcome.changes],
        "order_before": orders[native][0], "order_after": orders[native][1],
        "orders": {b: {"before": o[0], "after": o[1]} for b, o in orders.items()},
        "serial": outcome.after.serial if outcome.changes else outcome.before.serial,
        "dry_run": dry_run, **outcome.extra}

    def human() -> None:
        if human_extra:
            human_extra(outcome)
        R.plan(outcome.changes, orders, (outcome.before.serial, outcome.after.serial), dry_run)
    emit(as_json, command, data, human)
    return outcome


@cli.command("init")
@click.option("--from", "source", metavar="NAME|FILE", default=store.DEFAULT_CATALOG,
              show_default=True, help="A shipped catalog name (see 'sporder defaults') or a "
              "catalog file in any format sporder reads.")
@click.option("--force", is_flag=True, help="Overwrite an existing catalog file.")
@dry_run_option
@json_option
@click.pass_obj
def init_cmd(g: Globals, source: str, force: bool, dry_run: bool, if_serial: int | None,
             as_json: bool) -> None:
    """Write a catalog file from a shipped default or another catalog file."""
    from dataclasses import replace

    from .diff import diff_files
    if source in store.shipped_names():
        start = store.load_shipped(source)
    else:
        from .formats import detect
        data = store.read_bytes(source)
        start = detect.parse(data, source, path=source)[0]
    loc = g.location
    store.check_path(loc.path)
    if os.path.lexists(loc.path) and not force:
        raise OperationRefused(f"{loc.path} already exists; use --force to overwrite it "
                               "(its history is kept, so 'sporder undo' can bring it back).",
                               code="exists")
    fresh = replace(start, serial=0, history=())

    def op(before: CatalogFile) -> tuple[CatalogFile, list[Change]]:
        after = replace(start, serial=before.serial, history=before.history)
        changes = diff_files(before, after) if before is not fresh else [
            Change("add", b, e.id, e.name) for b in after.bitnesses
            for e in after.catalogs[b].protocols]
        return after, changes or [Change("update", "", None, "init", detail="same content")]
    run_mutation(g, "init", op, as_json=as_json, dry_run=dry_run, if_serial=if_serial,
                 summary=f"init from {source}", create=fresh)


# --- history -----------------------------------------------------------------------------------

@cli.command("log")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=None, metavar="N",
              help="Show only the last N records.")
@json_option
@click.pass_obj
def log_cmd(g: Globals, limit: int | None, as_json: bool) -> None:
    """Show the catalog's history: who changed it, when, with what command."""
    f = g.read(any_format=False).file
    records = list(f.history[-limit:] if limit else f.history)
    data = {"serial": f.serial, "records": [
        {"time": h.time, "user": h.user, "command": h.command, "summary": h.summary,
         "serial_before": h.serial_before, "serial_after": h.serial_after,
         "undo_target": h.undo_target} for h in records]}
    emit(as_json, "log", data, lambda: R.table(
        ["SERIAL", "TIME (UTC)", "USER", "SUMMARY", "COMMAND"],
        [[f"{h.serial_before}->{h.serial_after}", h.time[:19].replace("T", " "), h.user,
          h.summary, h.command] for h in records]))


@cli.command("undo")
@click.option("--steps", type=click.IntRange(min=1), default=1, show_default=True,
              metavar="N", help="How many writes to undo.")
@dry_run_option
@json_option
@click.pass_obj
def undo_cmd(g: Globals, steps: int, dry_run: bool, if_serial: int | None,
             as_json: bool) -> None:
    """Restore the exact state before the last N writes (recorded as a write itself)."""
    from .diff import diff_files
    loc = g.location
    targets: dict[str, int] = {}

    def op(before: CatalogFile) -> tuple[CatalogFile, list[Change]]:
        target = store.undo_plan(before, steps)
        after = store.restore(before, store.load_state(loc, target))
        targets["serial"] = target
        return after, diff_files(before, after) or [
            Change("update", "", None, "undo", detail=f"state of serial {target} is identical")]

    def target_of_undo(before: CatalogFile) -> int:
        restored = targets["serial"]
        rec = {h.serial_after: h for h in before.history}.get(restored)
        return rec.undo_target if rec else 0
    run_mutation(g, "undo", op, as_json=as_json, dry_run=dry_run, if_serial=if_serial,
                 summary=lambda _c: f"undo {steps} step(s): back to the state of serial "
                                    f"{targets['serial']}", undo_target=target_of_undo)


# --- entry point -------------------------------------------------------------------------------

def error_text(exc: SporderError) -> str:
    """The one sentence, with the WSAE name and number when Windows has one."""
    msg = exc.message
    if exc.winsock_error is not None and str(exc.winsock_error) not in msg:
        name = ws.error_name(exc.winsock_error)
        msg = msg.rstrip(".") + f" ({name + ' ' if name else ''}{exc.winsock_error})."
    return msg


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    _ARGS[:] = args
    as_json = "--json" in args
    command = next((a for a in args if not a.startswith("-") and
                    (a in cli.commands or a in LAZY)), "sporder")
    try:
        cli.main(args=args, prog_name="sporder", standalone_mode=False)
        return 0
    except _Reported as rep:
        R.err(f"sporder: error: {error_text(rep.error)}")
        return rep.error.exit_code
    except SporderError as exc:
        if as_json:
            R.out(R.envelope(command, None, {**exc.to_json(), "message": error_text(exc)}))
        R.err(f"sporder: error: {error_text(exc)}")
        return exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()
        return EXIT_USAGE
    except click.ClickException as exc:
        if as_json and isinstance(exc, click.UsageError):
            R.out(R.envelope(command, None, {"code": "usage", "message": exc.format_message()}))
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        R.err("Aborted!")
        return 1
    except BrokenPipeError:
        return 1
