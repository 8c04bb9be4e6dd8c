"""Commands around other formats (import, export), checking (doctor), real sockets (probe) and
Winsock Kernel registration (wsk)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from . import render as R
from . import store
from .cli import (Globals, cli, dry_run_option, emit, json_option, run_mutation,
                  _triple)
from .errors import OperationRefused, UsageError
from .model import CatalogFile, Change

FORMAT_CHOICE = click.Choice(["toml", "json", "netsh", "reg", "hive", "firefox"])


# --- import / export ---------------------------------------------------------------------------

@cli.command("import")
@click.argument("file", metavar="FILE")
@click.option("--format", "fmt", type=FORMAT_CHOICE, default=None,
              help="The file's format (detected from its content when omitted).")
@click.option("--partial", is_flag=True, help="netsh text: keep the complete blocks and report "
              "the others instead of refusing the file.")
@dry_run_option
@json_option
@click.pass_obj
def import_cmd(g: Globals, file: str, fmt: str | None, partial: bool, dry_run: bool,
               if_serial: int | None, as_json: bool) -> None:
    """Replace the catalog with one read from FILE (TOML, netsh text, .reg, SYSTEM hive,
    Firefox annotation, list --json), as one locked, recorded, undoable write."""
    from .diff import diff_files
    from .formats import detect
    path = Path(file)
    imported, warnings, found = detect.parse(store.read_bytes(path), file, fmt=fmt, path=path,
                                             partial=partial)
    for w in warnings:
        R.warn(w)

    def op(before: CatalogFile) -> tuple[CatalogFile, list[Change], dict[str, Any]]:
        if found == "toml":
            after = replace(imported, serial=before.serial, history=before.history)
        else:
            after = replace(before, catalogs=imported.catalogs, description=imported.description,
                            next_entry_id=max(before.next_entry_id, imported.next_entry_id))
        return after, diff_files(before, after), {"format": found}
    run_mutation(g, "import", op, as_json=as_json, dry_run=dry_run, if_serial=if_serial,
                 summary=f"import {path.name} ({found})")


@cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["netsh", "reg", "json", "toml"]),
              required=True, help="Output format.")
@click.option("-o", "--output", metavar="FILE", help="Write to FILE (atomically) instead of "
              "stdout.")
@json_option
@click.pass_obj
def export_cmd(g: Globals, fmt: str, output: str | None, as_json: bool) -> None:
    """Write the catalog as netsh text, a regedit .reg file, JSON or TOML."""
    f = g.read().file
    bits = g.read_bitnesses(f, allow_both=True) if g.bitness else f.bitnesses
    sub = replace(f, catalogs={b: f.catalogs[b] for b in bits})
    if fmt == "netsh":
        from .formats import netsh
        data = netsh.render_netsh(sub, list(bits)).encode("utf-8")
    elif fmt == "reg":
        from .formats import regfile
        data = regfile.render_reg(sub)
    elif fmt == "json":
        from .formats import jsondoc
        cat = sub.catalog(bits[0])
        data = (R.envelope("list", {
            "catalog": cat.bitness, "serial": f.serial, "entries": jsondoc.catalog_entries(cat),
            "namespaces": [jsondoc.namespace_to_json(n, i) for i, n in enumerate(cat.namespaces, 1)],
        }) + "\n").encode("utf-8")
    else:
        from .formats import catalog_toml
        data = catalog_toml.dumps(sub).encode("utf-8")
    if output:
        store.atomic_write(Path(output), data)
        R.err(f"sporder: wrote {output} ({len(data)} bytes, {fmt})")
        if as_json:
            R.out(R.envelope("export", {"format": fmt, "output": output, "bytes": len(data)}))
    elif as_json:
        text = data.decode("utf-16") if fmt == "reg" else data.decode("utf-8")
        R.out(R.envelope("export", {"format": fmt, "content": text}))
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


# --- doctor --------------------------------------------------------------------------------------

@cli.command("doctor")
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
    fighting for the top, base providers shadowed by broken chains, missing DLLs."""
    from . import integrity
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
            "warnings": len(findings) - len(errors), "serial": f.serial}

    def human() -> None:
        if not findings:
            R.out("no findings: the catalog is healthy")
            return
        R.table(["SEVERITY", "CODE", "CATALOG", "POS", "ID", "FINDING", "REPAIR"],
                [[x.severity, x.code, x.catalog, x.position, x.id, x.message, x.repair]
                 for x in findings])
    error = OperationRefused(f"doctor found {len(errors)} error(s) and "
                             f"{len(findings) - len(errors)} warning(s).",
                             code="doctor-findings") if failing else None
    emit(as_json, "doctor", data, human, error)


# --- probe ---------------------------------------------------------------------------------------

@cli.command("probe", context_settings={"ignore_unknown_options": True})
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
    from . import probe
    if all_ == bool(triple) or (triple and len(triple) != 3):
        raise UsageError("give AF TYPE PROTOCOL, or --all.")
    if include_errors and not all_:
        raise UsageError("--include-errors goes with --all.")
    f = g.read().file
    cat = f.catalog(g.read_bitnesses(f)[0])
    triples = probe.all_triples(cat, include_errors=include_errors) if all_ else [_triple(*triple)]
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


# --- wsk -----------------------------------------------------------------------------------------

@cli.group("wsk")
def wsk_group() -> None:
    """Winsock Kernel client registration: the modelled WSK NPI version range."""


def _wsk_range(g: Globals) -> Any:
    from .model import WskRange
    f = g.read().file
    return f.wsk or WskRange(0x0100, 0x0100, False)


@wsk_group.command("info")
@json_option
@click.pass_obj
def wsk_info_cmd(g: Globals, as_json: bool) -> None:
    """Show the WSK NPI version range the catalog's Windows supports."""
    from .winsock import format_wsk_version
    rng = _wsk_range(g)
    data = {"lowest": format_wsk_version(rng.lowest), "highest": format_wsk_version(rng.highest),
            "lowest_value": rng.lowest, "highest_value": rng.highest,
            "documented": rng.documented}
    emit(as_json, "wsk info", data, lambda: R.out(
        f"WSK NPI versions {data['lowest']} .. {data['highest']}"
        + ("" if rng.documented else " (assumed: nothing more is documented for this Windows)")))


@wsk_group.command("capture")
@click.option("--version", "version_", required=True, metavar="X.Y",
              help="The client's WSK_CLIENT_DISPATCH version (MAKE_WSK_VERSION(X, Y)).")
@click.option("--no-wait", "mode", flag_value="no-wait", help="WSK_NO_WAIT.")
@click.option("--infinite", "mode", flag_value="infinite", help="WSK_INFINITE_WAIT.")
@click.option("--wait", "wait_ms", type=click.IntRange(min=1, max=0xFFFFFFFE), metavar="MS",
              help="Wait at most MS milliseconds.")
@click.option("--ready-after", type=click.FloatRange(min=0), default=0.0, show_default=True,
              metavar="MS", help="The subsystem becomes ready MS milliseconds after start.")
@json_option
@click.pass_obj
def wsk_capture_cmd(g: Globals, version_: str, mode: str | None, wait_ms: int | None,
                    ready_after: float, as_json: bool) -> None:
    """Run register -> capture -> (on STATUS_NOINTERFACE: query, deregister, re-register,
    capture) -> release -> deregister, printing each call's status and duration."""
    from .wsk import (WSK_INFINITE_WAIT, WSK_NO_WAIT, NtStatus, parse_wsk_version,
                      run_capture_sequence)
    if (mode is not None) + (wait_ms is not None) > 1:
        raise UsageError("give one of --no-wait, --infinite, --wait MS.")
    timeout = (WSK_NO_WAIT if mode == "no-wait" else WSK_INFINITE_WAIT if mode == "infinite"
               else wait_ms if wait_ms is not None else WSK_INFINITE_WAIT)
    rng = _wsk_range(g)
    records = run_capture_sequence(rng.lowest, rng.highest, parse_wsk_version(version_), timeout,
                                   ready_after)
    captured = any(r.call == "WskCaptureProviderNPI" and r.status == NtStatus.STATUS_SUCCESS
                   for r in records)
    data = {"calls": [r.to_json() for r in records], "captured": captured}

    def human() -> None:
        R.table(["CALL", "ARGS", "STATUS", "MS", "DETAIL"],
                [[r.call, r.args, r.status_name, f"{r.elapsed_ms:.1f}", r.detail]
                 for r in records])
    error = None if captured else OperationRefused("the provider NPI was not captured.",
                                                   code="wsk-not-captured")
    emit(as_json, "wsk capture", data, human, error)
