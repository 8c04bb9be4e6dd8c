"""Output: a rich table on a terminal, plain aligned text when piped, the JSON envelope, mutation
plans and trees.  rich is imported only when stdout is a terminal (start-up cost) and always
with markup, highlighting and emoji off: provider names contain brackets and backslashes.

Terminal safety (DESIGN §5).  Names, paths and history fields come from untrusted files, so every
human-readable output escapes the code points that can drive or deceive a terminal:

- C0 controls U+0000-U+001F (ESC, BEL, CR, LF, TAB, NUL...), DEL U+007F, C1 controls U+0080-U+009F
  (U+009B is a one-byte CSI, U+009D a one-byte OSC);
- bidi controls U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069 (they reorder what follows);
- the line and paragraph separators U+2028, U+2029;
- lone surrogates U+D800-U+DFFF (undecodable input; printing one would raise).

The escape is Python's (``\\t``, ``\\n``, ``\\r``, ``\\x1b``, ``\\u202e``; lower-case hex); all else
prints as is, so ``%SystemRoot%\\system32\\x.dll`` reads as written.  It is one-way, for display
(the four characters ``\\x1b`` and ESC look alike); ``--json`` keeps exact values (``envelope``).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import winsock as ws
from ._record import Record, record
from .errors import UsageError
from .formats.jsondoc import SCHEMA
from .model import Catalog, Change, ProtocolEntry
from .names import display_name

if TYPE_CHECKING:
    from .effects import ResolutionChange

# --- escaping ------------------------------------------------------------------------------------

_OTHER_DANGEROUS = "\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff"
_CLASSES = {
    "all": f"[\x00-\x1f{_OTHER_DANGEROUS}]",
    "lines": f"[\x00-\x09\x0b-\x1f{_OTHER_DANGEROUS}]",      # all but the line feed
    "json": f"[{_OTHER_DANGEROUS}]",                            # json.dumps escapes C0 itself
}
_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(which: str) -> re.Pattern[str]:
    """The compiled class (compiled on first use: most output never needs it, see ``safe``)."""
    pattern = _PATTERNS.get(which)
    if pattern is None:
        pattern = _PATTERNS[which] = re.compile(_CLASSES[which])
    return pattern


_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    short = _SHORT.get(ch)
    if short is not None:
        return short
    cp = ord(ch)
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}"


def safe(text: str) -> str:
    """``text`` with every dangerous code point escaped visibly (see the module docstring).

    One-way, for display: ``safe("a\\x1bb")`` is ``"a\\\\x1bb"`` (a backslash, then ``x1b``),
    and text that holds no dangerous code point is returned unchanged (backslashes included).
    """
    if text.isprintable():     # no Cc, Cf, Zl, Zp or Cs code point: nothing to escape
        return text
    return _pattern("all").sub(_escape, text)


def _safe_lines(text: str) -> str:
    """Like ``safe`` but a line feed passes: for whole blocks of output."""
    if all(line.isprintable() for line in text.split("\n")):
        return text
    return _pattern("lines").sub(_escape, text)


def out(text: str = "") -> None:
    """Print ``text`` and a newline on stdout.

    Contract: every dangerous code point except the line feed itself is escaped here, so text
    from a file can never reach the terminal as ESC, CR, C1 or a bidi control.  A line feed is
    how callers build multi-line output, so it passes: a caller that puts an untrusted field in
    ``text`` must wrap that field in ``safe()``, or a line feed in it would start a new line (at
    worst a forged-looking line, never a terminal control).
    """
    sys.stdout.write(_safe_lines(text) + "\n")


def err(text: str) -> None:
    """Print ``text`` on stderr; the same escaping contract as ``out``."""
    sys.stderr.write(_safe_lines(text) + "\n")


def warn(text: str) -> None:
    """One warning, on one line: a line feed from a file cannot start a forged line."""
    err(f"sporder: warning: {safe(text)}")


def is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def envelope(command: str, data: Any = None, error: dict[str, Any] | None = None, *,
             pretty: bool | None = None) -> str:
    """The JSON document of DESIGN §4: exact JSON (``json.loads`` gives back every value), UTF-8
    text kept readable, and no raw dangerous code point: ``json.dumps`` already writes C0
    controls as escapes; DEL, C1 controls, bidi controls, U+2028/U+2029 and lone surrogates are
    written as ``\\uXXXX`` escapes too.  (One limit of JSON itself: a lone high surrogate
    directly followed by a lone low one reads back as the pair's character.)"""
    doc: dict[str, Any] = {"schema": SCHEMA, "command": command, "ok": error is None,
                           "data": data if data is not None else {}}
    if error is not None:
        doc["error"] = error
    # Indented for a person at a terminal; one compact line when piped, as scripts read it (the
    # C encoder: about five times faster, which a 10,000-entry list --json notices).
    if pretty is None:
        pretty = is_tty()
    text = (json.dumps(doc, indent=2, ensure_ascii=False) if pretty else
            json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
    # Outside strings a JSON document is ASCII, so each match is inside a string.
    if text.isascii() and "\x7f" not in text:
        return text
    return _pattern("json").sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# --- display width -------------------------------------------------------------------------------


def char_width(ch: str) -> int:
    """Terminal cells of one code point: 2 for East Asian wide/full-width, 0 for combining and
    format characters, 1 otherwise."""
    if ch.isascii():
        return 1
    import unicodedata  # only for non-ASCII text (start-up, rule 6)
    if unicodedata.combining(ch) or (unicodedata.category(ch) in ("Mn", "Me", "Cf")
                                     and ch != "\u00ad"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Terminal cells ``text`` takes (``len`` for ASCII; CJK characters count 2)."""
    if text.isascii():
        return len(text)
    return sum(char_width(ch) for ch in text)


def pad(text: str, width: int) -> str:
    """``text`` left-justified to ``width`` terminal cells (``str.ljust`` by display width)."""
    return text + " " * max(0, width - display_width(text))


ELLIPSIS = "\u2026"


def truncate(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` cells, ending in "…" when something was cut."""
    if display_width(text) <= width:
        return text
    if width <= 0:
        return ""
    used, cut = 0, 0
    for ch in text:
        used += char_width(ch)
        if used > width - 1:
            break
        cut += 1
    return text[:cut] + ELLIPSIS


def _fit(text: str, width: int) -> int:
    """How many leading characters of ``text`` fit in ``width`` cells (at least 1)."""
    used = 0
    for i, ch in enumerate(text):
        used += char_width(ch)
        if used > width:
            return max(1, i)
    return len(text)


def fold(text: str, width: int, max_lines: int = 2) -> list[str]:
    """``text`` wrapped to ``width`` cells in at most ``max_lines`` lines; the last line ends in
    "…" when text was left out.  Breaks at spaces, else after a path separator in the second
    half of the line, else anywhere."""
    width = max(1, width)
    lines: list[str] = []
    rest = text
    while rest:
        if display_width(rest) <= width:
            lines.append(rest)
            break
        if len(lines) == max_lines - 1:
            lines.append(truncate(rest, width))
            break
        cut = _fit(rest, width)
        space = rest.rfind(" ", 0, cut + 1)
        sep = max(rest.rfind("\\", 0, cut), rest.rfind("/", 0, cut))
        if space > 0:
            line, rest = rest[:space], rest[space + 1:]
        elif sep + 1 >= max(1, cut // 2):
            line, rest = rest[:sep + 1], rest[sep + 1:]
        else:
            line, rest = rest[:cut], rest[cut:]
        lines.append(line.rstrip(" "))
        rest = rest.lstrip(" ")
    return lines or [""]


# --- tables --------------------------------------------------------------------------------------

# Header names (any case) of free-text columns: they share the width left by the identifier
# columns and fold (at most 2 lines, then "…").  Every other column holds identifiers (ids,
# families, types, protocols, flags, GUIDs) and is never split.
DEFAULT_FLEX: tuple[str, ...] = (
    "NAME", "PATH", "DETAIL", "FINDING", "REPAIR", "REASON", "ARGS", "DESCRIPTION", "SUMMARY",
    "COMMAND", "ENTRY", "USER", "TITLE", "MESSAGE")
# Header names (any case) of low-value columns, the first hidden first when a terminal table is
# too narrow (names not in a table are skipped): flags and versions (``show`` has them),
# positions (the row order shows them), kind (a chain shows in CHAIN), the chain, states and
# measurements, the socket type (the protocol mostly implies it), then paths and namespaces.
# Ids, names, families, protocols, GUIDs and findings stay.
DEFAULT_DROP: tuple[str, ...] = (
    "FLAGS (XP1/PFL)", "VERSION", "POS", "KIND", "CHAIN", "ENABLED", "CATALOG", "BYTES",
    "RTT (us)", "MS", "TYPE", "PATH", "NAMESPACE", "REPAIR")
FLEX_MIN = 16        # a text column is not narrowed below this before low-value columns go
FLEX_FLOOR = 4       # ...nor below this at all
MAX_LINES = 2        # lines a text cell may take in a terminal table


def _overhead(n: int) -> int:
    """Cells a rich table (box, edges, one space of padding each side) adds to n columns."""
    return 3 * n + 1 if n else 0


@record()
class Layout(Record):
    """How a table fits a width: the columns kept (indices into the headers, in display order),
    their content widths, and the headers hidden to make room."""

    columns: tuple[int, ...]
    widths: tuple[int, ...]
    hidden: tuple[str, ...]

    def __init__(self, columns: tuple[int, ...], widths: tuple[int, ...],
                 hidden: tuple[str, ...]) -> None:
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "widths", widths)
        object.__setattr__(self, "hidden", hidden)


def _grow(cur: dict[int, int], target: dict[int, int], budget: int) -> int:
    """Widen columns from ``cur`` towards ``target`` sharing ``budget`` evenly; the unused rest."""
    while budget > 0:
        active = [i for i in cur if cur[i] < target[i]]
        if not active:
            break
        share = max(1, budget // len(active))
        for i in active:
            step = min(share, target[i] - cur[i], budget)
            cur[i] += step
            budget -= step
            if budget == 0:
                break
    return budget


def layout(headers: Sequence[str], cells: Sequence[Sequence[str]], width: int, *,
           order: Sequence[int] | None = None, flex: Sequence[str] = DEFAULT_FLEX,
           drop: Sequence[str] = (), can_drop: bool = True) -> Layout:
    """Fit a table of already-escaped ``cells`` to ``width`` terminal cells.

    Identifier columns get their full width; free-text columns (``flex``) share the rest. As the
    width shrinks: columns left entirely empty go first, then text columns narrow to FLEX_MIN,
    then the ``drop`` columns go in the order given, then text columns narrow to FLEX_FLOOR and
    finally the widest identifier columns are cut with "…" (never split across lines).
    ``can_drop=False`` keeps every column (the caller chose them).
    """
    cols = list(order) if order is not None else list(range(len(headers)))
    flexset = {h.casefold() for h in flex}
    is_flex = {i: headers[i].casefold() in flexset for i in cols}
    content = {i: max((display_width(r[i]) for r in cells), default=0) for i in cols}
    head = {i: display_width(headers[i]) for i in cols}
    word = {i: max((display_width(w) for w in headers[i].split()), default=0) for i in cols}
    natural = {i: max(content[i], head[i], 1) for i in cols}
    minimum = {i: (min(natural[i], max(word[i], FLEX_MIN)) if is_flex[i]
                   else max(content[i], word[i], 1)) for i in cols}
    hidden: list[str] = []

    def total(kind: dict[int, int]) -> int:
        return sum(kind[i] for i in cols) + _overhead(len(cols))

    if can_drop and total(natural) > width:
        for i in [i for i in cols if content[i] == 0]:
            if len(cols) > 1:
                cols.remove(i)
                hidden.append(headers[i])
    if can_drop:
        by_name = {headers[i].casefold(): i for i in cols}
        for name in drop:
            if total(natural) <= width or total(minimum) <= width or len(cols) <= 1:
                break
            i = by_name.get(name.casefold(), -1)
            if i in cols:
                cols.remove(i)
                hidden.append(headers[i])
    cur = {i: minimum[i] for i in cols}
    budget = width - total(cur)
    if budget >= 0:
        budget = _grow(cur, {i: (natural[i] if not is_flex[i] else cur[i]) for i in cols}, budget)
        _grow(cur, natural, budget)
    else:
        for i in cols:                                   # text columns down to the floor
            if is_flex[i] and budget < 0:
                give = min(cur[i] - min(cur[i], FLEX_FLOOR), -budget)
                cur[i] -= give
                budget += give
        while budget < 0:                                # then cut the widest identifiers
            i = max(cols, key=lambda k: cur[k])
            if cur[i] <= 1:
                break
            cur[i] -= 1
            budget += 1
    return Layout(tuple(cols), tuple(cur[i] for i in cols), tuple(hidden))


def select_columns(headers: Sequence[str], columns: Sequence[str] | None) -> list[int]:
    """Indices of ``columns`` (header names, any case) in the order given; all when None.
    An unknown name is a UsageError listing the valid names."""
    if columns is None:
        return list(range(len(headers)))
    if not columns:
        raise UsageError(f"No column was chosen; the columns are {', '.join(headers)}.",
                         code="bad-column")
    index = {h.casefold(): i for i, h in enumerate(headers)}
    picked: list[int] = []
    for name in columns:
        i = index.get(name.strip().casefold())
        if i is None:
            raise UsageError(f"Unknown column {name!r}; the columns are "
                             f"{', '.join(headers)}.", code="bad-column")
        if i not in picked:
            picked.append(i)
    return picked


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None,
          *, columns: Sequence[str] | None = None, plain: bool | None = None,
          width: int | None = None, flex: Sequence[str] = DEFAULT_FLEX,
          drop: Sequence[str] = DEFAULT_DROP) -> None:
    """Print rows: a rich table on a TTY, aligned plain text otherwise (stable, greppable).

    Every cell and the title go through ``safe()``; None prints as an empty cell.

    - ``columns``: header names (any case) to show, in that order; unknown -> UsageError.
    - ``plain``: True forces the plain format, False the rich table; None (default) picks rich
      exactly when stdout is a terminal.
    - ``width``: the terminal width for the rich table (default: the terminal's, or $COLUMNS).
      The plain format is never narrowed: one line per row, padded by display width.
    - ``flex``: headers of free-text columns (names, paths...), folded to at most 2 lines with
      "…"; every other column holds identifiers and is never split.
    - ``drop``: headers of low-value columns, the first hidden first when the width is short
      (default DEFAULT_DROP; see ``layout``); hidden columns are named under the table.  With
      ``columns`` nothing is hidden: identifiers that cannot fit are cut with "…" instead.
    """
    picked = select_columns(headers, columns)
    cells = [[safe("" if c is None else str(c)) for c in row] for row in rows]
    heads = [safe(h) for h in headers]
    if plain is None:
        plain = not is_tty()
    if not plain:
        _rich_table(heads, cells, None if title is None else safe(title), picked, width, flex,
                    drop, can_drop=columns is None)
        return
    if title:
        out(safe(title))
    widths = {i: max([display_width(heads[i])] + [display_width(r[i]) for r in cells])
              for i in picked}
    for row in [heads] + cells:
        out("  ".join(pad(row[i], widths[i]) for i in picked).rstrip())


def _rich_table(heads: list[str], cells: list[list[str]], title: str | None, picked: list[int],
                width: int | None, flex: Sequence[str], drop: Sequence[str],
                can_drop: bool) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text
    console = Console(markup=False, highlight=False, emoji=False, width=width)
    fit = layout(heads, cells, console.width, order=picked, flex=flex, drop=drop,
                 can_drop=can_drop)
    flexset = {h.casefold() for h in flex}
    caption = (Text(f"not shown at this width: {', '.join(fit.hidden)}")
               if fit.hidden else None)
    t = Table(title=None if title is None else Text(title), caption=caption, show_lines=False)
    for i, w in zip(fit.columns, fit.widths, strict=True):
        t.add_column(Text(heads[i], no_wrap=False, overflow="fold"), width=w, no_wrap=True,
                     overflow="ellipsis")
    for row in cells:
        t.add_row(*[Text("\n".join(fold(row[i], w, MAX_LINES))
                         if heads[i].casefold() in flexset else truncate(row[i], w))
                    for i, w in zip(fit.columns, fit.widths, strict=True)])
    console.print(t)


# --- trees ---------------------------------------------------------------------------------------


@record()
class TreeNode(Record):
    """One node of a ``tree``: a label (untrusted text is fine: it is escaped) and children."""

    label: str
    children: Sequence[TreeNode] = ()

    def __init__(self, label: str, children: Sequence[TreeNode] = ()) -> None:
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "children", children)


def tree(title: str, nodes: Sequence[TreeNode], *, plain: bool | None = None) -> None:
    """Print a tree: a rich Tree on a TTY; piped (or ``plain=True``), the title then one label a
    line indented two spaces per level, no box-drawing characters.  Every label is ``safe()``."""
    if plain is None:
        plain = not is_tty()
    if plain:
        out(safe(title))
        stack: list[tuple[TreeNode, int]] = [(n, 1) for n in reversed(nodes)]
        while stack:
            node, depth = stack.pop()
            out("  " * depth + safe(node.label))
            stack.extend((c, depth + 1) for c in reversed(node.children))
        return
    from rich.console import Console
    from rich.text import Text
    from rich.tree import Tree
    root = Tree(Text(safe(title)))
    todo: list[tuple[Tree, Sequence[TreeNode]]] = [(root, nodes)]
    while todo:
        parent, children = todo.pop()
        for child in children:
            todo.append((parent.add(Text(safe(child.label))), child.children))
    Console(markup=False, highlight=False, emoji=False).print(root)


# --- catalog rows --------------------------------------------------------------------------------


def sym(name: str | None, value: int) -> str:
    return name if name is not None else str(value)


def triple_text(af: int, st: int, proto: int) -> str:
    from .resolver import request_text
    return request_text(af, st, proto)


def protocol_cell(e: ProtocolEntry) -> str:
    """The PROTOCOL cell: the name under the family, the number, or ``lo..hi`` for an entry
    with iProtocolMaxOffset (RAW/IP serves ``0..255``)."""
    if e.protocol_max_offset > 0:
        return f"{e.protocol}..{e.protocol + e.protocol_max_offset}"
    return sym(ws.protocol_name(e.family, e.protocol), e.protocol)


def entry_row(pos: int | None, e: ProtocolEntry) -> list[object]:
    """One row of ``ENTRY_HEADERS``: the display name (``names.display_name``) and the DLL."""
    flags = f"{e.service_flags:#x}/{e.provider_flags:#x}"
    chain = " : ".join(str(i) for i in e.chain_ids) if e.kind == "chain" else ""
    return [pos, e.id, e.kind, display_name(e.name), sym(ws.family_name(e.family), e.family),
            sym(ws.socket_type_name(e.socket_type), e.socket_type), protocol_cell(e), chain,
            flags, e.path]


ENTRY_HEADERS = ["POS", "ID", "KIND", "NAME", "FAMILY", "TYPE", "PROTOCOL", "CHAIN",
                 "FLAGS (XP1/PFL)", "PATH"]
# The catalog table hides the DLL path first when the terminal is narrow (``show`` and
# ``stacks`` have it), then the other low-value columns.
ENTRY_DROP: tuple[str, ...] = ("PATH",) + tuple(h for h in DEFAULT_DROP if h != "PATH")


def catalog_table(cat: Catalog, title: str | None = None, *, columns: Sequence[str] | None = None,
                  plain: bool | None = None, width: int | None = None) -> None:
    table(ENTRY_HEADERS, [entry_row(i, e) for i, e in enumerate(cat.protocols, 1)], title,
          columns=columns, plain=plain, width=width, drop=ENTRY_DROP)


# --- mutation plans ------------------------------------------------------------------------------


def value_text(value: object) -> str:
    """A field value as a user writes it: yes/no, (none), [a, b], "" for an empty string;
    text escaped with ``safe()``."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if value == "":
        return '""'
    return safe(str(value))


# The mark of each change, chosen by the last word of its action: "add", "namespace-add" and
# "app-category-add" all print "+".
PLAN_MARKS = {"add": "+", "remove": "-", "update": "~", "move": ">", "reorder": ">"}
OTHER_MARK = "*"


def plan_mark(action: str) -> str:
    return PLAN_MARKS.get(action.rsplit("-", 1)[-1], OTHER_MARK)


def plan(changes: list[Change], orders: dict[str, tuple[list[int], list[int]]],
         serial: tuple[int, int], dry_run: bool,
         effects: Sequence[ResolutionChange] | None = None) -> None:
    """The human plan of a mutation: entries added/removed/changed, order before -> after, the
    serial, then the socket() calls that change.

    One line per change, ``MARK ACTION (catalog 64|32, or file) [ID] NAME``, where MARK is:

    - ``+`` add: an entry, namespace provider or application category is added;
    - ``-`` remove: one is removed;
    - ``~`` update: one changes in place;
    - ``>`` move: an entry or namespace provider changes position (also ``namespace-reorder``);
    - ``*`` any other action (none of today's operations produce one).

    Under it, ``field: before -> after`` lines (values as users write them: ``yes``/``no``,
    ``(none)``, ``[a, b]``) and the detail; per catalog whose order changed, the ids before and
    after; the serial or the dry-run notice; then ``socket() calls that change:``, one line per
    catalog and (family, type, protocol) -- protocols n..m that change alike share a line --
    with the stack before ``->`` after (``id 'name'`` top layer first, joined by ``>``), or
    ``fails with WSAE...``; ``no socket() call changes`` when none does (nothing when
    ``effects`` is None).  Names, details and values go through ``safe()``.
    """
    if not changes:
        out("no change")
    for c in changes:
        where = f"catalog {c.catalog}" if c.catalog else "file"
        ident = f" {c.id}" if c.id is not None else ""
        out(f"{plan_mark(c.action)} {safe(c.action)} ({safe(where)}){ident} "
            f"{safe(c.name)}".rstrip())
        for fieldname, before, after in c.fields:
            out(f"    {safe(fieldname)}: {value_text(before)} -> {value_text(after)}")
        if c.detail:
            out(f"    {safe(c.detail)}")
    for bitness, (before, after) in orders.items():
        if before != after:
            out(f"order (catalog {safe(bitness)}): {' '.join(map(str, before))}")
            out(f"                  -> {' '.join(map(str, after))}")
    if dry_run:
        out(f"dry run: nothing written (serial stays {serial[0]})")
    elif changes:
        out(f"serial {serial[0]} -> {serial[1]}")
    if changes and effects is not None:
        resolution_section(effects)


def stack_text(ids: Sequence[int] | None, names: Sequence[str], error: int | None) -> str:
    """``1015 'N' > 1004 'MSAFD Tcpip [TCP/IP]'``, or ``fails with WSAE... (n)``."""
    if ids is None:
        return f"fails with {ws.wsa_error_text(error)}" if error is not None else "fails"
    return " > ".join(f"{i} '{safe(display_name(n))}'" for i, n in zip(ids, names, strict=True))


def resolution_section(effects: Sequence[ResolutionChange]) -> None:
    """The end of a plan: which socket() calls resolve differently (see ``plan``)."""
    if not effects:
        out("no socket() call changes")
        return
    out("socket() calls that change:")
    runs: list[list[ResolutionChange]] = []     # protocols n, n+1, ... that change alike: one line
    for c in effects:
        last = runs[-1][-1] if runs else None
        if last is not None and (c.bitness, c.triple[:2], c.before, c.after, c.error) == (
                last.bitness, last.triple[:2], last.before, last.after, last.error) \
                and c.triple[2] == last.triple[2] + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    for run in runs:
        c, text = run[0], triple_text(*run[0].triple)
        if len(run) > 2:
            text = f"{text.rsplit(', ', 1)[0]}, {c.triple[2]}..{run[-1].triple[2]}"
        out(f"  (catalog {safe(c.bitness)}) {safe(text)}: "
            f"{stack_text(c.before, c.before_names, None)} -> "
            f"{stack_text(c.after, c.after_names, c.error)}")
