"""Creating a catalog and moving through its history: ``init``, ``log``, ``undo``, and ``apply``
(a batch of operations as one recorded write)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from .. import render as R
from ..errors import CatalogFileError, OperationRefused
from ..model import CatalogFile, Change
from ..store import history, location, reading, shipped
from .app import Globals, dry_run_option, emit, json_option
from .mutation import _ctx, _mutating, run_mutation


@click.command("init")
@click.option("--from", "source", metavar="NAME|FILE", default=shipped.DEFAULT_CATALOG,
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

    from ..diff import diff_files
    if source in shipped.shipped_names():
        start = shipped.load_shipped(source)
    elif source == location.LIVE:                 # this Windows machine's own catalog
        loaded = reading.load_live()
        start = loaded.file
        for w in loaded.warnings:
            R.warn(w)
    else:
        from ..formats import detect
        data = reading.read_bytes(source, "file")
        start, warnings, _ = detect.parse(data, source, path=source)
        for w in warnings:                  # the same warnings as 'import' prints
            R.warn(w)
    loc = g.location
    location.check_path(loc.path)
    exists = OperationRefused(f"{loc.path} already exists; use --force to overwrite it (its "
                              "history is kept, so 'sporder undo' can bring it back).",
                              code="exists")
    if os.path.lexists(loc.path) and not force:
        raise exists
    fresh = replace(start, serial=0, history=())

    def op(before: CatalogFile) -> tuple[CatalogFile, list[Change]]:
        if before is not fresh and not force:
            raise exists          # created by another writer since the check above (item 4)
        after = replace(start, serial=before.serial, history=before.history)
        changes = diff_files(before, after) if before is not fresh else [
            Change("add", b, e.id, e.name) for b in after.bitnesses
            for e in after.catalogs[b].protocols]
        return after, changes or [Change("update", "", None, "init", detail="same content")]
    run_mutation(g, "init", op, as_json=as_json, dry_run=dry_run, if_serial=if_serial,
                 summary=f"init from {source}", create=fresh)


# --- history -----------------------------------------------------------------------------------

@click.command("log")
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


@click.command("undo")
@click.option("--steps", type=click.IntRange(min=1), default=1, show_default=True,
              metavar="N", help="How many writes to undo.")
@dry_run_option
@json_option
@click.pass_obj
def undo_cmd(g: Globals, steps: int, dry_run: bool, if_serial: int | None,
             as_json: bool) -> None:
    """Restore the exact state before the last N writes (recorded as a write itself)."""
    from ..diff import diff_files
    loc = g.location
    targets: dict[str, int] = {}

    def op(before: CatalogFile) -> tuple[CatalogFile, list[Change]]:
        target = history.undo_plan(before, steps)
        after = history.restore(before, history.load_state(loc, before, target))
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




@click.command("apply")
@click.argument("file", metavar="FILE")
@_mutating
@click.pass_obj
def apply_cmd(g: Globals, file: str, dry_run: bool, if_serial: int | None, as_json: bool) -> None:
    """Run a TOML list of operations ([[operation]] tables, keys = the commands' long options)
    as one transaction: all or nothing, one lock, one write, one history record."""
    from ..formats.catalog_toml import parse_toml
    from ..ops import batch
    data = reading.read_bytes(Path(file), "apply file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogFileError(f"{file}: not UTF-8 text (bad byte at offset {exc.start}).",
                               code="batch-invalid") from None
    doc = parse_toml(text, file)
    ops = doc.get("operation")
    if not isinstance(ops, list) or set(doc) - {"operation"}:
        raise CatalogFileError(f"{file}: expected only [[operation]] tables.",
                               code="batch-invalid")

    def op(f: CatalogFile) -> tuple[CatalogFile, list[Change], dict[str, Any]]:
        return batch.run_batch(f, ops, bitness=g.bitness, source=file, ctx=_ctx())
    run_mutation(g, "apply", op, as_json=as_json, dry_run=dry_run, if_serial=if_serial,
                 summary=f"apply {Path(file).name}: {len(ops)} operations")

