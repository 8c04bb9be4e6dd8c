"""Lossy imports completed from the well-known Microsoft providers (issue 13, case 5;
sporder_py/known.py): the measure (netsh export -> import answers every socket() call as the TOML
does), how strictly an entry matches, what is recorded, and how it is shown and stored."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from conftest import CATALOGS, TESTDATA, load_shipped
from sporder_py import known
from sporder_py import winsock as ws
from sporder_py.errors import CatalogFileError
from sporder_py.formats import catalog_toml, jsondoc
from sporder_py.formats.firefox import parse_firefox
from sporder_py.formats.netsh import parse_netsh, protocol_block, render_netsh
from sporder_py.model import Catalog, CatalogFile, ProtocolEntry
from sporder_py.probe import all_triples
from sporder_py.resolver import resolve

SHIPPED = sorted(p.stem for p in CATALOGS.glob("*.toml"))
TCP4 = "{E70F1AA0-AB8B-11CF-8CA3-00805F48A192}"
MSWSOCK = r"%SystemRoot%\system32\mswsock.dll"


def measured_triples(cat: Catalog) -> list[tuple[int, int, int]]:
    """What ``probe --all`` uses, plus protocol 0 for each (family, type) and, for every family
    with a SOCK_RAW entry, RAW protocols 1..255."""
    served = all_triples(cat)
    out = list(all_triples(cat, include_errors=True))
    out += [(af, t, 0) for af, t in dict.fromkeys((af, t) for af, t, _ in served)]
    for af in dict.fromkeys(af for af, t, _ in served if t == ws.parse_socket_type("SOCK_RAW")):
        out += [(af, ws.parse_socket_type("SOCK_RAW"), p) for p in range(1, 256)]
    return list(dict.fromkeys(out))


def answer(cat: Catalog, triple: tuple[int, int, int]) -> object:
    r = resolve(cat, *triple)
    if r.error is not None:
        return ("error", r.error)
    assert r.entry is not None
    return (r.entry.id, tuple(x.id if x else None for x in r.layers))


def differences(f: CatalogFile, g: CatalogFile) -> tuple[int, list[object]]:
    compared, differ = 0, []
    for b in f.bitnesses:
        for t in measured_triples(f.catalog(b)):
            compared += 1
            if answer(f.catalog(b), t) != answer(g.catalog(b), t):
                differ.append((b, t, answer(f.catalog(b), t), answer(g.catalog(b), t)))
    return compared, differ


# -- the measure --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SHIPPED)
def test_netsh_export_reads_back_with_the_same_resolve_answers(name: str) -> None:
    f = load_shipped(name)
    g, warnings = parse_netsh(render_netsh(f), name)
    compared, differ = differences(f, g)
    assert compared > 500 and differ == []
    # Every entry of a shipped catalog is a known provider: nothing is left unknown.
    assert not any("match no known" in w for w in warnings)
    assert sum("inferred from the known Microsoft provider" in w for w in warnings) == 1


def test_the_measure_is_not_vacuous(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the completion (what the import did before) most answers differ."""
    monkeypatch.setattr(known, "complete", lambda f, missing, source: (f, []))
    total = differ = 0
    for name in SHIPPED:
        f = load_shipped(name)
        compared, diff = differences(f, parse_netsh(render_netsh(f), name)[0])
        total, differ = total + compared, differ + len(diff)
    # Measured when this was built: 4262 triples over the four shipped catalogs (both bitnesses),
    # 4146 of them answered differently before, 0 after.
    assert total > 4000 and differ > 0.9 * total


@pytest.mark.parametrize("name", SHIPPED)
def test_firefox_annotation_of_a_shipped_catalog_resolves_to_the_same_entries(name: str) -> None:
    """The annotation has no ids (1001.. are assigned in order), so compare the entry chosen by
    position; address lengths come back from the known providers too."""
    f = load_shipped(name)
    cat = f.catalog(f.native)
    rows = [" : ".join([e.name, str(e.version), str(e.family), str(e.socket_type),
                        str(e.protocol), f"0x{e.service_flags:x}", f"0x{e.provider_flags:x}",
                        e.path, f"0x{e.lsp_categories:x}", e.provider_id.strip("{}").lower()])
            for e in cat.protocols]
    g, _ = parse_firefox("Winsock_LSP: " + " \n ".join(rows), name)
    back = g.catalog("64")
    for x, y in zip(cat.protocols, back.protocols, strict=True):
        assert (y.min_address_length, y.max_address_length, y.protocol_max_offset,
                y.message_size) == (x.min_address_length, x.max_address_length,
                                    x.protocol_max_offset, x.message_size), x.name
    for t in measured_triples(cat):
        a, b = resolve(cat, *t), resolve(back, *t)
        assert a.error == b.error and cat.position(a.entry.id if a.entry else 0) == \
            back.position(b.entry.id if b.entry else 0), t


# -- matching -----------------------------------------------------------------------------------

def tcp(**changes: object) -> ProtocolEntry:
    base = ProtocolEntry(1001, "base", "MSAFD Tcpip [TCP/IP]", TCP4, MSWSOCK, 2, 1, 6,
                         service_flags=0x20066)
    return replace(base, **changes)


@pytest.mark.parametrize("path", [
    MSWSOCK, r"%systemroot%\System32\MSWSOCK.DLL", r"C:\Windows\system32\mswsock.dll",
    r"%windir%\system32\mswsock.dll", "%SystemRoot%/system32/mswsock.dll",
    r"D:\WINDOWS\SysWOW64\mswsock.dll",
])
def test_path_spellings_of_the_same_dll_match(path: str) -> None:
    found = known.known_provider(tcp(path=path))
    assert found is not None and found.provider_flags == ws.PFL_MATCHES_PROTOCOL_ZERO


@pytest.mark.parametrize("changes", [
    {"provider_id": "{F9EAB0C0-26D4-11D0-BBBF-00AA006C34E4}"},     # TCP/IPv6 GUID, v4 triple
    {"protocol": 17}, {"socket_type": 2}, {"family": 23},             # another triple
    {"path": r"%SystemRoot%\system32\evil\mswsock.dll"},
    {"path": r"C:\Program Files\Proxy\mswsock.dll"},
    {"kind": "chain", "chain": (1005, 1002)},                          # not a base entry
])
def test_guid_triple_path_and_kind_must_all_match(changes: dict[str, object]) -> None:
    assert known.known_provider(tcp(**changes)) is None


def test_the_name_is_not_compared() -> None:
    """netsh prints localized names (zh-CN RSVP); GUID, triple and path identify a provider."""
    assert known.known_provider(tcp(name="任意名称")) is not None
    f, _ = parse_netsh((TESTDATA / "netsh" / "win11-x64-zhcn.txt").read_text("utf-8"), "zh")
    rsvp = f.catalog("64").get(1003)
    assert rsvp.name == "RSVP TCP 服务提供商" and rsvp.provider_flags == 0x8
    assert rsvp.inferred == ("provider_flags", "protocol_max_offset", "message_size")


def test_id_ranges() -> None:
    assert known.id_ranges([1006, 1001, 1002, 1003, 1003]) == "1001-1003, 1006"
    assert known.id_ranges([]) == ""


# -- what an import records and says ------------------------------------------------------------

def _block(e: ProtocolEntry, bitness: str = "64") -> str:
    return protocol_block(e, bitness) + "\n"  # type: ignore[arg-type]


def test_unknown_entries_keep_zero_and_one_warning_says_so() -> None:
    third = [ProtocolEntry(1001 + i, "base", f"Vendor {i}", "{11111111-2222-3333-4444-55555555555"
                           f"{i}}}", r"C:\vendor\v.dll", 2, 1, 6) for i in range(3)]
    text = _block(tcp(id=1010)) + "".join(_block(e) for e in third)
    f, warnings = parse_netsh(text, "paste")
    cat = f.catalog("64")
    assert [e.provider_flags for e in cat.protocols] == [0x8, 0, 0, 0]
    assert [e.inferred for e in cat.protocols[1:]] == [(), (), ()]
    (unknown,) = [w for w in warnings if "match no known" in w]
    assert unknown.startswith("paste: entries 1001-1003 of the 64-bit catalog match no known")
    assert "protocol 0 does not select them" in unknown
    assert resolve(cat, 2, 1, 0).entry.id == 1010


def test_chain_over_an_unknown_base_is_not_completed() -> None:
    vendor = ProtocolEntry(1001, "base", "Vendor", "{11111111-2222-3333-4444-555555555555}",
                           r"C:\vendor\v.dll", 2, 1, 6)
    hidden = ProtocolEntry(1002, "layered", "LSP", "{11111111-2222-3333-4444-555555555556}",
                           r"C:\lsp.dll", 2, 0, 0)
    chain = ProtocolEntry(1003, "chain", "LSP over [Vendor]",
                          "{11111111-2222-3333-4444-555555555557}", r"C:\lsp.dll", 2, 1, 6,
                          chain=(1002, 1001))
    over_tcp = replace(chain, id=1004, chain=(1002, 1010), name="LSP over [TCP]",
                       socket_type=2)                      # triple differs from its base
    text = "".join(_block(e) for e in (chain, over_tcp, vendor, tcp(id=1010), hidden))
    f, warnings = parse_netsh(text, "p")
    cat = f.catalog("64")
    assert cat.get(1003).inferred == () and cat.get(1004).inferred == ()
    assert cat.get(1002).provider_flags == ws.PFL_HIDDEN
    assert cat.get(1002).inferred == ("provider_flags",)
    assert any("entries 1001, 1003-1004 of the 64-bit catalog match no known" in w
               for w in warnings)


def test_a_thirty_entry_paste_gives_a_handful_of_warnings() -> None:
    f, warnings = parse_netsh((TESTDATA / "netsh" / "win10-1607-x64-lsp.txt").read_text("utf-8"),
                              "moby2")
    assert sum(len(c.protocols) for c in f.catalogs.values()) == 34
    assert len(warnings) == 5
    assert ("moby2: entries 1001-1013 of the 64- and 32-bit catalogs: provider_flags, "
            "protocol_max_offset, message_size inferred from the known Microsoft provider"
            in warnings[1])
    assert warnings[2].startswith("moby2: chain entries 1032-1034 of the 64- and 32-bit "
                                  "catalogs: provider_flags, protocol_max_offset, message_size "
                                  "copied from the base provider")
    assert warnings[3].startswith("moby2: layered entry 1031 of the 64- and 32-bit catalogs: "
                                  "provider_flags set to PFL_HIDDEN")


def test_inferred_survives_toml_and_json_and_is_validated() -> None:
    f, _ = parse_netsh((TESTDATA / "netsh" / "win10-1607-x64-lsp.txt").read_text("utf-8"), "m")
    text = catalog_toml.dumps(f)
    assert 'inferred = [\n    "provider_flags",\n    "protocol_max_offset",\n' in text
    g, warnings = catalog_toml.loads(text, "saved")
    assert g == f and warnings == [] and catalog_toml.dumps(g) == text
    entry = jsondoc.entry_to_json(f.catalog("64").get(1006), 1)
    assert entry["inferred"] == ["provider_flags", "protocol_max_offset", "message_size"]
    doc = json.dumps({"data": {"catalog": "64", "entries": jsondoc.catalog_entries(
        f.catalog("64"))}})
    back, _ = jsondoc.parse_list_json(doc, "list.json")
    assert back.catalog("64").get(1006).inferred == f.catalog("64").get(1006).inferred
    # A catalog without inferred fields has no such key anywhere (existing output unchanged).
    w11 = load_shipped("windows-11")
    assert "inferred" not in catalog_toml.dumps(w11)
    assert all("inferred" not in e for e in jsondoc.catalog_entries(w11.catalog("64")))


@pytest.mark.parametrize("value,needle", [
    ('["provider_flags", "colour"]', "names 'colour', which is not a field"),
    ('["id"]', "names 'id', which is not a field"),
    ('["message_size", "message_size"]', "names the same field twice"),
    ('"provider_flags"', "must be a list of field names, not a string"),
    ("[1]", "must be a list of field names, not a list"),
])
def test_bad_inferred_list_is_refused(value: str, needle: str) -> None:
    text = (CATALOGS / "windows-11.toml").read_text("utf-8")
    text = text.replace("message_size = 0\n", f"message_size = 0\ninferred = {value}\n", 1)
    with pytest.raises(CatalogFileError) as info:
        catalog_toml.loads(text, "bad.toml")
    message = info.value.message
    assert message.startswith("bad.toml: catalog64 protocol #1 (id 1001): field 'inferred' ")
    assert needle in message and info.value.exit_code == 3


def test_import_warns_and_show_lists_inferred_fields(cli, catalog_path, tmp_path) -> None:
    paste = tmp_path / "paste.txt"
    paste.write_text((TESTDATA / "netsh" / "win-x86-ifs-lsp.txt").read_text("utf-8"))
    r = cli("--catalog", catalog_path, "import", paste)
    assert r.code == 0, r.err
    assert "entries 1001-1010 of the 64-bit catalog: provider_flags" in r.err
    assert "layered entry 1011 of the 64-bit catalog: provider_flags set to PFL_HIDDEN" in r.err
    assert "inferred = [" in catalog_path.read_text("utf-8")
    r = cli("--catalog", catalog_path, "show", "1001")
    line = next(x for x in r.out.splitlines() if x.startswith("Inferred fields:"))
    assert re.fullmatch(r"Inferred fields: +provider_flags, protocol_max_offset, message_size "
                        r"\(from the known Microsoft provider with this provider GUID, \(family, "
                        r"type, protocol\) and DLL path\)", line), line
    r = cli("--catalog", catalog_path, "show", "1012", "--json")
    assert r.json["data"]["entry"]["inferred"] == ["provider_flags", "protocol_max_offset",
                                                   "message_size"]
    r = cli("--catalog", catalog_path, "resolve", "inet", "stream", "0", "--json")
    assert r.code == 0 and r.json["data"]["entry"]["id"] == 1012
    r = cli("--catalog", catalog_path, "show", "1001")
    r2 = cli("--catalog", CATALOGS / "windows-11.toml", "show", "1001")
    assert "Inferred" not in r2.out


def test_firefox_names_that_do_not_say_one_thing_stay_base_entries() -> None:
    def row(name: str, st: int, proto: int, flags: str, path: str, guid: str) -> str:
        return f"{name} : 2 : 2 : {st} : {proto} : 0x66 : {flags} : {path} : 0x0 : {guid}"

    lsp = r"C:\lsp\lsp.dll"
    g1, g2 = "5a3f1c2e-9b47-4d8e-a1c6-3e2f8b9d0a21", "5a3f1c2e-9b47-4d8e-a1c6-3e2f8b9d0a22"
    tcp_row = row("MSAFD Tcpip [TCP/IP]", 1, 6, "0x8", MSWSOCK, TCP4.strip("{}").lower())
    rows = [
        row("Twice over [MSAFD Tcpip [TCP/IP]]", 1, 6, "0x8", lsp, ""),   # two hidden "Twice"
        row("Other DLL over [MSAFD Tcpip [TCP/IP]]", 1, 6, "0x8", r"C:\x.dll", ""),
        row("Solo over [MSAFD Tcpip [UDP/IP]]", 1, 6, "0x8", lsp, ""),    # no such entry below
        row("Solo over [MSAFD Tcpip [TCP/IP]]", 1, 6, "0x8", lsp, ""),
        row("Top over [Solo over [MSAFD Tcpip [TCP/IP]]]", 1, 6, "0x8", lsp, ""),
        tcp_row,
        row("Twice", 0, 0, "0x4", lsp, g1), row("Twice", 0, 0, "0x4", lsp, g2),
        row("Other DLL", 0, 0, "0x4", lsp, "5a3f1c2e-9b47-4d8e-a1c6-3e2f8b9d0a23"),
        row("Solo", 0, 0, "0x4", lsp, "5a3f1c2e-9b47-4d8e-a1c6-3e2f8b9d0a24"),
        row("Top", 0, 0, "0x4", lsp, "5a3f1c2e-9b47-4d8e-a1c6-3e2f8b9d0a25"),
    ]
    f, warnings = parse_firefox("Winsock_LSP: " + " \n ".join(rows), "ff")
    cat = f.catalog("64")
    assert [cat.get(i).kind for i in range(1001, 1006)] == ["base", "base", "base", "chain",
                                                            "chain"]
    assert cat.get(1004).chain == (1010, 1006)
    assert cat.get(1005).chain == (1011, 1010, 1006)      # over a chain: [Top, Solo, base]
    assert sum("imported as a base entry" in w for w in warnings) == 3
    assert any("1004 = [1010, 1006]; 1005 = [1011, 1010, 1006]" in w for w in warnings)
    assert resolve(cat, 2, 1, 6).entry.id == 1001          # still first, as Windows would
