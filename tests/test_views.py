"""Issue 15: both catalogs, display names, entries named any way, completion, `stacks` and
`report` -- on the shipped catalogs, the real hives and the netsh samples in tests/data."""

from __future__ import annotations

import lzma
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import CATALOGS, TESTDATA, sporder_cmd
from sporder_py import render as R
from sporder_py import stacks
from sporder_py._record import replace
from sporder_py.formats import catalog_toml, detect
from sporder_py.model import CatalogFile

NETSH = TESTDATA / "netsh"
LSP_LISTING = NETSH / "win10-1607-x64-lsp.txt"
HOSTILE = "Evil <script>alert(1)</script> | `x` ** [a](b) \u202e\x1b[31m"


def read(path: Path) -> CatalogFile:
    return detect.parse(path.read_bytes(), str(path), path=path)[0]


@pytest.fixture
def two_catalogs(tmp_path: Path, cli) -> Path:
    """windows-11 with an LSP in the 32-bit catalog only (issue 15 item 1's example)."""
    p = tmp_path / "c.toml"
    shutil.copy(CATALOGS / "windows-11.toml", p)
    r = cli("--catalog", p, "--bitness", "32", "install-lsp", "--name", "Contoso Inspector",
            "--path", r"C:\Program Files\Contoso\insp32.dll", "--over", "1004", "--over", "1005",
            "--categories", "LSP_INSPECTOR")
    assert r.code == 0, r.err
    return p


@pytest.fixture(scope="module")
def hive_1709(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("regipy", reason="regipy is not installed (pip install 'sporder[hive]')")
    dest = tmp_path_factory.mktemp("hive") / "SYSTEM-win10-1709-x64"
    dest.write_bytes(lzma.decompress((TESTDATA / "hives" / "SYSTEM-win10-1709-x64.xz")
                                     .read_bytes()))
    return dest


# --- item 1: both catalogs ---------------------------------------------------------------------

def test_list_shows_both_catalogs_and_keeps_the_json_keys(cli, two_catalogs):
    r = cli("--catalog", two_catalogs, "list")
    assert r.code == 0
    assert "64-bit protocol catalog" in r.out and "32-bit protocol catalog (WOW64" in r.out
    assert "Contoso Inspector over [MSAFD Tcpip [TCP/IP]]" in r.out
    d = cli("--catalog", two_catalogs, "list", "--json").json["data"]
    assert d["catalog"] == "64" and len(d["entries"]) == 14       # the native catalog, as before
    assert [c["catalog"] for c in d["catalogs"]] == ["64", "32"]
    assert d["catalogs"][0]["entries"] == d["entries"] and len(d["catalogs"][1]["entries"]) == 17
    one = cli("--catalog", two_catalogs, "--bitness", "32", "list", "--json").json["data"]
    assert one["catalog"] == "32" and "catalogs" not in one


def test_resolve_answers_for_both_catalogs_and_says_which(cli, two_catalogs):
    r = cli("--catalog", two_catalogs, "resolve", "inet", "stream", "tcp")
    assert r.code == 0
    blocks = r.out.split("\n\n")
    assert len(blocks) == 2
    assert "-> 1004 MSAFD Tcpip [TCP/IP]" in blocks[0] and "catalog: 64-bit" in blocks[0]
    assert "-> 1016 Contoso Inspector over" in blocks[1] and "catalog: 32-bit" in blocks[1]
    d = cli("--catalog", two_catalogs, "resolve", "inet", "stream", "tcp", "--json").json["data"]
    assert d["catalog"] == "64" and d["entry"]["id"] == 1004
    assert [(c["catalog"], c["entry"]["id"]) for c in d["catalogs"]] == [("64", 1004),
                                                                        ("32", 1016)]
    same = cli("--catalog", two_catalogs, "resolve", "inet6", "stream", "tcp")
    assert same.out.count("socket(") == 1 and "64-bit and 32-bit (the same stack" in same.out


def test_resolve_failing_in_one_catalog_names_it(cli, tmp_path):
    f = read(CATALOGS / "windows-11.toml")
    cat32 = f.catalogs["32"]
    f = f.with_catalog(cat32.with_protocols([e for e in cat32.protocols if e.family != 1]))
    p = tmp_path / "c.toml"
    p.write_text(catalog_toml.dumps(f))
    r = cli("--catalog", p, "resolve", "unix", "stream", "0")
    assert r.code == 1 and "-> 1012 AF_UNIX" in r.out
    assert "fails with WSAEAFNOSUPPORT" in r.err and "in the 32-bit catalog" in r.err


def test_show_finds_an_id_in_either_catalog(cli, two_catalogs):
    r = cli("--catalog", two_catalogs, "show", "1015")
    assert r.code == 0 and "Catalog:" in r.out and "32-bit" in r.out
    assert "Contoso Inspector" in r.out
    both = cli("--catalog", two_catalogs, "show", "1004")
    assert both.code == 0 and "the same entry is in the 32-bit catalog" in both.out


def test_show_asks_for_bitness_only_when_the_catalogs_differ(cli, tmp_path):
    f = read(CATALOGS / "windows-11.toml")
    cat32 = f.catalogs["32"]
    changed = [e.with_changes(path=r"%SystemRoot%\SysWOW64\mswsock.dll") if e.id == 1004 else e
               for e in cat32.protocols]
    p = tmp_path / "c.toml"
    p.write_text(catalog_toml.dumps(f.with_catalog(cat32.with_protocols(changed))))
    r = cli("--catalog", p, "show", "1004")
    assert r.code == 1 and "--bitness" in r.err and len(r.err.strip().splitlines()) == 1
    r = cli("--catalog", p, "--bitness", "32", "show", "1004")
    assert r.code == 0 and "SysWOW64" in r.out
    assert cli("--catalog", p, "show", "1005").code == 0


def test_doctor_checks_both_catalogs(cli, two_catalogs):
    r = cli("--catalog", two_catalogs, "doctor")
    assert r.code == 0 and "64-bit and 32-bit catalogs" in r.out
    assert cli("--catalog", two_catalogs, "doctor", "--json").json["data"]["catalogs"] == \
        ["64", "32"]
    broken = TESTDATA / "broken" / "chain-top-only-in-other-catalog.toml"
    d = cli("--catalog", broken, "doctor", "--json").json["data"]
    assert any(x["catalog"] == "64" and x["code"] == "orphaned-chain" for x in d["findings"])


# --- item 2: display names ---------------------------------------------------------------------

def test_real_hive_shows_display_names_where_people_read(cli, hive_1709):
    lst = cli("--catalog", hive_1709, "list")
    assert lst.code == 0 and "MSAFD Tcpip [TCP/IP]" in lst.out and "@%SystemRoot%" not in lst.out
    assert "32-bit protocol catalog" in lst.out
    res = cli("--catalog", hive_1709, "resolve", "inet", "stream", "tcp")
    assert "MSAFD Tcpip [TCP/IP]" in res.out and "@%SystemRoot%" not in res.out
    show = cli("--catalog", hive_1709, "show", "MSAFD Tcpip [TCP/IP]")
    assert show.code == 0
    name = next(x for x in show.out.splitlines() if x.startswith("Name:"))
    assert "@%SystemRoot%" in name and "Display name:        MSAFD Tcpip [TCP/IP]" in show.out
    j = cli("--catalog", hive_1709, "list", "--json").json["data"]["entries"]
    assert any(e["name"].startswith("@") and e["display_name"] == "MSAFD Tcpip [TCP/IP]"
               for e in j)                                  # the JSON keeps the stored string
    st = cli("--catalog", hive_1709, "stacks")
    assert "MSAFD Tcpip [TCP/IP]" in st.out and "@%SystemRoot%" not in st.out


# --- items 3, 4, 9: the table -------------------------------------------------------------------

def test_list_has_the_dll_the_raw_range_and_chosen_columns(cli):
    r = cli("--bitness", "64", "list")
    header = r.out.splitlines()[1].split()
    assert header[-1] == "PATH" and r"%SystemRoot%\system32\mswsock.dll" in r.out
    raw = next(x for x in r.out.splitlines() if "MSAFD Tcpip [RAW/IP]" in x)
    assert " 0..255 " in raw
    c = cli("--bitness", "64", "list", "--columns", "id, NAME,path", "--plain")
    lines = c.out.splitlines()
    assert lines[1].split() == ["ID", "NAME", "PATH"]
    assert lines[2].startswith("1001  MSAFD Tcpip [TCP/IPv6]")
    bad = cli("list", "--columns", "id,colour")
    assert bad.code == 2 and "pos, id, kind, name" in bad.err


def test_show_prints_none_for_empty_flags_and_a_chains_categories(cli, two_catalogs):
    r = cli("--catalog", two_catalogs, "show", "1016")
    assert "LSP categories:      0x1 LSP_INSPECTOR (of its LSP, 1015 'Contoso Inspector')" \
        in r.out
    base = cli("--catalog", two_catalogs, "show", "1004")
    assert "LSP categories:      0x0 (none)" in base.out
    raw = cli("show", "1006")
    assert "Protocol:            0..255" in raw.out


def test_help_texts_cite_no_section_numbers(cli):
    for cmd in ("list", "show", "resolve", "stacks", "report", "doctor"):
        r = cli(cmd, "--help")
        assert r.code == 0 and "§" not in r.out, cmd


# --- item 5: entries named any way --------------------------------------------------------------

@pytest.mark.parametrize("ref", ["1004", "0x3ec", "MSAFD Tcpip [TCP/IP]", "msafd tcpip [tcp/ip]",
                                 "inet,stream,tcp", "2,1,6"])
def test_show_accepts_ids_hex_names_and_triples(cli, ref):
    r = cli("--bitness", "64", "show", ref, "--json")
    assert r.code == 0, r.err
    assert r.json["data"]["entry"]["id"] == 1004


def test_show_accepts_an_lsps_guid_and_refuses_ambiguous_names(cli, two_catalogs):
    guid = cli("--catalog", two_catalogs, "--bitness", "32", "show", "1015",
               "--json").json["data"]["entry"]["provider_id"]
    r = cli("--catalog", two_catalogs, "show", guid.lower().strip("{}"), "--json")
    assert r.code == 0 and r.json["data"]["entry"]["id"] == 1015
    amb = cli("show", "RSVP TCP Service Provider", "--bitness", "64")   # one entry: fine
    assert amb.code == 0
    f = read(CATALOGS / "windows-11.toml")
    cat = f.catalogs["64"]
    twin = cat.protocols[0].with_changes(id=1099,
                                         provider_id="{00000000-0000-0000-0000-000000000001}")
    f = replace(f.with_catalog(cat.with_protocols([*cat.protocols, twin])), next_entry_id=1100)
    p = two_catalogs.with_name("twin.toml")
    p.write_text(catalog_toml.dumps(f))
    r = cli("--catalog", p, "--bitness", "64", "show", "MSAFD Tcpip [TCP/IPv6]")
    assert r.code == 1 and "1001" in r.err and "1099" in r.err
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err


# --- item 8: completion -------------------------------------------------------------------------

def _complete(args: list[str], incomplete: str) -> list[str]:
    from click.shell_completion import ShellComplete

    from sporder_py.cli.app import cli as group
    comp = ShellComplete(group, {}, "sporder", "_SPORDER_COMPLETE")
    return [c.value for c in comp.get_completions(args, incomplete)]


def test_completion_offers_ids_names_triples_and_guids(two_catalogs):
    base = ["--catalog", str(two_catalogs)]
    assert "1004" in _complete([*base, "show"], "100")
    assert "1015" in _complete([*base, "show"], "10")              # only in the 32-bit catalog
    assert "1015" not in _complete([*base, "--bitness", "64", "show"], "10")
    assert "inet,stream,tcp" in _complete([*base, "show"], "inet,")
    assert "Contoso Inspector" in _complete([*base, "show"], "cont")
    assert any(v.startswith("{") for v in _complete([*base, "show"], "{"))
    assert {"inet", "inet6"} <= set(_complete([*base, "resolve"], "inet"))
    assert "stream" in _complete([*base, "resolve", "inet"], "st")
    assert "tcp" in _complete([*base, "resolve", "inet", "stream"], "t")
    assert "1004" in _complete([*base, "resolve", "inet", "stream", "tcp", "--protocol-info"],
                               "1004")
    assert _complete(["--catalog", "/nonexistent/x.toml", "show"], "1") == []


def test_completion_through_the_real_script(two_catalogs):
    env = {**os.environ, "_SPORDER_COMPLETE": "bash_source"}
    source = subprocess.run(sporder_cmd(), env=env, capture_output=True, text=True, timeout=60)
    assert source.returncode == 0 and "_SPORDER_COMPLETE=bash_complete" in source.stdout
    env = {**os.environ, "_SPORDER_COMPLETE": "bash_complete", "SPORDER_CATALOG": str(two_catalogs),
           "COMP_WORDS": "sporder show 101", "COMP_CWORD": "2"}
    done = subprocess.run(sporder_cmd(), env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
    assert {"plain,1012", "plain,1015", "plain,1016"} <= set(done.stdout.splitlines())


# --- stacks ------------------------------------------------------------------------------------

def test_stacks_domain_on_the_shipped_catalog():
    views = stacks.file_stacks(read(CATALOGS / "windows-11.toml"))
    assert [v.bitness for v in views] == ["64", "32"] and views[0].same_as(views[1])
    texts = [s.calls_text for s in views[0].stacks]
    assert "AF_INET, SOCK_RAW, 0..255" in texts and "AF_INET, SOCK_STREAM, 0 | IPPROTO_TCP" in texts
    assert all(len(s.layers) == 1 and s.layers[0].role == "base" for s in views[0].stacks)
    assert views[0].shadowed == () and views[0].orphans == ()


def test_stacks_of_a_netsh_paste_with_an_lsp(cli):
    r = cli("--catalog", LSP_LISTING, "stacks")
    assert r.code == 0
    lines = r.out.splitlines()
    i = next(n for n, x in enumerate(lines) if x.startswith("  socket(AF_INET, SOCK_STREAM"))
    assert "(chain)" in lines[i]
    assert lines[i + 1].startswith("    ") and "Sample LSP" in lines[i + 1]
    assert "[LSP," in lines[i + 1]
    assert "MSAFD Tcpip [TCP/IP]" in lines[i + 2] and "[base, IFS]" in lines[i + 2]
    assert not any(ch in r.out for ch in "│└├")                  # piped: no box drawing
    d = cli("--catalog", LSP_LISTING, "stacks", "--json").json["data"]
    assert [c["catalog"] for c in d["catalogs"]] == ["64", "32"]
    tcp = next(s for s in d["catalogs"][0]["stacks"]
               if s["calls_text"] == "AF_INET, SOCK_STREAM, IPPROTO_TCP"
               or s["calls_text"].startswith("AF_INET, SOCK_STREAM"))
    assert [x["kind"] for x in tcp["layers"]] == ["layered", "base"]


def test_stacks_lists_shadowed_chains_and_orphans(cli, tmp_path):
    p = tmp_path / "c.toml"
    shutil.copy(CATALOGS / "windows-11.toml", p)
    for name in ("First", "Second"):
        assert cli("--catalog", p, "--bitness", "64", "install-lsp", "--name", name, "--path",
                   rf"C:\{name}.dll", "--over-base-only").code == 0
    r = cli("--catalog", p, "--bitness", "64", "stacks", "--json")
    view = r.json["data"]["catalogs"][0]
    assert view["shadowed"] and all("First over" in s["name"] for s in view["shadowed"])
    assert all(s["answered_by"] is not None for s in view["shadowed"])
    human = cli("--catalog", p, "--bitness", "64", "stacks").out
    assert "shadowed: chains no socket() call reaches" in human
    orphan = cli("--catalog", TESTDATA / "broken" / "chain-top-only-in-other-catalog.toml",
                 "stacks", "--json").json["data"]["catalogs"]
    assert any(c["orphans"] for c in orphan)


def test_stacks_draws_a_tree_on_a_terminal(cli, monkeypatch):
    monkeypatch.setattr(R, "is_tty", lambda: True)
    r = cli("stacks")
    assert "└── 1004  MSAFD Tcpip [TCP/IP]" in r.out
    assert "32-bit catalog: the same stacks as the 64-bit catalog" in r.out
    plain = cli("stacks", "--plain")
    assert "└" not in plain.out


# --- report ------------------------------------------------------------------------------------

def _md_tokens(text: str):
    from markdown_it import MarkdownIt
    md = MarkdownIt("commonmark").enable("table")
    tokens = md.parse(text)

    def walk(ts):
        for t in ts:
            yield t
            if t.children:
                yield from walk(t.children)
    return list(walk(tokens)), md.render(text)


def _hostile_catalog(tmp_path: Path, cli) -> Path:
    p = tmp_path / "hostile.toml"
    shutil.copy(CATALOGS / "windows-11.toml", p)
    assert cli("--catalog", p, "install-lsp", "--name", HOSTILE, "--path",
               r"C:\evil`dir\<x>|y.dll", "--over", "1004", "--over", "1002",
               "--categories", "LSP_INSPECTOR").code == 0
    return p


def test_report_is_markdown_that_parses(cli, tmp_path):
    p = _hostile_catalog(tmp_path, cli)
    r = cli("--catalog", p, "report")
    assert r.code == 0
    tokens, html = _md_tokens(r.out)
    kinds = {t.type for t in tokens}
    assert {"heading_open", "table_open", "fence", "html_block", "code_inline"} <= kinds
    fences = [t.info for t in tokens if t.type == "fence"]
    assert fences == ["mermaid", "text"]
    assert [t.content for t in tokens if t.type == "html_inline"] == \
        ["<br>"] * sum(1 for t in tokens if t.type == "html_inline")   # only sporder's own HTML
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<details>" in html and "</details>" in html
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    for h in ("Windows version hints", "Layered service providers", "doctor", "Catalog",
              "socket() stacks for TCP and UDP", "Flowchart"):
        assert h in headings
    # every LSP table row has the header's number of cells (a | in a name cannot add one)
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    lsp_rows = [x for x in rows if "Evil" in x and "<td>64</td>" in x]
    assert lsp_rows and all(x.count("<td>") == 7 for x in lsp_rows)
    mermaid = next(t.content for t in tokens if t.info == "mermaid")
    labels = re.findall(r'\["(.*?)"\]', mermaid)
    assert labels and all('"' not in x and "<script" not in x and "`" not in x for x in labels)
    assert "\x1b" not in r.out and "\u202e" not in r.out


def test_report_sections_say_what_a_helper_needs(cli, tmp_path):
    p = _hostile_catalog(tmp_path, cli)
    doc = cli("--catalog", p, "report", "--json").json["data"]
    md = doc["markdown"]
    assert "two catalogs (native and WOW64 32-bit): 64-bit Windows" in doc["hints"]
    assert any("AF_UNIX provider (id 1012)" in h for h in doc["hints"])
    assert "**TCP/IPv4** `socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)` gets entry" in md
    assert "**UDP/IPv6**" in md and "LSP_INSPECTOR" in md
    assert r"C:\evil`dir\<x>\|y.dll" in md                       # the DLL, in a code span
    assert "No findings: the catalog is healthy." in md
    assert [c["catalog"] for c in doc["catalogs"]] == ["64", "32"]


def _netsh_fields(f: CatalogFile) -> dict[str, object]:
    """What netsh text carries, per catalog (the display name stands for the name)."""
    from sporder_py.names import display_name
    return {b: ([(e.id, e.kind, display_name(e.name), e.provider_id, e.path, e.version, e.family,
                  e.socket_type, e.protocol, e.min_address_length, e.max_address_length,
                  e.service_flags, e.chain) for e in cat.protocols],
                [(n.name, n.provider_id, n.namespace, n.enabled, n.version)
                 for n in cat.namespaces])
            for b, cat in f.catalogs.items()}


@pytest.mark.parametrize("source", ["windows-11", "windows-7", "netsh-lsp", "hostile"])
def test_report_round_trips_through_import(cli, tmp_path, source):
    if source == "netsh-lsp":
        src = LSP_LISTING
    elif source == "hostile":
        src = _hostile_catalog(tmp_path, cli)
    else:
        src = CATALOGS / f"{source}.toml"
    out = tmp_path / "report.md"
    r = cli("--catalog", src, "report")
    assert r.code == 0
    out.write_text(r.out, encoding="utf-8")
    target = tmp_path / "imported.toml"
    imp = cli("--catalog", target, "import", out)
    assert imp.code == 0, imp.err
    got = read(target)
    want = read(src)
    expected = _netsh_fields(want)
    if source == "hostile":    # printed to a terminal, ESC and U+202E arrive escaped (R.safe)
        expected = {b: ([(*e[:2], R.safe(e[2]), *e[3:]) for e in entries], ns)
                    for b, (entries, ns) in expected.items()}
        assert any(HOSTILE[:20] in e[2] for e in expected["64"][0])
    assert _netsh_fields(got) == expected


def test_report_of_a_real_hive_round_trips(cli, tmp_path, hive_1709):
    r = cli("--catalog", hive_1709, "report")
    assert r.code == 0 and "an AF_UNIX provider" in r.out.replace("\\_", "_")
    out = tmp_path / "report.md"
    out.write_text(r.out, encoding="utf-8")
    assert _netsh_fields(read(out)) == _netsh_fields(read(hive_1709))


def test_a_netsh_listing_pasted_between_fences_is_read(tmp_path):
    text = LSP_LISTING.read_text(encoding="utf-8")
    md = ("Here is my catalog:\n\n```\n" + text + "```\n\nand `netsh` said nothing else.\n"
          "```\nnot a catalog\n```\n")
    p = tmp_path / "issue.md"
    p.write_text(md, encoding="utf-8")
    assert _netsh_fields(read(p)) == _netsh_fields(read(LSP_LISTING))


# --- README examples are real output -----------------------------------------------------------

def _readme_block(start: str) -> list[str]:
    from conftest import ROOT
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index(start):].split("```", 1)[0]
    return block.splitlines()


def test_readme_stacks_and_resolve_examples_match_real_output(cli, tmp_path):
    p = tmp_path / "c.toml"
    shutil.copy(CATALOGS / "windows-11.toml", p)
    assert cli("--catalog", p, "install-lsp", "--name", "Inspector", "--path",
               r"%SystemRoot%\system32\insp.dll", "--over", "1004", "--over", "1005",
               "--categories", "LSP_INSPECTOR").code == 0
    shown = _readme_block("$ sporder stacks")
    real = cli("--catalog", p, "stacks").out.splitlines()
    cut = shown.index("  ...")
    assert shown[1:cut] == real[:cut - 1]
    assert shown[cut + 1:cut + 3] == real[-2:]
    resolve = _readme_block("$ sporder resolve AF_INET SOCK_STREAM IPPROTO_TCP")
    real = cli("resolve", "AF_INET", "SOCK_STREAM", "IPPROTO_TCP").out.splitlines()
    assert resolve[1:1 + len(real)] == real
