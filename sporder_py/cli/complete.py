"""Shell completion of entry arguments from the current catalog (issue 15, item 8).

Each TAB press runs sporder, so these callables stay cheap and quiet: they read the catalog the
command line names (``--catalog``, ``SPORDER_CATALOG`` or the default, through the same reader
as the read commands), never print, and offer nothing when it cannot be read.  The values come
from ``refs.candidates``: entry ids, ``family,type,protocol`` triples of base providers, LSP
GUIDs and display names, each with a short help text (zsh and fish show it).

Use with click's ``shell_complete=``::

    @click.argument("entry", shell_complete=complete.entries)

Install completion with ``eval "$(_SPORDER_COMPLETE=bash_source sporder)"`` (bash; zsh:
``zsh_source``; fish: ``_SPORDER_COMPLETE=fish_source sporder | source``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import click

from .. import winsock as ws
from ..model import Catalog, CatalogFile, ProtocolEntry

if TYPE_CHECKING:       # click.shell_completion is imported only when completing (start-up)
    from click.shell_completion import CompletionItem


def _file(ctx: click.Context) -> CatalogFile | None:
    """The catalog file the command line being completed names, or None."""
    from ..store.location import locate
    from ..store.reading import load
    root = ctx.find_root()
    try:
        loc = locate(root.params.get("catalog"))
        if loc.live:
            return None
        return load(loc, any_format=True).file
    except Exception:              # completion must never fail or print: offer nothing
        return None


def _catalogs(ctx: click.Context) -> list[Catalog]:
    f = _file(ctx)
    if f is None:
        return []
    bitness = ctx.find_root().params.get("bitness")
    if bitness in f.catalogs:
        return [f.catalogs[bitness]]
    return [f.catalogs[b] for b in f.bitnesses]


def _items(pairs: Iterable[tuple[str, str]], incomplete: str) -> list[CompletionItem]:
    from click.shell_completion import CompletionItem
    want = incomplete.casefold()
    seen: set[str] = set()
    out: list[CompletionItem] = []
    for value, help_ in pairs:
        if value in seen or not value.casefold().startswith(want):
            continue
        seen.add(value)
        out.append(CompletionItem(value, help=help_))
    return out


def entries(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Ids, triples, LSP GUIDs and names of the entries of the current catalog(s)."""
    from ..refs import candidates
    return _items((c for cat in _catalogs(ctx) for c in candidates(cat)), incomplete)


def entry_ids(ctx: click.Context, param: click.Parameter,
              incomplete: str) -> list[CompletionItem]:
    """Only the entry ids (for options that take a number)."""
    from ..names import display_name
    return _items(((str(e.id), display_name(e.name)) for cat in _catalogs(ctx)
                   for e in cat.protocols), incomplete)


def _short(name: str | None, prefix: str) -> str | None:
    return name.removeprefix(prefix).lower() if name and name.startswith(prefix) else None


def _symbols(ctx: click.Context, incomplete: str, name_of: Callable[[ProtocolEntry], str | None],
             prefix: str) -> list[CompletionItem]:
    """The symbolic names (long and short) of what the catalog's non-layered entries serve."""
    pairs: list[tuple[str, str]] = []
    for cat in _catalogs(ctx):
        for e in cat.protocols:
            name = name_of(e)
            if name and e.kind != "layered":
                pairs += [(s, name) for s in (_short(name, prefix), name) if s]
    return _items(pairs, incomplete)


def families(ctx: click.Context, param: click.Parameter,
             incomplete: str) -> list[CompletionItem]:
    """The address families the catalog serves (``inet``, ``AF_INET``)."""
    return _symbols(ctx, incomplete, lambda e: ws.family_name(e.family), "AF_")


def socket_types(ctx: click.Context, param: click.Parameter,
                 incomplete: str) -> list[CompletionItem]:
    """The socket types the catalog serves (``stream``, ``SOCK_STREAM``)."""
    return _symbols(ctx, incomplete, lambda e: ws.socket_type_name(e.socket_type), "SOCK_")


def protocols(ctx: click.Context, param: click.Parameter,
              incomplete: str) -> list[CompletionItem]:
    """The protocols the catalog serves (``tcp``, ``IPPROTO_TCP``, ``0``)."""
    pairs: list[tuple[str, str]] = [("0", "any: the first entry with PFL_MATCHES_PROTOCOL_ZERO")]
    for cat in _catalogs(ctx):
        for e in cat.protocols:
            name = ws.protocol_name(e.family, e.protocol)
            if name and e.kind != "layered":
                short = _short(name, "IPPROTO_")
                pairs += [(s, name) for s in (short, name) if s]
    return _items(pairs, incomplete)
