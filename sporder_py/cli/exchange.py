"""Other formats: ``import`` (replace the catalog from any format sporder reads) and ``export``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .. import render as R
from .._record import replace
from ..errors import CatalogFileError, UsageError
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

    FILE "live" is this Windows machine's own catalog (./live names a file called live).  A
    SYSTEM hive is read from the control set Select\\Current names (--control-set N: another).
    A catalog file that does not exist yet is created, as init --from FILE does."""
    from ..diff import diff_files
    path = Path(file)
    loaded = (reading.load_live() if file == location.LIVE else
              reading.load_any(file, file, control_set=g.control_set, partial=partial, fmt=fmt,
                               what="file"))
    imported, found = loaded.file, loaded.fmt
    for w in loaded.warnings:
        R.warn(w)
    loc = g.location
    # Nothing at the path (not even a dangling link, which is refused as init refuses it): the
    # file is created with the imported catalog.
    fresh = (replace(imported, serial=0, history=())
             if loc.origin != "default" and not location.exists(loc.path) else None)

    def op(before: CatalogFile) -> tuple[CatalogFile, list[Change], dict[str, Any]]:
        extra: dict[str, Any] = {"format": found}
        if loaded.control_set is not None:
            extra["control_set"] = loaded.control_set
        if before is fresh:                 # the file is created with the imported catalog
            return replace(before, serial=0), [
                Change("add", b, e.id, e.name) for b in before.bitnesses
                for e in before.catalogs[b].protocols], extra
        if found == "toml":
            after = replace(imported, serial=before.serial, history=before.history)
        else:
            after = replace(before, catalogs=imported.catalogs, description=imported.description,
                            next_entry_id=max(before.next_entry_id, imported.next_entry_id))
        return after, diff_files(before, after), extra
    run_mutation(g, "import", op, as_json=as_json, dry_run=dry_run, if_serial=if_serial,
                 summary=f"import {path.name} ({found})", create=fresh)


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["netsh", "reg", "json", "toml", "hive"],
                                                  case_sensitive=False),
              required=True, help="Output format; hive writes into the existing SYSTEM hive "
              "given with -o.")
@click.option("-o", "--output", metavar="FILE", help="Write to FILE (atomically) instead of "
              "stdout.")
@click.option("--key-root", metavar="KEY", default=None, help="With --format reg: the key that "
              "stands for HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet (e.g. "
              "HKEY_LOCAL_MACHINE\\OFFLINE\\ControlSet001 after 'reg load').")
@click.option("--force", is_flag=True, help="With --format hive: replace an existing "
              "FILE.sporder-backup.")
@json_option
@click.pass_obj
def export_cmd(g: Globals, fmt: str, output: str | None, key_root: str | None, force: bool,
               as_json: bool) -> None:
    """Write the catalog as netsh text, a regedit .reg file, JSON, TOML, or into a SYSTEM hive.

    --format reg deletes the catalog's entry keys first, then writes the whole catalog, so
    merging the file leaves exactly this catalog.  --format hive -o SYSTEM writes into an
    offline SYSTEM hive with hivexregedit (Debian package libwin-hivex-perl), into the control
    set Select\\Current names (--control-set N: another), verifies the result by reading it
    back, and keeps the previous file as SYSTEM.sporder-backup."""
    if key_root is not None and fmt != "reg":
        raise UsageError("--key-root applies only to --format reg.", code="bad-option")
    if force and fmt != "hive":
        raise UsageError("--force applies only to --format hive.", code="bad-option")
    if fmt == "hive" and not output:
        raise UsageError("--format hive writes into an existing SYSTEM hive: give it with -o.",
                         code="bad-option")
    if output:
        what = location.belongs_to(g.location, output)
        if what is not None:
            raise CatalogFileError(f"{output} is {what} of {g.location.path}; export does not "
                                   "write there (the catalog changes only through 'sporder "
                                   "import', which records and locks the write).",
                                   code="output-is-catalog")
        if fmt != "hive":
            output = _output_file(output)
    f = g.read().file
    bits = g.read_bitnesses(f, allow_both=True) if g.bitness else f.bitnesses
    sub = replace(f, catalogs={b: f.catalogs[b] for b in bits})
    if fmt == "hive":
        assert output is not None
        _export_hive(sub, output, g.control_set, force, as_json)
        return
    if fmt == "netsh":
        from ..formats import netsh
        data = netsh.render_netsh(sub, list(bits)).encode("utf-8")
    elif fmt == "reg":
        from ..formats import regfile
        data = (regfile.render_reg(sub) if key_root is None else
                regfile.render_reg(sub, regfile.check_key_root(key_root)))
    elif fmt == "json":
        from ..formats import jsondoc
        cat = sub.catalog(bits[0])
        data = (R.envelope("list", pretty=True, data={
            "catalog": cat.bitness, "serial": f.serial, "entries": jsondoc.catalog_entries(cat),
            "namespaces": [jsondoc.namespace_to_json(n, i)
                           for i, n in enumerate(cat.namespaces, 1)],
        }) + "\n").encode("utf-8")
    else:
        from ..formats import catalog_toml
        data = catalog_toml.dumps(sub).encode("utf-8")
    if fmt == "reg" and len(bits) == 1:
        other = "32" if bits[0] == "64" else "64"
        R.warn(f"the .reg file deletes the {other}-bit catalog's entry keys too, and this catalog "
               f"has only the {bits[0]}-bit one: merge it only into a system whose catalogs are "
               f"the same ('export --format hive' checks that).")
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




def _export_hive(f: CatalogFile, output: str, control_set: int | None, force: bool,
                 as_json: bool) -> None:
    from ..formats import hivewrite
    done = hivewrite.write_hive(f, output, control_set=control_set, force=force)
    for w in done.warnings:
        R.warn(w)
    R.err(f"sporder: wrote {R.safe(done.path)} ({done.key}, chosen by {done.chosen_by}; "
          f"Serial_Access_Num {done.serial_before} -> {done.serial_after}; previous file kept "
          f"as {R.safe(done.backup)})")
    if as_json:
        R.out(R.envelope("export", {"format": "hive", "output": output, **done.to_json()}))


def _output_file(output: str) -> str:
    """Where ``export -o`` may write: a new file, or an existing regular file (a link is written
    through to its target).  A device, FIFO, socket or directory, a read-only file and a SYSTEM
    hive are refused in one sentence (exit 3): export replaces the file by rename, which would
    destroy them (``-o /dev/null`` as root)."""
    import os
    import stat
    real = os.path.realpath(output)
    try:
        info = os.stat(real)
    except FileNotFoundError:
        return real
    except OSError as exc:
        raise CatalogFileError(f"cannot use output {output}: {exc.strerror or exc}.",
                               code="output-unusable") from None
    if stat.S_ISDIR(info.st_mode):
        raise CatalogFileError(f"output {output} is a directory, not a file.",
                               code="output-unusable")
    if not stat.S_ISREG(info.st_mode):
        raise CatalogFileError(f"output {output} is not a regular file (a device, FIFO or "
                               "socket); export writes files (use standard output instead).",
                               code="output-unusable")
    if not info.st_mode & 0o222:
        raise CatalogFileError(f"output {output} is read-only; export leaves it as it is.",
                               code="output-unusable")
    try:
        with open(real, "rb") as fh:
            magic = fh.read(4)
    except OSError:
        magic = b""
    if magic == b"regf":
        raise CatalogFileError(f"output {output} is a registry hive; 'export --format hive -o "
                               f"{output}' writes the catalog into it (this format would replace "
                               "it).", code="output-is-hive")
    return real
