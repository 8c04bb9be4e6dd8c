"""Views for a person helping in a bug thread: ``stacks`` (what every socket() call runs) and
``report`` (a Markdown summary to paste into an issue).  The domain is ``sporder_py.stacks`` and
``sporder_py.report``; this module only prints."""

from __future__ import annotations

import click

from .. import render as R
from .app import Globals, emit, json_option


def _layer_label(layer: object) -> str:
    from ..stacks import Layer
    assert isinstance(layer, Layer)
    if layer.entry is None:
        return f"{layer.id}  (missing: no entry has this id)"
    return f"{layer.id}  {layer.name}  {layer.path}  [{layer.facts()}]"


@click.command("stacks")
@click.option("--plain", is_flag=True, help="Indented text (the piped format) even on a "
              "terminal.")
@json_option
@click.pass_obj
def stacks_cmd(g: Globals, plain: bool, as_json: bool) -> None:
    """Show the stack every socket() call gets: top layer to base provider.

    For every (family, type, protocol) the catalog answers, the entry socket() picks and each
    layer it runs (display name, DLL, IFS or not, LSP categories); then the chain entries no
    call reaches (shadowed) and the orphaned chain entries. Both catalogs when the file has
    both (--bitness picks one). A tree on a terminal, indented text when piped.
    """
    from .. import stacks as S
    f = g.read().file
    bits = f.bitnesses if g.bitness in (None, "both") else g.read_bitnesses(f)
    views = S.file_stacks(f, bits)
    data = {"serial": f.serial, "catalogs": [v.to_json() for v in views]}

    def human() -> None:
        for n, view in enumerate(views):
            if n:
                R.out()
            if n and view.same_as(views[0]):
                R.out(f"{view.bitness}-bit catalog: the same stacks as the "
                      f"{views[0].bitness}-bit catalog")
                continue
            R.tree(_catalog_title(view), _nodes(view), plain=True if plain else None)
    emit(as_json, "stacks", data, human)


def _catalog_title(view: object) -> str:
    from ..stacks import CatalogStacks
    assert isinstance(view, CatalogStacks)
    lsps = {x.entry.id for s in view.stacks for x in s.layers
            if x.entry is not None and x.entry.kind == "layered"}
    return (f"{view.bitness}-bit catalog: {len(view.stacks)} stack(s), {len(lsps)} LSP(s) in "
            f"use, {len(view.shadowed)} shadowed chain(s), {len(view.orphans)} orphan(s)")


def _nodes(view: object) -> list[R.TreeNode]:
    from ..names import display_name
    from ..stacks import CatalogStacks, calls_text
    from ..winsock import wsa_error_text
    assert isinstance(view, CatalogStacks)
    broken = "  BROKEN: a layer is missing, the call fails (WSAEPROVIDERFAILEDINIT)"
    nodes = [R.TreeNode(f"socket({s.calls_text}) -> entry {s.entry.id} ({s.entry.kind})"
                        + (broken if any(x.missing for x in s.layers) else ""),
                        [R.TreeNode(_layer_label(x)) for x in s.layers]) for s in view.stacks]
    if view.shadowed:
        nodes.append(R.TreeNode("shadowed: chains no socket() call reaches", [
            R.TreeNode(f"entry {s.entry.id} {display_name(s.entry.name)}: "
                       f"socket({calls_text([s.call])}) goes to "
                       + (f"entry {s.answered_by.id} first" if not isinstance(s.answered_by, int)
                          else f"nothing ({wsa_error_text(s.answered_by)})"),
                       [R.TreeNode(_layer_label(x)) for x in s.layers])
            for s in view.shadowed]))
    if view.orphans:
        nodes.append(R.TreeNode("orphans: chain entries whose top layer names no entry", [
            R.TreeNode(f"entry {e.id} {display_name(e.name)}: chain "
                       f"{' : '.join(map(str, e.chain))}  {e.path}") for e in view.orphans]))
    return nodes


@click.command("report")
@json_option
@click.pass_obj
def report_cmd(g: Globals, as_json: bool) -> None:
    """Print a Markdown report to paste into a GitHub issue.

    Windows version hints read from the catalog, the LSPs and their DLLs, providers that are
    not Microsoft's, the stacks of TCP and UDP over IPv4 and IPv6 (a list and a Mermaid
    flowchart), doctor's findings, and the whole catalog in netsh format inside a collapsed
    <details> block, which 'sporder import' reads back. Example: sporder report > report.md
    """
    from .. import __version__, report
    loaded = g.read()
    if as_json:
        emit(True, "report", report.report_json(loaded.file, loaded.source, __version__),
             lambda: None)
        return
    R.out(report.build(loaded.file, loaded.source, __version__).rstrip("\n"))
