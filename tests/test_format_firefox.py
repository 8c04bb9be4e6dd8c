"""Tests for the Firefox Winsock_LSP crash annotation reader (netsh-format.md, other formats)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sporder_py import winsock as ws
from sporder_py.errors import CatalogFileError
from sporder_py.formats import catalog_toml
from sporder_py.formats.firefox import NIL_GUID, looks_like_firefox, parse_firefox
from sporder_py.model import ProtocolEntry

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "data" / "firefox" / "win10-x64-proxy-lsp.txt"
WINDOWS_10 = HERE.parent / "catalogs" / "windows-10.toml"


def fields(e: ProtocolEntry) -> list[str]:
    """One entry as LSPAnnotator.cpp writes it: %d, 0x%lx, UuidToStringA (lower case, no
    braces), the GUID only when ChainLen <= 1."""
    guid = e.provider_id.strip("{}").lower() if e.chain_len <= 1 else ""
    return [e.name, str(e.version), str(e.family), str(e.socket_type), str(e.protocol),
            f"0x{e.service_flags:x}", f"0x{e.provider_flags:x}", e.path,
            f"0x{e.lsp_categories:x}", guid]


def annotation(rows: list[list[str]]) -> str:
    return "Winsock_LSP: " + " \n ".join(" : ".join(r) for r in rows)


def windows_10_rows() -> list[list[str]]:
    f, _ = catalog_toml.loads(WINDOWS_10.read_text(encoding="utf-8"), "windows-10")
    return [fields(e) for e in f.catalog("64").protocols]


def test_windows_10_native_catalog_parses_back() -> None:
    f, _ = catalog_toml.loads(WINDOWS_10.read_text(encoding="utf-8"), "windows-10")
    original = f.catalog("64").protocols
    g, warnings = parse_firefox(annotation(windows_10_rows()), "ff")
    assert g.bitnesses == ["64"]
    parsed = g.catalog("64").protocols
    assert [e.id for e in parsed] == list(range(1001, 1001 + len(original)))
    assert g.next_entry_id == 1001 + len(original)
    for x, y in zip(original, parsed, strict=True):   # same length: the ids assert above
        for name in ("kind", "name", "provider_id", "path", "version", "family", "socket_type",
                     "protocol", "service_flags", "provider_flags", "lsp_categories"):
            assert getattr(y, name) == getattr(x, name), (x.id, name)
    assert any("1001-1013 were assigned" in w for w in warnings)


def test_literal_fixture() -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    assert text.startswith("Winsock_LSP: Sample Proxy : LSP over") and " \n " in text
    f, warnings = parse_firefox(text, "ff10")
    cat = f.catalog("64")
    assert cat.ids == list(range(1001, 1012)) and f.next_entry_id == 1012
    first = cat.get(1001)
    # The name contains " : ": the fixed fields are taken from the right.
    assert first.name == "Sample Proxy : LSP over [MSAFD Tcpip [TCP/IP]]"
    assert (first.socket_type, first.protocol, first.service_flags) == (1, 6, 0x66)
    assert first.path == r"C:\Program Files\Sample Proxy\proxylsp.dll"
    # No GUID: a chain whose ids the annotation does not record; its name "X over [Y]" names
    # one hidden entry X with the same DLL and one entry Y with the same triple, so it is read
    # as the chain [X, Y] (issue 13, case 5); the GUID stays nil (not recorded).
    assert first.kind == "chain" and first.chain == (1011, 1003)
    assert first.provider_id == NIL_GUID and first.inferred[:2] == ("kind", "chain")
    assert cat.get(1002).kind == "chain" and cat.get(1002).chain == (1011, 1004)
    assert first.lsp_categories == ws.LSP_CATEGORIES["LSP_PROXY"]
    (note,) = [w for w in warnings if "over [<entry>]" in w]
    assert "1001 = [1011, 1003]; 1002 = [1011, 1004]" in note and "nil GUID" in note
    assert not any("imported as a base entry" in w for w in warnings)
    hidden = cat.get(1011)
    assert (hidden.kind, hidden.name, hidden.socket_type) == ("layered", "Sample Proxy : LSP", 0)
    assert hidden.provider_id == "{5A3F1C2E-9B47-4D8E-A1C6-3E2F8B9D0A21}" and hidden.is_hidden
    raw = cat.get(1005)                                  # PFL_HIDDEN but a real socket type
    assert raw.name == "MSAFD Tcpip [RAW/IP]" and raw.kind == "base" and raw.provider_flags == 0xC
    hyperv = cat.get(1010)
    assert hyperv.lsp_categories == 0 and hyperv.family == 34          # empty categories field
    assert cat.get(1003).provider_id == "{E70F1AA0-AB8B-11CF-8CA3-00805F48A192}"
    # What the annotation does not carry comes from the known Microsoft provider (TCP/IPv6:
    # 28-byte addresses), for chains from their base; the rest keeps the model defaults.
    assert cat.get(1006).max_address_length == 28 and cat.get(1006).family == 23
    assert (raw.protocol_max_offset, raw.message_size) == (255, 32768)
    assert cat.get(1001).inferred[2:] == ("protocol_max_offset", "message_size",
                                          "min_address_length", "max_address_length")
    assert hidden.inferred == () and hidden.max_address_length == 16


def test_bare_value_crlf_and_stripped_trailing_space() -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    bare = text.removeprefix("Winsock_LSP: ").replace("\n", "\r\n")
    a, _ = parse_firefox(text, "a")
    b, _ = parse_firefox(bare, "b")
    assert a == b
    # A last entry that is a chain ends in " : " + empty GUID; a copy may lose the space.
    rows = windows_10_rows()[:2]
    rows[-1][-1] = ""
    f, _ = parse_firefox(annotation(rows).rstrip(), "c")
    assert f.catalog("64").protocols[-1].provider_id == NIL_GUID
    rows[-1][-2] = ""                                    # and empty categories as well
    f, _ = parse_firefox(annotation(rows).rstrip() + "\n", "d")
    assert f.catalog("64").protocols[-1].lsp_categories == 0


def test_empty_path_is_kept_with_a_warning() -> None:
    rows = windows_10_rows()[:1]
    rows[0][7] = ""
    f, warnings = parse_firefox(annotation(rows), "p")
    assert f.catalog("64").protocols[0].path == ""
    assert any("line 1" in w and "no provider path" in w for w in warnings)


def test_result_is_a_valid_catalog_file() -> None:
    f, _ = parse_firefox(FIXTURE.read_text(encoding="utf-8"), "ff10")
    g, warnings = catalog_toml.loads(catalog_toml.dumps(f), "saved")
    assert g.same_content(f) and warnings == []


def test_sniffer() -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    assert looks_like_firefox(text)
    assert looks_like_firefox(text.removeprefix("Winsock_LSP: "))
    assert looks_like_firefox("\ufeff  Winsock_LSP: anything")
    assert not looks_like_firefox("")
    assert not looks_like_firefox(WINDOWS_10.read_text(encoding="utf-8"))
    netsh = HERE / "data" / "netsh" / "win10-1607-x64-lsp.txt"
    assert not looks_like_firefox(netsh.read_text(encoding="utf-8"))
    assert not looks_like_firefox("a : b : c : d : e : f : g : h : i : j")


def _with(line: int, index: int, value: str) -> str:
    rows = windows_10_rows()
    rows[line - 1][index] = value
    return annotation(rows)


MALFORMED = [
    ("empty", "", 1),
    ("prefix only", "Winsock_LSP: \n", 1),
    ("too few fields", "Winsock_LSP: MSAFD Tcpip [TCP/IP] : 2 : 2 : 1 : 6", 1),
    ("bad version", _with(2, 1, "two"), 2),
    ("family out of range", _with(3, 2, "99999999999"), 3),
    ("negative socket type garbage", _with(4, 3, "-x"), 4),
    ("service flags without 0x", _with(5, 5, "20066"), 5),
    ("bad provider flags", _with(6, 6, "0xZZ"), 6),
    ("flags wider than a DWORD", _with(7, 5, "0x100000000"), 7),
    ("categories by name", _with(8, 8, "LSP_PROXY"), 8),
    ("bad GUID", _with(9, 9, "e70f1aa0-ab8b"), 9),
    ("GUID with braces", _with(10, 9, "{e70f1aa0-ab8b-11cf-8ca3-00805f48a192}"), 10),
    ("name too long", _with(11, 0, "x" * 256), 11),
    ("path too long", _with(12, 7, "C:\\" + "p" * 300), 12),
    ("blank line", annotation(windows_10_rows()).replace(" \n ", " \n\n ", 1), 2),
    ("binary", annotation(windows_10_rows()[:2]) + " \n MZ\x90\x00\x03", 3),
]


@pytest.mark.parametrize("text,line", [(t, n) for _, t, n in MALFORMED],
                         ids=[c[0] for c in MALFORMED])
def test_malformed_annotation_names_the_line(text: str, line: int) -> None:
    with pytest.raises(CatalogFileError) as info:
        parse_firefox(text, "bad")
    message = info.value.message
    assert re.match(rf"bad: line {line}[: ]", message), message
    if "(entry" in message:
        assert f"(entry {line}" in message, message
    assert info.value.exit_code == 3
