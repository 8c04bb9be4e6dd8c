"""render: terminal-injection safety, display-width tables that never split identifiers, the
plan's wording, trees; and real pseudo-terminal runs of the catalog table at 60/80/120 columns."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sporder_py import render as R
from sporder_py.errors import UsageError
from sporder_py.model import Change

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import pty_run  # noqa: E402  (helpers beside this file)
import render_pty_child as child  # noqa: E402

# One sample of every dangerous class, with its visible escape.
DANGEROUS = {
    "\x1b": "\\x1b",          # ESC (CSI / OSC introducer)
    "\x07": "\\x07",          # BEL (OSC terminator)
    "\x00": "\\x00",
    "\r": "\\r",
    "\n": "\\n",
    "\t": "\\t",
    "\x7f": "\\x7f",          # DEL
    "\x85": "\\x85",          # C1 NEL
    "\x9b": "\\x9b",          # C1 CSI
    "\x9d": "\\x9d",          # C1 OSC
    "\u061c": "\\u061c",      # bidi: Arabic letter mark
    "\u200e": "\\u200e",      # bidi: LRM
    "\u200f": "\\u200f",      # bidi: RLM
    "\u202a": "\\u202a",      # bidi: LRE
    "\u202e": "\\u202e",      # bidi: RLO
    "\u2066": "\\u2066",      # bidi: LRI
    "\u2069": "\\u2069",      # bidi: PDI
    "\u2028": "\\u2028",      # line separator
    "\u2029": "\\u2029",      # paragraph separator
    "\udc9b": "\\udc9b",      # lone surrogate (undecodable byte)
}
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
                 "\ud800-\udfff]")       # every dangerous code point but the line feed
ATTACK = "evil\x1b]0;pwned\x07\x1b[2J\rX\nY\u202eexe.txt\x9b31m\x85\u2066\u2028"


def hostile(ch: str) -> str:
    return f"a{ch}b"


def assert_clean(text: str) -> None:
    assert RAW.search(text) is None, repr(text)


# --- safe() --------------------------------------------------------------------------------------


@pytest.mark.parametrize("ch", list(DANGEROUS))
def test_safe_escapes_every_class_visibly(ch: str) -> None:
    assert R.safe(hostile(ch)) == f"a{DANGEROUS[ch]}b"


def test_safe_covers_whole_ranges() -> None:
    for cp in [*range(0x20), *range(0x7f, 0xa0), 0x61c, 0x200e, 0x200f, *range(0x2028, 0x202f),
               *range(0x2066, 0x206a), 0xd800, 0xdbff, 0xdc00, 0xdfff]:
        escaped = R.safe(chr(cp))
        assert escaped.startswith("\\") and escaped.isascii() and escaped.isprintable(), hex(cp)


def test_safe_keeps_ordinary_text_and_backslashes() -> None:
    for text in ["MSAFD Tcpip [TCP/IP]", "%SystemRoot%\\system32\\x.dll", "C:\\new\\table",
                 "微软 Tcpip [TCP/IP]", "Ünïcødé — “quotes” …", "", "\\x1b literally"]:
        assert R.safe(text) == text


def test_safe_is_one_way_for_display() -> None:
    # documented: a literal backslash-x-1-b and a real ESC look alike; --json tells them apart
    assert R.safe("\\x1b") == R.safe("\x1b")


# --- out(), err() --------------------------------------------------------------------------------


def test_out_escapes_everything_but_the_line_feed(capsys: pytest.CaptureFixture[str]) -> None:
    R.out("one\ntwo" + "".join(c for c in DANGEROUS if c != "\n"))
    text = capsys.readouterr().out
    assert text.startswith("one\ntwo\\x1b\\x07\\x00\\r\\t\\x7f\\x85")
    assert text.count("\n") == 2
    assert_clean(text)


def test_err_and_warn_escape(capsys: pytest.CaptureFixture[str]) -> None:
    R.warn(ATTACK)
    text = capsys.readouterr().err
    assert text.startswith("sporder: warning: evil\\x1b]0;pwned\\x07")
    assert_clean(text)


def test_out_of_ordinary_text_is_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    R.out("MSAFD Tcpip [TCP/IP]  %SystemRoot%\\system32\\mswsock.dll\t".rstrip())
    assert capsys.readouterr().out == "MSAFD Tcpip [TCP/IP]  %SystemRoot%\\system32\\mswsock.dll\n"


# --- the JSON envelope ---------------------------------------------------------------------------


def test_envelope_round_trips_and_carries_no_raw_dangerous_code_point() -> None:
    every = "".join(DANGEROUS) + "".join(map(chr, range(0x80, 0xa0))) + "\\ 中 \u2069"
    data = {"name": every, every: [every, {"path": "%SystemRoot%\\x.dll"}]}
    text = R.envelope("list", data, {"code": "x", "message": every})
    assert RAW.search(text) is None
    assert "\u202e" not in text and "\\u202e" in text and "\\u0085" in text and "中" in text
    doc = json.loads(text)
    assert doc["data"] == data and doc["error"]["message"] == every


def test_envelope_of_ordinary_text_is_plain_json_dumps() -> None:
    """Indented for a terminal (pretty), one compact line for a pipe; the same JSON."""
    data = {"name": "微软 [TCP/IP]", "path": "%SystemRoot%\\system32\\mswsock.dll", "n": [1, 2]}
    doc = {"schema": 1, "command": "list", "ok": True, "data": data}
    assert R.envelope("list", data, pretty=True) == json.dumps(doc, indent=2, ensure_ascii=False)
    assert R.envelope("list", data, pretty=False) == json.dumps(doc, ensure_ascii=False,
                                                                separators=(",", ":"))
    assert R.envelope("list", data) == R.envelope("list", data, pretty=False)   # not a tty


# --- display width -------------------------------------------------------------------------------


def test_display_width() -> None:
    assert R.display_width("AF_INET6") == 8
    assert R.display_width("微软") == 4
    assert R.display_width("ｱ") == 1 and R.display_width("Ａ") == 2      # half / full width
    assert R.display_width("e\u0301") == 1                                 # combining accent
    assert R.pad("微软", 6) == "微软  " and R.pad("ab", 6) == "ab    "


def test_fold_and_truncate() -> None:
    assert R.fold("MSAFD Tcpip [TCP/IPv6]", 12) == ["MSAFD Tcpip", "[TCP/IPv6]"]
    assert R.fold("short", 12) == ["short"]
    assert R.fold("%SystemRoot%\\system32\\mswsock.dll", 22) == [
        "%SystemRoot%\\system32\\", "mswsock.dll"]
    lines = R.fold("Q" * 255, 20)
    assert lines == ["Q" * 20, "Q" * 19 + "…"]
    lines = R.fold("微" * 30, 9)
    assert len(lines) == 2 and all(R.display_width(x) <= 9 for x in lines)
    assert lines[-1].endswith("…")
    assert R.truncate("BTHPROTO_RFCOMM", 8) == "BTHPROT…" and R.truncate("abc", 3) == "abc"


# --- table(): escaping, plain format, columns ----------------------------------------------------


def old_plain_table(headers: list[str], rows: list[list[object]], title: str | None) -> str:
    """render.table's piped format before this change (the format scripts depend on)."""
    out = []
    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    if title:
        out.append(title)
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    for row in [list(headers)] + cells:
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(out) + "\n"


def test_plain_table_is_unchanged_for_ascii(capsys: pytest.CaptureFixture[str]) -> None:
    rows = child.entry_rows()
    R.table(R.ENTRY_HEADERS, rows, "Winsock catalog (64-bit)")
    assert capsys.readouterr().out == old_plain_table(R.ENTRY_HEADERS, rows,
                                                      "Winsock catalog (64-bit)")
    ns = child.namespace_rows()
    R.table(child.NAMESPACE_HEADERS, ns)
    assert capsys.readouterr().out == old_plain_table(child.NAMESPACE_HEADERS, ns, None)


@pytest.mark.parametrize("plain", [True, False])
def test_table_escapes_cells_and_title(capsys: pytest.CaptureFixture[str], plain: bool) -> None:
    rows = [[i, hostile(ch), "AF_INET", f"C:\\{ch}x.dll"] for i, ch in enumerate(DANGEROUS, 1)]
    R.table(["ID", "NAME", "FAMILY", "PATH"], rows, f"title {ATTACK}", plain=plain, width=200)
    text = capsys.readouterr().out
    assert_clean(text)
    for esc in DANGEROUS.values():
        assert f"a{esc}b" in text
        assert f"C:\\{esc}x.dll" in text
    squeezed = re.sub(r"\s", "", text)                  # rich wraps a title to the table
    assert "titleevil\\x1b]0;pwned\\x07\\x1b[2J\\rX\\nY\\u202eexe.txt" in squeezed
    lines = text.splitlines()
    body = [x for x in lines if "AF_INET" in x]
    assert len(body) == len(rows)          # an escaped LF never starts a line


def test_plain_table_pads_by_display_width(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [[1, "微软 Tcpip [TCP/IP]", "AF_INET"], [2, "MSAFD Tcpip [TCP/IP]", "AF_INET6"],
            [3, "中文名称中文名称中文名称", "AF_BTH"]]
    R.table(["ID", "NAME", "FAMILY"], rows, plain=True)
    lines = capsys.readouterr().out.splitlines()
    cols = {R.display_width(line[:line.index("AF_") if "AF_" in line else line.index("FAMILY")])
            for line in lines}
    assert len(cols) == 1, lines           # FAMILY starts at one display column in every line
    assert lines[3] == "3   中文名称中文名称中文名称  AF_BTH"


def test_columns_select_and_order_case_insensitively(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(R, "is_tty", lambda: True)          # plain=True wins over a terminal
    R.table(R.ENTRY_HEADERS, child.entry_rows()[:2], columns=["name", "Id", "ID"], plain=True)
    assert capsys.readouterr().out.splitlines() == [
        "NAME                    ID", "MSAFD Tcpip [TCP/IPv6]  1001",
        "MSAFD Tcpip [UDP/IPv6]  1002"]


def test_no_column_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        R.table(R.ENTRY_HEADERS, [], columns=[])


def test_unknown_column_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as exc:
        R.table(R.ENTRY_HEADERS, [], columns=["id", "colour"])
    msg = exc.value.message
    assert "'colour'" in msg and "POS, ID, KIND, NAME" in msg and msg.count(".") <= 2
    assert exc.value.exit_code == 2


def test_rich_is_not_imported_for_piped_output() -> None:
    code = ("import sys; from sporder_py import render as R; "
            "R.table(['A'], [['x']], 'T'); R.tree('t', [R.TreeNode('a')]); "
            "R.plan([], {}, (1, 1), True); "
            "sys.exit(1 if any(m == 'rich' or m.startswith('rich.') for m in sys.modules) else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["T", "A", "x", "t", "  a", "no change",
                                        "dry run: nothing written (serial stays 1)"]


# --- layout() ------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [60, 80, 100, 120, 160, 300, 400])
def test_layout_fits_and_keeps_identifiers_whole(width: int) -> None:
    rows = [[R.safe(str(c)) if c is not None else "" for c in r] for r in child.entry_rows()]
    fit = R.layout(R.ENTRY_HEADERS, rows, width, drop=R.ENTRY_DROP)
    assert sum(fit.widths) + 3 * len(fit.columns) + 1 <= width
    kept = [R.ENTRY_HEADERS[i] for i in fit.columns]
    assert {"ID", "NAME", "FAMILY", "PROTOCOL"} <= set(kept)
    for i, w in zip(fit.columns, fit.widths, strict=True):
        if R.ENTRY_HEADERS[i] not in ("NAME", "PATH"):      # text columns fold
            assert w >= max(len(r[i]) for r in rows), R.ENTRY_HEADERS[i]
    assert set(fit.hidden) == set(R.ENTRY_HEADERS) - set(kept)
    if width >= 400:
        assert fit.hidden == ()
    elif width >= 300:
        assert fit.hidden == ("CHAIN",)         # empty in windows-11: hidden first


def test_layout_too_narrow_for_the_identifiers_cuts_them_on_one_line() -> None:
    rows = [[R.safe(str(c)) if c is not None else "" for c in r] for r in child.entry_rows()]
    fit = R.layout(R.ENTRY_HEADERS, rows, 40, drop=R.ENTRY_DROP)
    assert sum(fit.widths) + 3 * len(fit.columns) + 1 <= 40
    assert [R.ENTRY_HEADERS[i] for i in fit.columns] == ["ID", "NAME", "FAMILY", "PROTOCOL"]


def test_layout_with_chosen_columns_drops_nothing() -> None:
    rows = [["{E70F1AA0-AB8B-11CF-8CA3-00805F48A192}", "x" * 50, "BTHPROTO_RFCOMM"]]
    fit = R.layout(["PROVIDER ID", "NAME", "PROTOCOL"], rows, 40, can_drop=False)
    assert fit.columns == (0, 1, 2) and fit.hidden == ()


# --- plan() --------------------------------------------------------------------------------------


def test_plan_words_and_marks(capsys: pytest.CaptureFixture[str]) -> None:
    changes = [
        Change("add", "64", 1015, "Contoso LSP"),
        Change("remove", "32", 1016, "Old LSP", detail="Removed because its chain is broken."),
        Change("update", "64", 1001, "MSAFD Tcpip [TCP/IP]",
               (("path", "a.dll", "b.dll"), ("chain", [1, 2], [3]))),
        Change("move", "64", 1004, "MSAFD Tcpip [TCP/IP]", (("position", 4, 1),)),
        Change("namespace-update", "64", None, "Tcpip", (("enabled", True, False),),
               "{22059D40-7E9E-11CF-AE5A-00AA00A7112B}"),
        Change("namespace-add", "64", None, "NTDS"),
        Change("namespace-remove", "64", None, "NTDS"),
        Change("namespace-move", "64", None, "NTDS", (("position", 1, 2),)),
        Change("namespace-reorder", "64", None, "", (("order", ["{A}", "{B}"], ["{B}", "{A}"]),)),
        Change("app-category-add", "", None, "C:\\app.exe", (("categories", None, 2),)),
        Change("app-category-remove", "", None, "C:\\app.exe", (("args", "", None),)),
        Change("frobnicate", "", None, "next_entry_id"),
    ]
    R.plan(changes, {"64": ([1, 2], [2, 1]), "32": ([5], [5])}, (3, 4), False)
    assert capsys.readouterr().out.splitlines() == [
        "+ add (catalog 64) 1015 Contoso LSP",
        "- remove (catalog 32) 1016 Old LSP",
        "    Removed because its chain is broken.",
        "~ update (catalog 64) 1001 MSAFD Tcpip [TCP/IP]",
        "    path: a.dll -> b.dll",
        "    chain: [1, 2] -> [3]",
        "> move (catalog 64) 1004 MSAFD Tcpip [TCP/IP]",
        "    position: 4 -> 1",
        "~ namespace-update (catalog 64) Tcpip",
        "    enabled: yes -> no",
        "    {22059D40-7E9E-11CF-AE5A-00AA00A7112B}",
        "+ namespace-add (catalog 64) NTDS",
        "- namespace-remove (catalog 64) NTDS",
        "> namespace-move (catalog 64) NTDS",
        "    position: 1 -> 2",
        "> namespace-reorder (catalog 64)",
        "    order: [{A}, {B}] -> [{B}, {A}]",
        "+ app-category-add (file) C:\\app.exe",
        "    categories: (none) -> 2",
        "- app-category-remove (file) C:\\app.exe",
        '    args: "" -> (none)',
        "* frobnicate (file) next_entry_id",
        "order (catalog 64): 1 2",
        "                  -> 2 1",
        "serial 3 -> 4",
    ]


def test_plan_escapes_names_details_and_values(capsys: pytest.CaptureFixture[str]) -> None:
    changes = [Change("update", "64", 1001, ATTACK, (("path", ATTACK, [ATTACK, None]),),
                      detail=ATTACK)]
    R.plan(changes, {}, (1, 1), True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert_clean("\n".join(lines))
    esc = R.safe(ATTACK)
    assert lines[0] == f"~ update (catalog 64) 1001 {esc}"
    assert lines[1] == f"    path: {esc} -> [{esc}, (none)]"
    assert lines[2] == f"    {esc}"


@pytest.mark.parametrize("ch", list(DANGEROUS))
def test_plan_escapes_each_class(capsys: pytest.CaptureFixture[str], ch: str) -> None:
    R.plan([Change("add", "64", 1, hostile(ch), detail=hostile(ch))], {}, (1, 2), False)
    text = capsys.readouterr().out
    assert_clean(text)
    assert text.count(f"a{DANGEROUS[ch]}b") == 2 and len(text.splitlines()) == 3


# --- tree() --------------------------------------------------------------------------------------

STACK = [R.TreeNode("socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)", (
    R.TreeNode("1015 Contoso LSP", (R.TreeNode("1004 MSAFD Tcpip [TCP/IP]"),)),
    R.TreeNode(f"1016 {ATTACK}"))), R.TreeNode("socket(AF_INET6, SOCK_DGRAM, 0)")]


def test_tree_plain(capsys: pytest.CaptureFixture[str]) -> None:
    R.tree(f"stacks {ATTACK}", STACK)
    lines = capsys.readouterr().out.splitlines()
    esc = R.safe(ATTACK)
    assert lines == [f"stacks {esc}",
                     "  socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)",
                     "    1015 Contoso LSP",
                     "      1004 MSAFD Tcpip [TCP/IP]",
                     f"    1016 {esc}",
                     "  socket(AF_INET6, SOCK_DGRAM, 0)"]
    assert not any(ch in "".join(lines) for ch in "─│├└┃━")


@pytest.mark.parametrize("ch", list(DANGEROUS))
def test_tree_escapes_each_class(capsys: pytest.CaptureFixture[str], ch: str) -> None:
    for plain in (True, False):
        R.tree(hostile(ch), [R.TreeNode(hostile(ch), (R.TreeNode(hostile(ch)),))], plain=plain)
        text = capsys.readouterr().out
        assert_clean(text)
        assert text.count(f"a{DANGEROUS[ch]}b") == 3 and len(text.splitlines()) == 3


def test_tree_rich(capsys: pytest.CaptureFixture[str]) -> None:
    R.tree("stacks", STACK, plain=False)
    text = capsys.readouterr().out
    assert "└── 1004 MSAFD Tcpip [TCP/IP]" in text
    assert_clean(text)


# --- real pseudo-terminal runs -------------------------------------------------------------------

def run_in_pty(columns: int, lines: int = 50) -> str:
    """Run the child on a pseudo-terminal of ``columns`` x ``lines``; its output, ANSI removed."""
    return pty_run.run_in_pty([sys.executable, str(HERE / "render_pty_child.py")], columns, lines)


def parse_table(block: list[str]) -> tuple[list[str], list[list[list[str]]], list[str]]:
    """A rich table's lines -> headers, rows (each a list of cells, each a list of lines) and
    the lines outside the box (title, caption)."""
    head_lines = [x for x in block if x.startswith("┃")]
    body_lines = [x for x in block if x.startswith("│")]
    other = [x for x in block if x and x[0] not in "┃│┏┡└"]
    split_head = [[c.strip() for c in x.strip()[1:-1].split("┃")] for x in head_lines]
    headers = [" ".join(p for p in parts if p) for parts in zip(*split_head, strict=True)]
    rows: list[list[list[str]]] = []
    for line in body_lines:
        cells = [c.strip() for c in line.strip()[1:-1].split("│")]
        assert len(cells) == len(headers), line
        if cells[headers.index("ID" if "ID" in headers else "PROVIDER ID")]:
            rows.append([[c] for c in cells])
        else:
            for kept, c in zip(rows[-1], cells, strict=True):
                kept.append(c)
    for row in rows:
        for cell in row:
            while len(cell) > 1 and cell[-1] == "":
                cell.pop()
    return headers, rows, other


def check_table(block: list[str], headers_all: list[str], expected: list[list[object]],
                long_name: str, columns: int, must_show: set[str]) -> list[str]:
    """Every line fits the terminal; identifier cells are whole on their row's first line; text
    cells take 1-2 lines; the long-name row takes at most 2 lines.  The headers hidden."""
    for line in block:
        assert R.display_width(line) <= columns, line
    headers, rows, other = parse_table(block)
    assert must_show <= set(headers), headers
    assert len(rows) == len(expected)
    hidden = [h for h in headers_all if h not in headers]
    if hidden:
        assert any("not shown at this width" in x for x in other)
    for want, got in zip(expected, rows, strict=True):
        for h, cell in zip(headers, got, strict=True):
            value = "" if want[headers_all.index(h)] is None else str(want[headers_all.index(h)])
            if h in ("NAME", "PATH"):
                assert 1 <= len(cell) <= 2, cell
                shown = " ".join(cell)
                if len(cell) == 1 and "…" not in shown:
                    assert shown == value
            else:                        # an identifier: whole, on the row's first line
                assert cell == [value] if value else cell == [""], (h, cell, value)
    long_rows = [r for r in rows if r[headers.index("NAME")][0].startswith(long_name[:8])]
    assert len(long_rows) == 1 and len(long_rows[0][headers.index("NAME")]) <= 2
    assert sum(1 for x in block if long_name[-1] * 4 in x) <= 2
    return hidden


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_catalog_table_on_a_real_terminal(columns: int) -> None:
    text = run_in_pty(columns)
    lines = text.split("\n")
    a, b, c = (lines.index(child.ENTRIES_MARK), lines.index(child.NAMESPACES_MARK),
               lines.index(child.END_MARK))
    entries, namespaces = lines[a + 1:b], lines[b + 1:c]
    assert any(x.startswith("┏") for x in entries)            # the rich table, not plain text
    tokens = ["AF_INET6", "SOCK_STREAM", "IPPROTO_TCP", "0x20066/0x8", "BTHPROTO_RFCOMM",
              "HV_PROTOCOL_RAW"]
    flat = "\n".join(entries)
    hidden = check_table(entries, R.ENTRY_HEADERS, child.entry_rows(), child.LONG_NAME,
                         columns, {"ID", "NAME", "FAMILY", "PROTOCOL"})
    for token in tokens:
        if token.startswith("SOCK_") and "TYPE" in hidden or token.startswith("0x") and \
                "FLAGS (XP1/PFL)" in hidden:
            continue
        assert re.search(rf"│ {re.escape(token)} +│", flat), token
    hidden_ns = check_table(namespaces, child.NAMESPACE_HEADERS, child.namespace_rows(),
                            child.LONG_NS_NAME, columns, {"PROVIDER ID", "NAME"})
    for row in child.namespace_rows():
        assert f"│ {row[1]} │" in "\n".join(namespaces)           # every GUID whole
    if columns >= 120:
        assert hidden == [] or hidden == ["CHAIN"]               # CHAIN is empty in windows-11
        assert "0x20066/0x8" in flat and hidden_ns == []
    if columns == 80:
        assert {"TYPE", "PROTOCOL"} <= set(R.ENTRY_HEADERS) - set(hidden)
