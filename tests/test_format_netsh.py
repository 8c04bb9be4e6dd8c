"""Tests for the netsh text format (netsh-format.md): synthetic fixtures, round trips, bad input."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sporder_py import winsock as ws
from sporder_py.errors import CatalogFileError, OperationRefused, UsageError
from sporder_py.formats import catalog_toml
from sporder_py.formats.detect import sniff
from sporder_py.formats.netsh import (
    RULE,
    looks_like_netsh,
    namespace_block,
    parse_netsh,
    protocol_block,
    render_netsh,
)
from sporder_py.model import CatalogFile

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "netsh"
CATALOGS = sorted((ROOT / "catalogs").glob("*.toml"))
TCP4 = "{E70F1AA0-AB8B-11CF-8CA3-00805F48A192}"


def fixture(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def shipped(path: Path) -> CatalogFile:
    return catalog_toml.loads(path.read_text(encoding="utf-8"), path.stem)[0]


# -- fixtures -----------------------------------------------------------------------------------

def test_english_x64_listing_with_wow64_section_chains_and_lsp() -> None:
    f, warnings = parse_netsh(fixture("win10-1607-x64-lsp.txt"), "moby2")
    assert f.bitnesses == ["64", "32"]
    assert f.next_entry_id == 1035 and f.serial == 1
    assert f.description == "imported from netsh text"
    for b in ("64", "32"):
        cat = f.catalog(b)
        assert len(cat.protocols) == 17
        assert cat.ids[:4] == [1032, 1033, 1034, 1001]          # chains first, then the base
        chain = cat.get(1032)
        assert chain is not None and chain.kind == "chain" and chain.chain == (1031, 1006)
        assert chain.name == "Sample LSP over [MSAFD Tcpip [TCP/IP]]"
        assert chain.service_flags == 0x66 and not chain.is_ifs    # non-IFS LSP
        hidden = cat.protocols[-1]
        assert (hidden.id, hidden.kind, hidden.socket_type, hidden.protocol) == (
            1031, "layered", 0, 0)
        assert hidden.chain == ()
        irda = cat.get(1012)
        assert irda is not None and (irda.family, irda.max_address_length,
                                     irda.min_address_length) == (26, 32, 8)
        assert [n.namespace for n in cat.namespaces] == [37, 39, 38, 15, 12, 32, 16]
    # The ids repeat across the two catalogs; the 32-bit LSP DLL lives in SysWOW64.
    assert f.catalog("32").get(1031).path == r"%SystemRoot%\SysWOW64\samplelsp.dll"
    assert f.catalog("64").get(1031).path == r"%SystemRoot%\system32\samplelsp.dll"
    assert not any("orphan" in w for w in warnings)
    assert any("do not carry" in w or "does not carry" in w for w in warnings)


def test_render_reproduces_the_english_fixture_exactly() -> None:
    # Two blank lines after a chain line read like one; everything else is byte for byte.
    text = fixture("win10-1607-x64-lsp.txt")
    assert "Protocol Chain: 1031 : 1006\n\n\n" in text
    f, _ = parse_netsh(text, "moby2")
    assert render_netsh(f) == text.replace("\n\n\n", "\n\n")


def test_zh_cn_listing_with_cjk_padding() -> None:
    text = fixture("win11-x64-zhcn.txt")
    # CJK padding: the number of spaces differs per label, the value column is the same.
    assert "项类型:" + " " * 29 + "基本服务提供程序\n" in text
    assert "提供程序 ID:" + " " * 24 + "{" in text
    assert "基本服务提供程序(32)\n" in text
    f, _ = parse_netsh(text, "zh")
    assert f.bitnesses == ["64", "32"]
    for b in ("64", "32"):
        cat = f.catalog(b)
        assert cat.ids == [1001, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1002, 1003, 1004,
                           1005, 1013, 1014]
        assert cat.get(1003).name == "RSVP TCP 服务提供商"        # taken verbatim
        l2cap = cat.get(1013)
        assert (l2cap.family, l2cap.protocol, l2cap.service_flags) == (32, 256, 0x20006)
        assert all(e.kind == "base" for e in cat.protocols)
    assert f.next_entry_id == 1015


def test_zh_cn_chain_entry() -> None:
    def row(label: str, value: object) -> str:
        width = sum(2 if ord(c) > 0x2E7F else 1 for c in label) + 1
        return f"{label}:" + " " * (36 - width) + str(value)

    lines = ["Winsock 目录提供程序项", RULE, row("项类型", "分层链项(32)"),
             row("描述", "示例 LSP over [MSAFD Tcpip [TCP/IP]]"),
             row("提供程序 ID", "{5A3F1C2E-9B47-4D8E-A1C6-3E2F8B9D0A12}"),
             row("提供程序路径", r"%SystemRoot%\SysWOW64\lsp.dll"), row("目录项 ID", 1016),
             row("版本", 2), row("地址族", 2), row("最大地址长度", 16), row("最小地址长度", 16),
             row("Socket 类型", 1), row("协议", 6), row("服务标志", "0x66"), row("协议链长度", 2),
             "协议链: 1015 : 1010", ""]
    f, warnings = parse_netsh("\n".join(lines), "zh-chain")
    assert f.bitnesses == ["32"]
    entry = f.catalog("32").get(1016)
    assert entry.kind == "chain" and entry.chain == (1015, 1010)
    assert entry.name == "示例 LSP over [MSAFD Tcpip [TCP/IP]]"
    # The chain names entries that are not in this excerpt: an orphan, a warning, not an error.
    assert any("1015" in w and "not in the catalog" in w for w in warnings)


def test_console_noise_and_crlf_are_skipped() -> None:
    raw = (DATA / "win10-console-noise-crlf.txt").read_bytes()
    assert raw.startswith(b"Microsoft Windows [Version 10.0.14393]\r\n")
    f, _ = parse_netsh(raw.decode("utf-8"), "pb10")
    assert f.bitnesses == ["64"]
    assert f.catalog("64").ids == [1001, 1006, 1007]
    assert [e.name for e in f.catalog("64").protocols] == [
        "Hyper-V RAW", "MSAFD Tcpip [TCP/IP]", "MSAFD Tcpip [UDP/IP]"]


def test_listing_without_wow64_entries_is_the_native_catalog() -> None:
    f, _ = parse_netsh(fixture("win-x86-ifs-lsp.txt"), "x86")
    assert f.bitnesses == ["64"]                         # documented choice: no (32) -> "64"
    cat = f.catalog("64")
    assert cat.ids[:3] == [1012, 1013, 1001]
    assert cat.get(1012).chain == (1011, 1001) and cat.get(1012).is_ifs
    assert cat.get(1011).kind == "layered"
    assert f.next_entry_id == 1014


def test_collapsed_namespace_padding() -> None:
    f, warnings = parse_netsh(fixture("win7-book-collapsed-namespace.txt"), "book")
    (ns,) = f.catalog("64").namespaces
    assert ns.name == "Network Location Awareness Legacy (NLAv1) Namespace"
    assert (ns.provider_id, ns.namespace, ns.enabled, ns.version) == (
        "{6642243A-3BA8-4AA6-BAA5-2E0BD71FDD83}", 15, True, 0)
    assert ns.path == ""                                 # netsh does not print it
    assert any("namespace" in w and "path" in w for w in warnings)


def test_namespace_list_printed_twice_splits_by_bitness() -> None:
    # default-catalogs §0.1 W11D: "5 namespace descriptions, (the same five again)".
    f = shipped(ROOT / "catalogs" / "windows-11.toml")
    wow = f.catalog("32")
    wow = wow.with_namespaces([replace(n, enabled=False) for n in wow.namespaces])
    text = render_netsh(f) + "".join(namespace_block(n) + "\n" for n in wow.namespaces)
    g, _ = parse_netsh(text, "w11d")
    assert all(n.enabled for n in g.catalog("64").namespaces)
    assert not any(n.enabled for n in g.catalog("32").namespaces)
    assert len(g.catalog("32").namespaces) == 5


def test_namespaces_printed_once_go_to_both_catalogs() -> None:
    f, _ = parse_netsh(render_netsh(shipped(ROOT / "catalogs" / "windows-7.toml")), "w7")
    assert f.catalog("64").namespaces == f.catalog("32").namespaces
    assert len(f.catalog("32").namespaces) == 6


def test_unknown_titled_block_is_skipped_with_a_warning() -> None:
    text = fixture("win7-book-collapsed-namespace.txt") + "Some Future Entry\n" + RULE + \
        "\nWhatever: 1\n\n"
    f, warnings = parse_netsh(text, "future")
    assert len(f.catalog("64").protocols) == 1
    assert any("line 25" in w and "Some Future Entry" in w for w in warnings)


# -- round trips and exact rendering -----------------------------------------------------------

@pytest.mark.parametrize("path", CATALOGS, ids=[p.stem for p in CATALOGS])
def test_round_trip_of_shipped_catalogs_keeps_every_field_netsh_carries(path: Path) -> None:
    f = shipped(path)
    g, _ = parse_netsh(render_netsh(f), path.stem)
    assert g.bitnesses == f.bitnesses
    for b in f.bitnesses:
        before, after = f.catalog(b), g.catalog(b)
        assert len(after.protocols) == len(before.protocols)
        for x, y in zip(before.protocols, after.protocols, strict=True):
            for name in ("id", "kind", "name", "provider_id", "path", "version", "family",
                         "min_address_length", "max_address_length", "socket_type",
                         "protocol", "service_flags", "chain"):
                assert getattr(y, name) == getattr(x, name), (b, x.id, name)
        assert len(after.namespaces) == len(before.namespaces)
        for m, n in zip(before.namespaces, after.namespaces, strict=True):
            for name in ("name", "provider_id", "namespace", "enabled", "version"):
                assert getattr(n, name) == getattr(m, name), (b, m.provider_id, name)
    assert g.next_entry_id == max(i for c in f.catalogs.values() for i in c.ids) + 1


def test_round_trip_with_chains_and_layered_entries() -> None:
    f, _ = parse_netsh(fixture("win10-1607-x64-lsp.txt"), "moby2")
    g, _ = parse_netsh(render_netsh(f), "again")
    assert g == f


def test_imported_file_saves_and_loads_as_a_catalog_file() -> None:
    f, _ = parse_netsh(fixture("win10-1607-x64-lsp.txt"), "moby2")
    g, warnings = catalog_toml.loads(catalog_toml.dumps(f), "saved")
    assert g.same_content(f) and warnings == []


TCP6_BLOCK = """\
Winsock Catalog Provider Entry
------------------------------------------------------
Entry Type:                         Base Service Provider
Description:                        MSAFD Tcpip [TCP/IPv6]
Provider ID:                        {F9EAB0C0-26D4-11D0-BBBF-00AA006C34E4}
Provider Path:                      %SystemRoot%\\system32\\mswsock.dll
Catalog Entry ID:                   1001
Version:                            2
Address Family:                     23
Max Address Length:                 28
Min Address Length:                 28
Socket Type:                        1
Protocol:                           6
Service Flags:                      0x20066
Protocol Chain Length:              1
"""


def test_windows_11_tcp_ipv6_block_is_exact() -> None:
    f = shipped(ROOT / "catalogs" / "windows-11.toml")
    entry = f.catalog("64").get(1001)
    assert protocol_block(entry) == TCP6_BLOCK
    assert render_netsh(f).startswith(TCP6_BLOCK + "\n" + "Winsock Catalog Provider Entry\n")
    wow = protocol_block(f.catalog("32").get(1001), "32")
    assert wow == TCP6_BLOCK.replace("Base Service Provider", "Base Service Provider (32)")


def test_render_layout_rules() -> None:
    f, _ = parse_netsh(fixture("win10-1607-x64-lsp.txt"), "moby2")
    text = render_netsh(f)
    lines = text.split("\n")
    assert lines.count(RULE) == 17 + 17 + 7 and len(RULE) == 54
    for line in lines:
        if ":" in line and not line.startswith("Protocol Chain:"):
            label, _, value = line.partition(":")
            assert len(label) + 1 + len(value) - len(value.lstrip(" ")) == 36, line
    assert "Protocol Chain: 1031 : 1006\n\n" in text
    assert text.endswith("Version:                            0\n\n")
    assert text.index("Layered Chain Entry (32)") > text.index("Layered Service Provider\n")
    assert text.index("Name Space Provider Entry") > text.rindex("(32)")


def test_render_selected_bitness() -> None:
    f = shipped(ROOT / "catalogs" / "windows-11.toml")
    only32 = render_netsh(f, ["32"])
    assert only32.count("Base Service Provider (32)") == 14
    assert "Base Service Provider\n" not in only32
    assert only32.count("Name Space Provider Entry") == 5
    assert render_netsh(f, ["64"]).count("(32)") == 0
    g, _ = parse_netsh(only32, "w11-32")
    assert g.bitnesses == ["32"] and g.catalog("32").ids == f.catalog("32").ids
    one = replace(f, catalogs={"64": f.catalog("64")})
    with pytest.raises(UsageError, match="no '32' catalog"):
        render_netsh(one, ["32"])


def test_render_refuses_a_name_with_a_line_break() -> None:
    f = shipped(ROOT / "catalogs" / "windows-7.toml")
    cat = f.catalog("64")
    bad = f.with_catalog(cat.with_protocols(
        [replace(cat.protocols[0], name="two\nlines"), *cat.protocols[1:]]))
    with pytest.raises(OperationRefused, match="line break"):
        render_netsh(bad)


def test_sniffer() -> None:
    for name in ("win10-1607-x64-lsp.txt", "win11-x64-zhcn.txt", "win-x86-ifs-lsp.txt",
                 "win7-book-collapsed-namespace.txt"):
        assert looks_like_netsh(fixture(name)), name
    assert looks_like_netsh((DATA / "win10-console-noise-crlf.txt").read_text())
    assert not looks_like_netsh("")
    assert not looks_like_netsh((ROOT / "catalogs" / "windows-11.toml").read_text())
    assert not looks_like_netsh("Winsock Catalog Provider Entry\nEntry Type: x\n")
    ff = Path(__file__).resolve().parent / "data" / "firefox" / "win10-x64-proxy-lsp.txt"
    assert not looks_like_netsh(ff.read_text(encoding="utf-8"))


# -- malformed input ----------------------------------------------------------------------------

X86 = fixture("win-x86-ifs-lsp.txt").split("\n")     # line N is X86[N - 1]


def edit(line: int, new: str | None = None, *, insert: str | None = None) -> str:
    """The x86 fixture with line ``line`` replaced, deleted (new=None) or preceded by a line."""
    lines = list(X86)
    if insert is not None:
        lines.insert(line - 1, insert)
    elif new is None:
        del lines[line - 1]
    else:
        lines[line - 1] = new
    return "\n".join(lines)


def value(line: int, text: str) -> str:
    label = X86[line - 1].partition(":")[0]
    return edit(line, f"{label + ':':<36}{text}")


MALFORMED = [
    ("truncated block", "\n".join(X86[:45]), 37),
    ("bad number", value(11, "two"), 11),
    ("number out of range", value(9, "4294967296"), 9),
    ("bad GUID", value(7, "{7C0E4B2A-1D3F-4E5A-9B6C}"), 7),
    ("bad service flags", value(16, "20066"), 16),
    ("unknown line in the middle", edit(13, insert="garbage in the block"), 13),
    ("unknown line between blocks", edit(37, insert="C:\\WINDOWS\\system32>"), 37),
    ("prompt after the last block", "\n".join(X86) + "\nC:\\Users\\me>\n", len(X86) + 1),
    ("chain length mismatch", value(17, "3"), 18),
    ("chain longer than 7", value(17, "8"), 17),
    ("negative chain length", value(17, "-1"), 17),
    ("bad chain id", edit(18, "Protocol Chain: 1011 : x"), 18),
    ("chain names itself", edit(18, "Protocol Chain: 1012 : 1001"), 18),
    ("chain line on a base entry", edit(52, "Protocol Chain: 1011 : 1001"), 52),
    ("missing field", edit(14), 3),
    ("missing chain line", edit(18), 3),
    ("duplicate field", edit(11, insert="Version:                            2"), 11),
    ("duplicate id", value(26, "1012"), 26),
    ("entry type contradicts chain length", value(5, "Base Service Provider"), 5),
    ("missing rule", edit(4, "=" * 54), 4),
    ("binary garbage", edit(25, "MZ\x90\x00\x03\x00\x00\x00\x04\x00\xff\xff"), 25),
    ("binary garbage without NUL", edit(36, "\x89PNG\x1a\x0b\xfe\xfd"), 36),
    ("empty file", "", 1),
    ("only noise", "Microsoft Windows [Version 10.0.19045.3803]\n(c) Microsoft Corporation. "
                   "All rights reserved.\n\nC:\\Users\\me>netsh winsock show catalog\n", 4),
    ("German listing", "Winsock-Katalog-Anbietereintrag\n" + RULE + "\nEintragstyp: x\n", 3),
]


@pytest.mark.parametrize("text,line", [(t, n) for _, t, n in MALFORMED],
                         ids=[c[0] for c in MALFORMED])
def test_malformed_input_names_the_line(text: str, line: int) -> None:
    with pytest.raises(CatalogFileError) as info:
        parse_netsh(text, "bad.txt")
    assert info.value.message.startswith(f"bad.txt: line {line}: "), info.value.message
    assert info.value.exit_code == 3
    assert info.value.message.count(". ") == 0 or "?" in info.value.message


def test_chain_naming_an_entry_of_the_other_catalog_loads_as_an_orphan() -> None:
    # 1031 exists only in the native catalog: the WOW64 half of the LSP was removed.  The two
    # catalogs are independent (issue 13, case 4): it loads, each WOW64 chain is an orphan with
    # a warning (it used to be refused with "exists only in the other catalog").
    text = fixture("win10-1607-x64-lsp.txt")
    cut = text.index("Winsock Catalog Provider Entry\n" + RULE + "\nEntry Type:" + " " * 25
                     + "Layered Service Provider (32)")
    text = text[:cut] + text[text.index("Name Space Provider Entry"):]
    f, warnings = parse_netsh(text, "cross")
    assert 1031 not in f.catalog("32") and f.catalog("32").get(1032).chain == (1031, 1006)
    orphans = [w for w in warnings if "exists only in the other catalog" in w]
    assert len(orphans) == 3 and all("catalog32" in w and "orphaned" in w for w in orphans)


def test_partial_keeps_complete_blocks() -> None:
    text = "\n".join(X86[:45])                          # block 3 (line 37) is cut
    with pytest.raises(CatalogFileError, match="line 37: .*lacks .*Socket Type"):
        parse_netsh(text, "cut")
    f, warnings = parse_netsh(text, "cut", partial=True)
    assert f.catalog("64").ids == [1012, 1013]
    assert any(w.startswith("cut: line 37: ") and "skipped" in w for w in warnings)
    # A missing field in the middle of the listing is skipped the same way.
    f, warnings = parse_netsh(edit(14), "gap", partial=True)
    assert f.catalog("64").ids[0] == 1013 and 1012 not in f.catalog("64")
    assert any("line 3" in w and "Socket Type" in w for w in warnings)
    # Bad values stay errors.
    with pytest.raises(CatalogFileError, match="line 11"):
        parse_netsh(value(11, "two"), "bad", partial=True)


def test_partial_with_no_complete_block_is_an_error() -> None:
    with pytest.raises(CatalogFileError, match="no complete block"):
        parse_netsh("\n".join(X86[:10]), "cut", partial=True)


def test_active_must_be_0_or_1() -> None:
    text = fixture("win7-book-collapsed-namespace.txt").replace("Active: 1", "Active: yes")
    with pytest.raises(CatalogFileError, match="line 22: Active 'yes'"):
        parse_netsh(text, "ns")


def test_overlong_description_is_refused() -> None:
    with pytest.raises(CatalogFileError, match=f"line 6: .*limit is {ws.WSAPROTOCOL_LEN}"):
        parse_netsh(value(6, "x" * 256), "long")


# -- issue 15: what netsh prints, and forum-quoted pastes ---------------------------------------

def test_render_prints_the_display_name_of_an_indirect_protocol_name() -> None:
    """WSCEnumProtocols (and so netsh) resolves ``@dll,-id``; a namespace's Description is
    printed as stored (a Windows 11 netsh printed the NLA provider's indirect string)."""
    f = shipped(ROOT / "catalogs" / "windows-11.toml")
    cat = f.catalog("64")
    stored = r"@%SystemRoot%\System32\mswsock.dll,-60200"
    g = f.with_catalog(cat.with_protocols([replace(cat.protocols[0], name=stored),
                                           *cat.protocols[1:]]))
    text = render_netsh(g, ["64"])
    assert text.startswith(TCP6_BLOCK)                  # "MSAFD Tcpip [TCP/IPv6]"
    assert stored not in text
    assert "Description:                        @%SystemRoot%\\system32\\nlasvc.dll,-1000\n" in text
    unknown = r"@%SystemRoot%\System32\vendor.dll,-5"    # no known text: printed as stored
    h = f.with_catalog(cat.with_protocols([replace(cat.protocols[0], name=unknown)]))
    assert f"Description:                        {unknown}\n" in render_netsh(h, ["64"])


@pytest.mark.parametrize("indent", ["  ", "   ", "    ", "\t"], ids=repr)
def test_a_paste_indented_as_forums_quote_it_is_read(indent: str) -> None:
    for name in ("win10-1607-x64-lsp.txt", "win11-x64-zhcn.txt", "win-x86-ifs-lsp.txt"):
        text = fixture(name)
        quoted = "".join(indent + line for line in text.splitlines(keepends=True))
        assert looks_like_netsh(quoted) and sniff(quoted.encode("utf-8")) == "netsh"
        assert parse_netsh(quoted, name) == parse_netsh(text, name)
    # Console noise quoted too, CR LF, and blank lines that keep their indentation.
    raw = (DATA / "win10-console-noise-crlf.txt").read_text(encoding="utf-8")
    quoted = "\r\n".join(indent + line for line in raw.split("\r\n"))
    assert parse_netsh(quoted, "pb10")[0].catalog("64").ids == [1001, 1006, 1007]
