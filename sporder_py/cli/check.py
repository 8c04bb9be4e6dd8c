"""Checking the catalog: ``doctor`` (find and repair broken catalogs) and ``probe`` (predictions
against real sockets on this host)."""

from __future__ import annotations

from pathlib import Path

import click

from .. import render as R
from ..errors import OperationRefused, UsageError
from ..model import CatalogFile, Change
from .app import Globals, dry_run_option, emit, json_option, parse_triple
from .mutation import run_mutation


@click.command("doctor")
@click.option("--root", metavar="DIR", help="A mounted Windows tree: also check that provider "
              "DLLs exist (%SystemRoot% expanded under DIR, 32-bit paths through SysWOW64).")
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1).")
@click.option("--fix", is_flag=True, help="Apply the repairs (undoable), entry by entry.")
@dry_run_option
@json_option
@click.pass_obj
def doctor_cmd(g: Globals, root: str | None, strict: bool, fix: bool, dry_run: bool,
               if_serial: int | None, as_json: bool) -> None:
    """Check the catalog: orphaned and dangling chains, bad chain shapes, IFS order, LSPs
    fighting for the top, base providers shadowed by broken chains, missing DLLs.

    Every catalog the file has is checked (both on 64-bit Windows); --bitness picks one.
    """
    from .. import integrity
    if dry_run and not fix:
        raise UsageError("--dry-run goes with --fix.")
    dll_exists = None
    if root is not None:
        if not Path(root).is_dir():
            raise UsageError(f"--root {root} is not a directory.")

        def dll_exists(path: str, bitness: str) -> bool:
            return Path(integrity.windows_path_under_root(path, root, bitness)).is_file()
    if fix:
        def op(before: CatalogFile) -> tuple[CatalogFile, list[Change]]:
            return integrity.fix(before)
        run_mutation(g, "doctor", op, as_json=as_json, dry_run=dry_run, if_serial=if_serial,
                     summary=lambda c: f"doctor --fix: {len(c)} repair(s)")
        return
    f = g.read().file
    bits = g.read_bitnesses(f, allow_both=True) if g.bitness else f.bitnesses
    findings = integrity.check(f, dll_exists=dll_exists, bitnesses=list(bits))
    errors = [x for x in findings if x.severity == "error"]
    failing = errors or (strict and findings)
    data = {"findings": [x.to_json() for x in findings], "errors": len(errors),
            "warnings": len(findings) - len(errors), "serial": f.serial, "catalogs": bits}
    checked = " and ".join(f"{b}-bit" for b in bits)

    def human() -> None:
        if not findings:
            R.out(f"no findings in the {checked} catalog{'s' if len(bits) > 1 else ''}: "
                  "the catalog is healthy")
            return
        R.table(["SEVERITY", "CODE", "CATALOG", "POS", "ID", "FINDING", "REPAIR"],
                [[x.severity, x.code, x.catalog, x.position, x.id, x.message, x.repair]
                 for x in findings])
    error = OperationRefused(f"doctor found {len(errors)} error(s) and "
                             f"{len(findings) - len(errors)} warning(s).",
                             code="doctor-findings") if failing else None
    emit(as_json, "doctor", data, human, error)


# --- probe ---------------------------------------------------------------------------------------

@click.command("probe", context_settings={"ignore_unknown_options": True})
@click.argument("triple", metavar="[AF TYPE PROTOCOL]", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Probe every distinct triple a base or chain "
              "entry serves.")
@click.option("--include-errors", is_flag=True, help="With --all: also triples the catalog "
              "refuses, checking that the host refuses them too.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              metavar="SECONDS", help="Per-probe time limit.")
@json_option
@click.pass_obj
def probe_cmd(g: Globals, triple: tuple[str, ...], all_: bool, include_errors: bool,
              timeout: float, as_json: bool) -> None:
    """Check the catalog's predictions against real sockets on this host.

    Each prediction becomes a real socket with the winning entry's type and protocol; stream
    and datagram sockets on AF_INET, AF_INET6 and AF_UNIX exchange a payload over loopback.
    Only 127.0.0.1, ::1 and temporary socket files are used: nothing leaves this machine.
    Exit 1 when any probe failed.
    """
    from .. import probe
    if all_ == bool(triple) or (triple and len(triple) != 3):
        raise UsageError("give AF TYPE PROTOCOL, or --all.")
    if include_errors and not all_:
        raise UsageError("--include-errors goes with --all.")
    f = g.read().file
    cat = f.catalog(g.read_bitnesses(f)[0])
    triples = (probe.all_triples(cat, include_errors=include_errors) if all_
               else [parse_triple(*triple)])
    progress = None
    if all_ and not as_json and R.is_tty():
        from rich.progress import Progress
        progress = Progress(transient=True)
        task = progress.add_task("probing", total=len(triples))
        progress.start()
    try:
        results = probe.probe_triples(cat, triples, timeout=timeout, on_result=(
            (lambda _r: progress.advance(task)) if progress else None))
    finally:
        if progress:
            progress.stop()
    failed = [r for r in results if r.outcome == "failed"]
    data = {"catalog": cat.bitness, "results": [r.to_json() for r in results],
            "failed": len(failed)}

    def human() -> None:
        R.table(["TRIPLE", "ENTRY", "OUTCOME", "RTT (us)", "BYTES", "DETAIL"],
                [[R.triple_text(*r.request),
                  f"{r.entry_id} {r.entry_name}" if r.entry_id is not None else "",
                  r.outcome, r.rtt_us if r.rtt_us is not None else "",
                  r.server_bytes or "", r.detail] for r in results])
    error = OperationRefused(f"{len(failed)} of {len(results)} probe(s) failed.",
                             code="probe-failed") if failed else None
    emit(as_json, "probe", data, human, error)


