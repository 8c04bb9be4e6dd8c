"""`sporder list` (the real CLI, in a subprocess) on a real pseudo-terminal of 60, 80 and 120
columns, on a catalog holding an LSP with a 255-character name (issue 15, item 3): every line
fits the terminal, no identifier is split across lines, and the long-name entries take at most
2 lines each.  The harness (pty, ANSI stripping, parsing rich's box) is test_render's."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from pty_run import run_in_pty
from test_render import parse_table

from conftest import CATALOGS, sporder_cmd
from sporder_py import render as R
from sporder_py.formats import catalog_toml

LONG_NAME = "Contoso Packet Inspector " + "Q" * 230          # 255 characters
IDENTIFIERS = ("ID", "FAMILY", "TYPE", "PROTOCOL", "CHAIN", "FLAGS (XP1/PFL)", "POS", "KIND")


@pytest.fixture(scope="module")
def long_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("pty") / "c.toml"
    shutil.copy(CATALOGS / "windows-11.toml", p)
    subprocess.run([*sporder_cmd(), "--catalog", str(p), "--bitness", "64", "install-lsp",
                    "--name", LONG_NAME, "--path",
                    r"C:\Program Files\Contoso Packet Inspector\x64\contoso_inspector.dll",
                    "--over", "1004", "--over", "1005", "--categories", "LSP_INSPECTOR"],
                   check=True, capture_output=True)
    return p


def run_list_in_pty(catalog: Path, columns: int, lines: int = 60) -> str:
    """``sporder --catalog CATALOG --bitness 64 list`` on a pseudo-terminal; ANSI removed."""
    return run_in_pty([*sporder_cmd(), "--catalog", str(catalog), "--bitness", "64", "list"],
                      columns, lines)


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_list_on_a_real_terminal(long_catalog: Path, columns: int) -> None:
    text = run_list_in_pty(long_catalog, columns)
    block = [x for x in text.split("\n") if x.strip()]
    assert any(x.startswith("┏") for x in block), text            # rich's table, not plain text
    for line in block:
        assert R.display_width(line) <= columns, line
    headers, rows, other = parse_table(block)
    assert {"ID", "NAME", "FAMILY", "PROTOCOL"} <= set(headers)
    f = catalog_toml.loads(long_catalog.read_text(encoding="utf-8"), "c")[0]
    cat = f.catalog("64")
    expected = [R.entry_row(i, e) for i, e in enumerate(cat.protocols, 1)]
    assert len(rows) == len(expected)
    hidden = [h for h in R.ENTRY_HEADERS if h not in headers]
    if hidden:
        caption = " ".join(x.strip() for x in other if x.strip()).split(
            "not shown at this width:", 1)[1]
        assert caption.split(",")[0].strip() == "PATH"          # the DLL path goes first
    for want, got in zip(expected, rows, strict=True):
        for h, cell in zip(headers, got, strict=True):
            value = "" if want[R.ENTRY_HEADERS.index(h)] is None else \
                str(want[R.ENTRY_HEADERS.index(h)])
            if h in IDENTIFIERS:              # whole, on the row's first line
                assert cell == ([value] if value else [""]), (h, cell, value)
            else:                             # NAME, PATH: folded into at most 2 lines
                assert 1 <= len(cell) <= 2, (h, cell)
    long_rows = [r for r in rows if r[headers.index("NAME")][0].startswith("Contoso")]
    assert len(long_rows) == 3                                   # hidden entry + 2 chains
    assert all(len(r[headers.index("NAME")]) <= 2 for r in long_rows)
    assert sum(1 for x in block if "QQQQ" in x) <= 2 * len(long_rows)
    for token in ("AF_INET", "IPPROTO_TCP", "0..255"):
        assert token in text
    if columns >= 120:
        assert "SOCK_STREAM" in text and "TYPE" in headers
