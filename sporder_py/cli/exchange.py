"""Other formats: ``import`` (replace the catalog from any format sporder reads) and ``export``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .. import render as R
from .._record import replace
from ..errors import CatalogFileError
from ..model import CatalogFile, Change
from ..store import atomic, location, reading
from .app import Globals, dry_run_option, json_option
from .mutation import run_mutation

FORMAT_CHOICE = click.Choice(["toml", "json", "netsh", "reg", "hive", "firefox"],
                             case_sensitive=False)


# --- import / export ---------------------------------------------------------------------------

@click.command("import")
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
    Firefox annotation, list --json), as one locked, recorded, undoable write.

    FILE "live" is this Windows machine's own catalog (./live names a file called live)."""
    from ..diff import diff_files
    from ..formats import detect
    path = Path(file)
    if file == location.LIVE:
        loaded = reading.load_live()
        imported, warnings, found = loaded.file, loaded.warnings, "live"
    else:
        imported, warnings, found = detect.parse(reading.read_bytes(path, "file"), file,
                                                 fmt=fmt, path=path, partial=partial)
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


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["netsh", "reg", "json", "toml"],
                                                  case_sensitive=False),
              required=True, help="Output format.")
@click.option("-o", "--output", metavar="FILE", help="Write to FILE (atomically) instead of "
              "stdout.")
@json_option
@click.pass_obj
def export_cmd(g: Globals, fmt: str, output: str | None, as_json: bool) -> None:
    """Write the catalog as netsh text, a regedit .reg file, JSON or TOML."""
    if output:
        what = location.belongs_to(g.location, output)
        if what is not None:
            raise CatalogFileError(f"{output} is {what} of {g.location.path}; export does not "
                                   "write there (the catalog changes only through 'sporder "
                                   "import', which records and locks the write).",
                                   code="output-is-catalog")
    f = g.read().file
    bits = g.read_bitnesses(f, allow_both=True) if g.bitness else f.bitnesses
    sub = replace(f, catalogs={b: f.catalogs[b] for b in bits})
    if fmt == "netsh":
        from ..formats import netsh
        data = netsh.render_netsh(sub, list(bits)).encode("utf-8")
    elif fmt == "reg":
        from ..formats import regfile
        data = regfile.render_reg(sub)
    elif fmt == "json":
        from ..formats import jsondoc
        cat = sub.catalog(bits[0])
        data = (R.envelope("list", {
            "catalog": cat.bitness, "serial": f.serial, "entries": jsondoc.catalog_entries(cat),
            "namespaces": [jsondoc.namespace_to_json(n, i)
                           for i, n in enumerate(cat.namespaces, 1)],
        }) + "\n").encode("utf-8")
    else:
        from ..formats import catalog_toml
        data = catalog_toml.dumps(sub).encode("utf-8")
    if output:
        atomic.atomic_write(Path(output), data)
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


