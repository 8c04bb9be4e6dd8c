"""Output: a rich table on a terminal, plain aligned text when piped, the JSON envelope.

rich is imported only when stdout is a terminal (start-up cost, python-cli.md §2.5) and always with
markup, highlighting and emoji off: provider names contain brackets and backslashes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from . import winsock as ws
from .formats.jsondoc import SCHEMA
from .model import Catalog, Change, ProtocolEntry


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def err(text: str) -> None:
    sys.stderr.write(text + "\n")


def warn(text: str) -> None:
    err(f"sporder: warning: {text}")


def is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def envelope(command: str, data: Any = None, error: dict[str, Any] | None = None) -> str:
    doc: dict[str, Any] = {"schema": SCHEMA, "command": command, "ok": error is None,
                           "data": data if data is not None else {}}
    if error is not None:
        doc["error"] = error
    return json.dumps(doc, indent=2, ensure_ascii=False)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None) -> None:
    """Print rows: rich on a TTY, aligned plain text otherwise (stable, greppable)."""
    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    if is_tty():
        from rich.console import Console
        from rich.table import Table
        console = Console(markup=False, highlight=False, emoji=False)
        t = Table(title=title, show_lines=False)
        for h in headers:
            t.add_column(h, overflow="fold")
        for row in cells:
            t.add_row(*row)
        console.print(t)
        return
    if title:
        out(title)
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    for row in [list(headers)] + cells:
        out("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def sym(name: str | None, value: int) -> str:
    return name if name is not None else str(value)


def triple_text(af: int, st: int, proto: int) -> str:
    from .resolver import request_text
    return request_text(af, st, proto)


def entry_row(pos: int | None, e: ProtocolEntry) -> list[object]:
    flags = f"{e.service_flags:#x}/{e.provider_flags:#x}"
    chain = " : ".join(str(i) for i in e.chain_ids) if e.kind == "chain" else ""
    return [pos, e.id, e.kind, e.name, sym(ws.family_name(e.family), e.family),
            sym(ws.socket_type_name(e.socket_type), e.socket_type),
            sym(ws.protocol_name(e.family, e.protocol), e.protocol), chain, flags]


ENTRY_HEADERS = ["POS", "ID", "KIND", "NAME", "FAMILY", "TYPE", "PROTOCOL", "CHAIN",
                 "FLAGS (XP1/PFL)"]


def catalog_table(cat: Catalog, title: str | None = None) -> None:
    table(ENTRY_HEADERS, [entry_row(i, e) for i, e in enumerate(cat.protocols, 1)], title)


def value_text(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def plan(changes: list[Change], orders: dict[str, tuple[list[int], list[int]]],
         serial: tuple[int, int], dry_run: bool) -> None:
    """The human plan of a mutation: entries added/removed/changed, order before -> after."""
    marks = {"add": "+", "remove": "-", "update": "~", "move": ">"}
    if not changes:
        out("no change")
    for c in changes:
        mark = marks.get(c.action, "*")
        where = f"catalog {c.catalog}" if c.catalog else "file"
        ident = f" {c.id}" if c.id is not None else ""
        out(f"{mark} {c.action} ({where}){ident} {c.name}".rstrip())
        for fieldname, before, after in c.fields:
            out(f"    {fieldname}: {value_text(before)} -> {value_text(after)}")
        if c.detail:
            out(f"    {c.detail}")
    for bitness, (before, after) in orders.items():
        if before != after:
            out(f"order (catalog {bitness}): {' '.join(map(str, before))}")
            out(f"                  -> {' '.join(map(str, after))}")
    if dry_run:
        out(f"dry run: nothing written (serial stays {serial[0]})")
    elif changes:
        out(f"serial {serial[0]} -> {serial[1]}")
