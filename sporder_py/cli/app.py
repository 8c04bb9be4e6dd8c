"""The ``sporder`` group: global options, the JSON envelope, the table of commands, and the one
place that maps the error hierarchy to exit codes (``main``).

Exit status (DESIGN §4): 0 success; 1 refused or found nothing (a Winsock-level error, a duplicate
provider, a bad order, doctor findings); 2 usage error; 3 catalog file missing, unreadable or
invalid; 4 conflict (lock not obtained in time, --if-serial mismatch).  Same code with --json and
with --dry-run.

Commands live in modules named for what users do with them (``COMMANDS``); a module is imported
only when one of its commands runs or help lists them, which keeps start-up fast.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

import click
import click.core
import click.decorators

from .. import __version__
from .. import render as R
from .. import winsock as ws
from ..errors import EXIT_USAGE, OperationRefused, SporderError, UsageError
from ..model import Bitness, CatalogFile
from ..store import limits, reading, shipped
from ..store.location import Location, locate

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# click passes the texts it adds itself (--help, --version) through gettext on every start; it
# ships no translations, so each lookup only imports locale and searches for message catalogs
# that are not there: 1.7 ms of a start-up whose budget is about 18 ms (rule 6).  Its own texts
# stay as written.
for _module in (click.core, click.decorators):
    _module._ = str  # type: ignore[attr-defined]


class Globals:
    """The group's options, shared by every command (ctx.obj)."""

    __slots__ = ("catalog", "bitness", "lock_timeout", "json", "control_set")

    def __init__(self, catalog: str | None, bitness: str | None, lock_timeout: float,
                 json: bool = False, control_set: int | None = None) -> None:
        self.catalog = catalog
        self.bitness = bitness
        self.lock_timeout = lock_timeout
        self.json = json           # --json given before the command
        self.control_set = control_set   # ControlSet00N of a SYSTEM hive (Select\Current)

    @property
    def location(self) -> Location:
        return locate(self.catalog)

    def read(self, *, any_format: bool = True) -> reading.Loaded:
        loaded = reading.load(self.location, any_format=any_format,
                              control_set=self.control_set)
        if loaded.fmt == "shipped":
            R.err(f"sporder: note: {R.safe(self.location.path)} does not exist yet; showing the "
                  f"shipped {shipped.DEFAULT_CATALOG} default catalog.")
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
    return "64" if bitness == "64" else "32"


def _json_default() -> bool:
    """A command's --json defaults to the group's (``sporder --json list``)."""
    ctx = click.get_current_context(silent=True)
    g = ctx.find_object(Globals) if ctx is not None else None
    return bool(g and g.json)


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, default=_json_default,
                        help="Print one JSON object on stdout (schema 1); messages go to "
                             "stderr.")(fn)


# The global options, also accepted after the command (``sporder list --catalog X``): each
# command gets hidden copies that overwrite the group's value (the last one given wins).
BITNESS = click.Choice(["64", "32", "both"], case_sensitive=False)
LOCK_TIMEOUT = click.FloatRange(min=0, max=limits.MAX_LOCK_TIMEOUT)
CONTROL_SET = click.IntRange(min=1, max=999)


def _set_global(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is None or ctx.resilient_parsing:
        return
    g = ctx.find_object(Globals)
    if g is not None and param.name is not None:
        setattr(g, param.name.removeprefix("global_"), value.lower()
                if param.name == "global_bitness" else value)


def _global_copies() -> list[click.Option]:
    return [click.Option(["--catalog", "global_catalog"], metavar="PATH", hidden=True,
                         expose_value=False, callback=_set_global),
            click.Option(["--bitness", "global_bitness"], type=BITNESS, hidden=True,
                         expose_value=False, callback=_set_global),
            click.Option(["--lock-timeout", "global_lock_timeout"], type=LOCK_TIMEOUT,
                         hidden=True, expose_value=False, callback=_set_global),
            click.Option(["--control-set", "global_control_set"], type=CONTROL_SET,
                         hidden=True, expose_value=False, callback=_set_global)]


def with_global_options(cmd: click.Command) -> click.Command:
    """Give ``cmd`` (and a group's subcommands) the hidden copies of the global options."""
    if not getattr(cmd, "_sporder_globals", False):
        taken = {o for p in cmd.params for o in getattr(p, "opts", [])}
        cmd.params.extend(p for p in _global_copies() if not set(p.opts) & taken)
        cmd._sporder_globals = True  # type: ignore[attr-defined]
        if isinstance(cmd, click.Group):
            for sub in cmd.commands.values():
                with_global_options(sub)
    return cmd


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


class _Reported(Exception):
    """An error whose JSON envelope was already printed; main prints only the message."""

    def __init__(self, error: SporderError) -> None:
        super().__init__(error.message)
        self.error = error


def parse_triple(af: str, type_: str, protocol: str) -> tuple[int, int, int]:
    """AF, TYPE and PROTOCOL arguments as resolve takes them (names, or numbers)."""
    return ws.parse_family(af), ws.parse_socket_type(type_), ws.parse_protocol(protocol)


# Every command: name -> (module of sporder_py.cli, attribute).  A module is imported only when
# one of its commands runs, or when help lists the commands.
COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("inspect", "list_cmd"),
    "show": ("inspect", "show_cmd"),
    "resolve": ("inspect", "resolve_cmd"),
    "defaults": ("inspect", "defaults_cmd"),
    "install": ("edit", "install_cmd"),
    "install-lsp": ("edit", "install_lsp_cmd"),
    "chain-insert": ("edit", "chain_insert_cmd"),
    "reorder": ("edit", "reorder_cmd"),
    "move": ("edit", "move_cmd"),
    "uninstall": ("edit", "uninstall_cmd"),
    "namespace": ("edit", "namespace_group"),
    "categories": ("edit", "categories_group"),
    "app-category": ("edit", "app_category_group"),
    "reset": ("edit", "reset_cmd"),
    "init": ("history", "init_cmd"),
    "log": ("history", "log_cmd"),
    "undo": ("history", "undo_cmd"),
    "apply": ("history", "apply_cmd"),
    "import": ("exchange", "import_cmd"),
    "export": ("exchange", "export_cmd"),
    "doctor": ("check", "doctor_cmd"),
    "probe": ("check", "probe_cmd"),
    "wsk": ("wsk", "wsk_group"),
    "stacks": ("view", "stacks_cmd"),
    "report": ("view", "report_cmd"),
}


class SporderGroup(click.Group):
    """Finds each command in ``COMMANDS`` and imports its module only then (start-up)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None
        import importlib
        module = importlib.import_module(f"{__package__}.{where[0]}")
        return with_global_options(getattr(module, where[1]))


def all_commands() -> dict[str, click.Command]:
    """Every command, imported (for documentation checks and completion)."""
    ctx = click.Context(cli)
    return {name: cmd for name in COMMANDS
            if (cmd := cli.get_command(ctx, name)) is not None}


@click.group(cls=SporderGroup, context_settings=CONTEXT)
@click.option("--catalog", "catalog", metavar="PATH", envvar="SPORDER_CATALOG",
              help="Catalog file (env SPORDER_CATALOG; default "
                   "$XDG_DATA_HOME/sporder/catalog.toml), or live: this Windows machine's own "
                   "catalog, read-only. Read commands also accept netsh text, .reg, SYSTEM "
                   "hive, Firefox annotation and JSON files.")
@click.option("--bitness", type=BITNESS, default=None,
              help="Which catalog: reads default to the native (64) one; installs and "
                   "uninstalls default to every catalog the file has.")
@click.option("--lock-timeout", type=LOCK_TIMEOUT, default=limits.DEFAULT_LOCK_TIMEOUT,
              envvar="SPORDER_LOCK_TIMEOUT", show_default=True, metavar="SECONDS",
              help="How long a writer waits for the catalog lock (env SPORDER_LOCK_TIMEOUT).")
@click.option("--control-set", type=CONTROL_SET, default=None, metavar="N",
              help="A SYSTEM hive (the catalog, or a file to import): read or write "
                   "ControlSet00N instead of the one Select\\Current names.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object on stdout (as the command's own --json).")
@click.version_option(__version__, prog_name="sporder")
@click.pass_context
def cli(ctx: click.Context, catalog: str | None, bitness: str | None, lock_timeout: float,
        control_set: int | None, as_json: bool) -> None:
    """Inspect, edit and predict the Winsock 2 catalog.

    Models the ordered list of transport providers, layered service providers (LSPs) with
    their protocol chains, and namespace providers that Windows consults on every socket()
    call; edits it the way Windows' installers do, safely (locked, atomic, recorded, undoable).

    \b
    Exit status: 0 ok, 1 refused or not found, 2 usage error,
                 3 catalog file missing/unreadable/invalid, 4 conflict (lock, --if-serial).

    The global options may also follow the command (sporder list --catalog X).
    """
    if not math.isfinite(lock_timeout):
        raise click.BadParameter("must be a finite number of seconds.", param_hint="--lock-timeout")
    ctx.obj = Globals(catalog, bitness.lower() if bitness else None, lock_timeout, as_json,
                      control_set)


_ARGS: list[str] = []      # the arguments main() was given, for history records


def command_line() -> str:
    import shlex
    return "sporder " + " ".join(shlex.quote(a) for a in _ARGS)



# --- entry point -------------------------------------------------------------------------------

def error_text(exc: SporderError) -> str:
    """The one sentence, with the WSAE name and number when Windows has one."""
    msg = exc.message
    if exc.winsock_error is not None and str(exc.winsock_error) not in msg:
        name = ws.error_name(exc.winsock_error)
        msg = msg.rstrip(".") + f" ({name + ' ' if name else ''}{exc.winsock_error})."
    return msg


def _check_text(args: list[str]) -> None:
    """Arguments are UTF-8 text: bytes that are not (decoded by Python as lone surrogates) would
    fail later, when the catalog or its history is written (issue 12, item 7)."""
    for n, arg in enumerate(args, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"argument {n} ({R.safe(arg)}) is not valid UTF-8 text; sporder "
                             "takes its arguments in UTF-8.", code="bad-encoding") from None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    _ARGS[:] = args
    as_json = "--json" in args
    command = next((a for a in args if not a.startswith("-") and
                    a in COMMANDS), "sporder")
    try:
        _check_text(args)
        cli.main(args=args, prog_name="sporder", standalone_mode=False)
        return 0
    except _Reported as rep:
        R.err(f"sporder: error: {R.safe(error_text(rep.error))}")
        return rep.error.exit_code
    except SporderError as exc:
        if as_json:
            R.out(R.envelope(command, None, {**exc.to_json(), "message": error_text(exc)}))
        R.err(f"sporder: error: {R.safe(error_text(exc))}")
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

