"""``sporder report``: a Markdown summary of a catalog to paste into a bug tracker (issue 15).

The document, in order: a title and what was read; Windows version hints read from the catalog;
the LSPs (each with its DLLs, IFS or not, categories, what it layers over) and the base
providers sporder does not know as Microsoft's; the stacks ``socket()`` gets for TCP and UDP
over IPv4 and IPv6 in each catalog (``stacks.COMMON_CALLS``), as a list and as a Mermaid
flowchart (GitHub renders it); doctor's findings; and the whole catalog as
``netsh winsock show catalog`` text (``formats.netsh.render_netsh``) in a fenced block inside a
collapsed ``<details>`` element, which ``sporder import`` reads back (the netsh reader takes the
fenced block that holds the first netsh block of a Markdown document).

Text from the catalog is untrusted: names and paths are printed in code spans (backticks cannot
end them early: the fence is longer than any run inside; ``|`` is escaped in table cells),
other text is backslash-escaped, Mermaid labels use entity codes (``#35;``) for everything but
letters, digits and a few safe characters, and control characters are shown as ``\\uXXXX``, so a
name can neither break the document's structure nor inject HTML.  Pure: no click, no rich, no
I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from . import winsock as ws
from .errors import OperationRefused
from .formats.netsh import render_netsh
from .integrity import Finding, check
from .known import id_ranges, known_provider
from .lspmap import lsp_map
from .model import CatalogFile, ProtocolEntry
from .names import display_name
from .stacks import COMMON_CALLS, CatalogStacks, Stack, file_stacks

NETSH_SUMMARY = ("The whole catalog as <code>netsh winsock show catalog</code> prints it "
                 "(<code>sporder import</code> reads this report back)")

# --- escaping ----------------------------------------------------------------------------------


def visible(text: str) -> str:
    """``text`` with every non-printable code point (controls, line breaks, bidi and format
    characters, lone surrogates) written as ``\\xHH``/``\\uXXXX``: one line, no hidden text."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else
                   (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
                   for ch in text)


def code(text: str, *, cell: bool = False) -> str:
    """An inline code span holding ``text`` exactly (``cell``: inside a table row)."""
    t = visible(text)
    longest = max((len(m) for m in re.findall(r"`+", t)), default=0)
    fence = "`" * (longest + 1)
    if t.startswith("`") or t.endswith("`") or (t.startswith(" ") and t.endswith(" ") and
                                                t.strip()):
        t = f" {t} "
    if cell:
        t = t.replace("|", "\\|")
    return f"{fence}{t}{fence}" if t else "(empty)"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~])")
_MD_LEADING = re.compile(r"^(\d+(?=[.)])|)([#+=>.)-])")


def text(value: str) -> str:
    """Prose that may hold catalog text, escaped so that Markdown and HTML read it literally:
    the characters that start inline markup, links or HTML anywhere, and a block marker at the
    start."""
    out = _MD_SPECIAL.sub(r"\\\1", visible(value))
    return _MD_LEADING.sub(r"\1\\\2", out)


_MERMAID_SAFE = re.compile(r"[A-Za-z0-9 ,.:/_-]")


def mermaid_label(value: str) -> str:
    """A Mermaid node label: everything but letters, digits and `` ,.:/_-`` as ``#N;``."""
    return "".join(ch if _MERMAID_SAFE.fullmatch(ch) else f"#{ord(ch)};" for ch in value)


def basename(path: str) -> str:
    return re.split(r"[\\/]", path)[-1] or path


# --- what the catalog says about the Windows it came from --------------------------------------


def _first(f: CatalogFile, test: Callable[[ProtocolEntry], bool]) -> ProtocolEntry | None:
    for b in f.bitnesses:
        for e in f.catalogs[b].protocols:
            if e.kind == "base" and test(e):
                return e
    return None


def version_hints(f: CatalogFile) -> list[str]:
    """Facts of the catalog and what they suggest about the Windows it was read from
    (default-catalogs.md: which providers exist in which versions).  Hints, not proof: a
    provider can be installed or removed later."""
    out: list[str] = []
    af = ws.ADDRESS_FAMILIES
    if set(f.bitnesses) == {"64", "32"}:
        out.append("two catalogs (native and WOW64 32-bit): 64-bit Windows")
    elif f.bitnesses == ["32"]:
        out.append("one 32-bit catalog: 32-bit Windows")
    else:
        out.append("one catalog only: a 32-bit Windows, or a listing of one catalog")
    checks: list[tuple[Callable[[ProtocolEntry], bool], str]] = [
        (lambda e: e.family == af["AF_UNIX"], "an AF_UNIX provider (id {id}): Windows 10 1803 "
                                              "or later"),
        (lambda e: e.family == af["AF_HYPERV"], "a Hyper-V RAW provider (id {id}): Windows 10 "
                                                "or later"),
        (lambda e: e.family == af["AF_BTH"] and e.protocol == ws.BTH_PROTOCOLS["BTHPROTO_L2CAP"],
         "a Bluetooth L2CAP provider (id {id}): a recent Windows 10, or Windows 11"),
        (lambda e: e.family == af["AF_IRDA"], "an IrDA provider (id {id}): an older Windows, or "
                                              "one upgraded from it"),
        (lambda e: e.family == af["AF_NETBIOS"], "NetBIOS providers (id {id}, ...): Windows 7 "
                                                 "or earlier"),
        (lambda e: "rsvpsp.dll" in e.path.lower(), "RSVP served by rsvpsp.dll (id {id}): "
                                                   "Windows XP"),
        (lambda e: re.search(r"(wshtcpip|wship6)\.dll,-\d+$", e.name, re.I) is not None,
         "provider names stored as wshtcpip.dll/wship6.dll resources (id {id}): Windows 7 era"),
        (lambda e: re.search(r"mswsock\.dll,-\d+$", e.name, re.I) is not None,
         "provider names stored as mswsock.dll resources (id {id}): Windows 8 or later"),
    ]
    for test, sentence in checks:
        e = _first(f, test)
        if e is not None:
            out.append(sentence.format(id=e.id))
    first = next((e for e in f.catalogs[f.native].protocols if e.kind == "base"), None)
    if first is not None:
        if first.family == af["AF_INET6"]:
            out.append(f"the first base provider of the native catalog is "
                       f"{display_name(first.name)} (id {first.id}): IPv6 first, the order of "
                       "Windows 11")
        elif first.family == af["AF_INET"]:
            out.append(f"the first base provider of the native catalog is "
                       f"{display_name(first.name)} (id {first.id}): IPv4 first, the order of "
                       "Windows 10 and earlier")
    for b in f.bitnesses:
        ids = f.catalogs[b].ids
        if ids:
            out.append(f"{b}-bit catalog: {len(ids)} entries, ids {id_ranges(ids)}")
    out.append(f"next catalog entry id {f.next_entry_id} (each install takes new ids; a clean "
               "Windows 10 or 11 is near 1015)")
    return out


# --- LSPs and unknown providers ------------------------------------------------------------------


def lsp_rows(f: CatalogFile) -> list[list[str]]:
    """One row per LSP per catalog: name, catalog, hidden id, DLLs, IFS, categories, over."""
    rows: list[list[str]] = []
    for b in f.bitnesses:
        cat = f.catalogs[b]
        for lsp in lsp_map(cat):
            entries = ([lsp.hidden] if lsp.hidden else []) + list(lsp.chains)
            paths = list(dict.fromkeys(e.path for e in entries))
            over = []
            for c in lsp.chains:
                base = cat.get(c.chain[-1]) if c.chain else None
                over.append(f"{c.id} over " + (code(display_name(base.name), cell=True)
                                               if base else f"missing {c.chain[-1]}"))
            h = lsp.hidden
            rows.append([
                code(lsp.name, cell=True), b, str(lsp.id) if lsp.id is not None else "-",
                "<br>".join(code(p, cell=True) for p in paths),
                "-" if h is None else ("yes" if h.is_ifs else "no"),
                "-" if h is None or not h.lsp_categories else
                ws.format_flags(h.lsp_categories, ws.LSP_CATEGORIES).replace("|", ", "),
                "<br>".join(over) or "(no chain)"])
    return rows


def unknown_bases(f: CatalogFile) -> list[tuple[str, ProtocolEntry]]:
    """Base providers that match no Microsoft provider sporder knows (by GUID, triple, DLL)."""
    return [(b, e) for b in f.bitnesses for e in f.catalogs[b].protocols
            if e.kind == "base" and known_provider(e) is None]


# --- the document ------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def _stack_lines(s: Stack | None, error: str) -> list[str]:
    if s is None:
        return [f"  fails with {error}"]
    out = []
    for n, layer in enumerate(s.layers, 1):
        if layer.entry is None:
            out.append(f"  {n}. id {layer.id}: missing (no entry has this id; the call fails "
                       "with WSAEPROVIDERFAILEDINIT)")
            continue
        where = f"{code(layer.path)}, " if layer.entry is not None and layer.path else ""
        out.append(f"  {n}. {code(layer.name)} (id {layer.id}): {where}{layer.facts()}")
    return out


def _error_for(cat_stacks: CatalogStacks, f: CatalogFile, triple: tuple[int, int, int]) -> str:
    from .resolver import resolve
    res = resolve(f.catalogs[cat_stacks.bitness], *triple)
    return ws.wsa_error_text(res.error) if res.error is not None else "an error"


def _common_section(f: CatalogFile, views: list[CatalogStacks]) -> list[str]:
    out = ["## socket() stacks for TCP and UDP", "",
           "Each call's providers from the top layer down to the base provider (Windows "
           "loads the first one's DLL).", ""]
    groups = _groups(views)
    for title, view in groups:
        out += [f"### {title}", ""]
        for label, triple in COMMON_CALLS:
            s = view.stack_for(triple)
            req = ", ".join((ws.family_name(triple[0]) or "", ws.socket_type_name(triple[1]) or "",
                             ws.protocol_name(triple[0], triple[2]) or str(triple[2])))
            head = f"- **{label}** `socket({req})`"
            head += f" gets entry {s.entry.id}:" if s is not None else ":"
            out.append(head)
            out += _stack_lines(s, _error_for(view, f, triple))
        out.append("")
    return out


def _groups(views: list[CatalogStacks]) -> list[tuple[str, CatalogStacks]]:
    if len(views) == 2 and views[0].same_as(views[1]):
        return [(f"{views[0].bitness}-bit and {views[1].bitness}-bit catalogs (the same stacks)",
                 views[0])]
    return [(f"{v.bitness}-bit catalog", v) for v in views]


def mermaid(views: list[CatalogStacks]) -> list[str]:
    """A flowchart: each common call -> its layers, top to base; layers shared between calls
    are one node, so an LSP over TCP and UDP shows as one box with two ways down."""
    out = ["```mermaid", "flowchart LR"]
    for title, view in _groups(views):
        g = f"c{view.bitness}"
        out.append(f'  subgraph {g}["{mermaid_label(title)}"]')
        out.append("    direction LR")
        declared: set[str] = set()
        edges: list[str] = []
        for n, (label, triple) in enumerate(COMMON_CALLS):
            call = f"{g}_call{n}"
            out.append(f'    {call}(["{mermaid_label(label)}"])')
            s = view.stack_for(triple)
            if s is None:
                fail = f"{g}_fail{n}"
                out.append(f'    {fail}["fails"]')
                edges.append(f"    {call} --> {fail}")
                continue
            prev = call
            for layer in s.layers:
                node = (f"{g}_e{layer.entry.id}" if layer.entry is not None
                        else f"{g}_missing{layer.id}")
                if node not in declared:
                    declared.add(node)
                    what = ("no entry has this id" if layer.entry is None else
                            f"id {layer.entry.id}, {basename(layer.path)}, {layer.facts()}")
                    name = f"missing id {layer.id}" if layer.entry is None else layer.name
                    out.append(f'    {node}["{mermaid_label(name)}<br/>'
                               f'{mermaid_label(what)}"]')
                edge = f"    {prev} --> {node}"
                if edge not in edges:
                    edges.append(edge)
                prev = node
        out += edges
        out.append("  end")
    out.append("```")
    return out


def _findings_section(findings: list[Finding]) -> list[str]:
    out = ["## doctor", ""]
    if not findings:
        return out + ["No findings: the catalog is healthy.", ""]
    errors = sum(1 for x in findings if x.severity == "error")
    out += [f"{errors} error(s), {len(findings) - errors} warning(s).", ""]
    out += _table(["Severity", "Code", "Catalog", "Id", "Finding"],
                  [[x.severity, x.code, x.catalog, "" if x.id is None else str(x.id),
                    text(x.message)] for x in findings])
    return out + [""]


def _netsh_section(f: CatalogFile) -> list[str]:
    out = ["<details>", f"<summary>{NETSH_SUMMARY}</summary>", ""]
    try:
        listing = render_netsh(f)
    except OperationRefused as exc:
        return out + [text(f"Not included: {exc.message} Attach the output of "
                           "'sporder export --format toml' instead."), "", "</details>"]
    return out + ["```text", listing.rstrip("\n"), "```", "", "</details>"]


def build(f: CatalogFile, source: str, version: str = "", *,
          views: list[CatalogStacks] | None = None, findings: list[Finding] | None = None) -> str:
    """The report of ``f`` read from ``source`` by sporder ``version`` (see the module
    docstring); ``views`` and ``findings`` are computed when not given."""
    views = file_stacks(f) if views is None else views
    findings = check(f) if findings is None else findings
    lsps = lsp_rows(f)
    names = sorted({lsp.name for b in f.bitnesses for lsp in lsp_map(f.catalogs[b])
                    if not lsp.is_orphans})
    unknown = unknown_bases(f)
    errors = sum(1 for x in findings if x.severity == "error")
    lines = ["# Winsock catalog report", "",
             f"Made by sporder{' ' + version if version else ''} from {code(source)} (serial "
             f"{f.serial}"
             + (f", {code(f.description)}" if f.description else "") + ").", "",
             "## Summary", "",
             "- catalogs: " + ", ".join(f"{b}-bit ({len(f.catalogs[b].protocols)} entries)"
                                        for b in f.bitnesses),
             f"- layered service providers (LSPs): {len(names)}"
             + (": " + ", ".join(code(n) for n in names) if names else ""),
             f"- base providers sporder does not know as Microsoft's: {len(unknown)}",
             f"- doctor: {errors} error(s), {len(findings) - errors} warning(s)", "",
             "## Windows version hints", "",
             *[f"- {text(h)}" for h in version_hints(f)], "",
             "## Layered service providers", ""]
    if lsps:
        lines += _table(["LSP", "Catalog", "Hidden id", "DLL", "IFS", "Categories",
                         "Chains"], lsps)
    else:
        lines.append("None: no LSP is installed.")
    lines += ["", "## Other providers", ""]
    if unknown:
        lines += _table(["Catalog", "Id", "Name", "DLL", "Family, type, protocol"],
                        [[b, str(e.id), code(display_name(e.name), cell=True),
                          code(e.path, cell=True),
                          text(", ".join((ws.family_name(e.family) or str(e.family),
                                          ws.socket_type_name(e.socket_type)
                                          or str(e.socket_type), str(e.protocol))))]
                         for b, e in unknown])
    else:
        lines.append("Every base provider is a known Microsoft provider.")
    lines += [""] + _common_section(f, views)
    lines += ["### Flowchart", ""] + mermaid(views) + [""]
    lines += _findings_section(findings)
    lines += ["## Catalog", ""] + _netsh_section(f)
    return "\n".join(lines) + "\n"


def report_json(f: CatalogFile, source: str, version: str = "") -> dict[str, object]:
    """``report --json``: the Markdown and the facts it was built from."""
    views, findings = file_stacks(f), check(f)
    return {"markdown": build(f, source, version, views=views, findings=findings),
            "source": source,
            "serial": f.serial, "hints": version_hints(f),
            "catalogs": [v.to_json() for v in views],
            "findings": [x.to_json() for x in findings]}
