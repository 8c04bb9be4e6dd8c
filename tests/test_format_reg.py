"""Registry exports (.reg): real exports in, regedit-style exports out (winsock-semantics §5)."""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import CATALOGS, TESTDATA, load_shipped
from sporder_py.errors import CatalogFileError, UsageError
from sporder_py.formats import catalog_toml
from sporder_py.formats.packed import encode_packed
from sporder_py.formats.regfile import looks_like_reg, parse_reg, read_reg_tree, render_reg
from sporder_py.model import Catalog, CatalogFile, NamespaceEntry

REG = Path(__file__).resolve().parent / "data" / "reg"
HIVES = TESTDATA / "hives"
ROOT_KEY = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters"
HEADER = "Windows Registry Editor Version 5.00"
# render_reg first deletes all four entry lists, whatever the file has (merge = exactly the model)
DELETIONS = "".join(f"[-{ROOT_KEY}\\{c}\\{k}]\r\n\r\n"
                    for c in ("NameSpace_Catalog5", "Protocol_Catalog9")
                    for k in ("Catalog_Entries", "Catalog_Entries64"))
_FIELDS = ("id", "name", "provider_id", "path", "version", "family", "max_address_length",
           "min_address_length", "socket_type", "protocol", "protocol_max_offset", "byte_order",
           "security_scheme", "message_size", "provider_reserved", "service_flags",
           "provider_flags")


def expected(name: str) -> dict:
    path = HIVES / f"{name}.expected.json"
    return json.loads(path.read_text(encoding="utf-8"))


def assert_matches_expected(f: CatalogFile, exp: dict) -> None:
    """Every protocol field, order, id, both catalogs, counters, namespaces of *.expected.json."""
    counters, ns_counters = exp["protocol_catalog"], exp["namespace_catalog"]
    assert (f.next_entry_id, f.serial) == (counters["Next_Catalog_Entry_ID"],
                                           counters["Serial_Access_Num"])
    assert f.bitnesses == [b for b in ("64", "32") if b in exp["catalogs"]]
    for bitness, cat in exp["catalogs"].items():
        got = f.catalogs[bitness]
        count = "Num_Catalog_Entries64" if bitness == "64" else "Num_Catalog_Entries"
        assert len(got.protocols) == len(cat["protocols"]) == counters[count]
        for pos, (e, p) in enumerate(zip(got.protocols, cat["protocols"], strict=True), 1):
            assert p["key"] == f"{pos:012d}"
            actual = {k: getattr(e, k) for k in _FIELDS}
            actual |= {"chain_len": e.chain_len, "chain": list(e.chain_ids)}
            assert actual == {k: p[k] for k in actual}, (bitness, pos)
        assert len(got.namespaces) == len(cat["namespaces"]) == ns_counters[count]
        for n, x in zip(got.namespaces, cat["namespaces"], strict=True):
            assert (n.provider_id, n.name, n.namespace, n.path, n.enabled, n.version,
                    n.stores_class_info, n.family) == (
                x["provider_id"], x["display_string"], x["namespace"], x["path"],
                bool(x["enabled"]), x["version"], bool(x["stores_service_class_info"]),
                x["address_family"] or 0)


def carried(f: CatalogFile) -> CatalogFile:
    """What a .reg export carries of a catalog file (see regfile's docstring)."""
    cats = {b: c.with_protocols([e.with_changes(lsp_categories=0) for e in c.protocols])
            for b, c in f.catalogs.items()}
    return CatalogFile(catalogs=cats, next_entry_id=f.next_entry_id, serial=f.serial)


def text_of(data: bytes) -> str:
    assert data.startswith(codecs.BOM_UTF16_LE)
    return data[2:].decode("utf-16-le")


def reg(text: str) -> bytes:
    return codecs.BOM_UTF16_LE + text.encode("utf-16-le")


# --- real exports --------------------------------------------------------------------------

def test_regedit5_utf16_export_of_a_real_win8_x64_catalog() -> None:
    # Values of the real SYSTEM-win8-x64 hive, exported verbatim (888-byte blobs with stale
    # bytes after the path, AppId_Catalog, hex(2) NameSpace_Callout): see data/reg/README.md.
    data = (REG / "win8-x64-winsock2.reg").read_bytes()
    assert looks_like_reg(data)
    f, warnings = parse_reg(data, "win8.reg")
    assert warnings == []
    assert_matches_expected(f, expected("SYSTEM-win8-x64"))


def test_regedit4_ansi_export_of_a_real_win7_x86_catalog() -> None:
    # 32-bit Windows: only Catalog_Entries, which is the native catalog; labelled "32".
    data = (REG / "win7-x86-winsock2-regedit4.reg").read_bytes()
    assert looks_like_reg(data) and not data.startswith(codecs.BOM_UTF16_LE)
    f, warnings = parse_reg(data, "win7.reg")
    assert warnings == [] and f.bitnesses == ["32"]
    assert_matches_expected(f, expected("SYSTEM-win7-x86"))
    netbios = [e for e in f.catalogs["32"].protocols if e.family == 17]   # AF_NETBIOS
    assert len(netbios) == 12 and all(e.protocol < 0 for e in netbios)
    assert f.catalogs["32"].get(1069).protocol == -2147483648


def _hivex_fragment() -> str:
    """The real virtio-vsock hivex fragment, its template placeholders filled in."""
    path = TESTDATA / "reg-hivex-virtio-vsock-packedcatalogitem.txt"
    body = "\n".join(line for line in path.read_text().splitlines() if not line.startswith("#"))
    name = ",".join(f"{b:02x}" for b in "Virtio Vsock STREAM\0".encode("utf-16-le"))
    for placeholder, value in (("vsock.nextID", "000003f8"), ("vsock.numEntries64", "00000001"),
                               ("vsock.numEntries", "00000001"), ("vsock.serialNum", "00000007"),
                               ("vsock.pathIndex64", "000000000001"),
                               ("vsock.pathIndex", "000000000001"),
                               ('"Virtio Vsock STREAM"|toHex', name)):
        body = body.replace("{{" + placeholder + "}}", value)
    return f"{HEADER}\n\n{body}\n"


def test_hivex_style_fragment_with_hex3_hex1_and_a_hive_relative_path() -> None:
    f, warnings = parse_reg(_hivex_fragment().encode(), "vsock.reg")
    assert warnings == [] and f.bitnesses == ["64", "32"]
    assert (f.next_entry_id, f.serial) == (1016, 7)
    for cat in f.catalogs.values():
        (e,) = cat.protocols
        assert (e.id, e.name, e.family, e.path) == (
            1015, "Virtio Vsock STREAM", 40, "%SystemRoot%\\System32\\viosocklib.dll")
        assert cat.namespaces == ()


def test_looks_like_reg() -> None:
    assert looks_like_reg(reg(HEADER + "\r\n"))
    assert looks_like_reg(b"REGEDIT4\r\n\r\n")
    assert looks_like_reg(codecs.BOM_UTF8 + HEADER.encode())
    assert not looks_like_reg((CATALOGS / "windows-11.toml").read_bytes())
    assert not looks_like_reg(HEADER.encode("utf-16-le"))     # no BOM
    assert not looks_like_reg(b"regf\x00\x00\x00\x00")
    assert not looks_like_reg(b"")


# --- writing -------------------------------------------------------------------------------

def test_render_is_a_regedit5_export() -> None:
    f = load_shipped("windows-11")
    data = render_reg(f)
    text = text_of(data)
    assert text.startswith(HEADER + "\r\n\r\n" + DELETIONS + "[" + ROOT_KEY + "]\r\n")
    assert "\n" not in text.replace("\r\n", "") and text.endswith("\"\r\n\r\n")
    lines = text.split("\r\n")
    for prev, line in zip(lines, lines[1:], strict=False):
        if not line.startswith("["):
            assert len(line) <= 80, line
        if prev.endswith("\\"):
            assert prev.endswith(",\\") and re.fullmatch(r"  ([0-9a-f]{2},)*[0-9a-f]{2}(,\\)?",
                                                         line)
    assert '"WinSock_Registry_Version"="2.0"' in lines
    assert '"Current_Protocol_Catalog"="Protocol_Catalog9"' in lines
    assert '"Current_NameSpace_Catalog"="NameSpace_Catalog5"' in lines
    # regedit's wrapping: 18 bytes after '"PackedCatalogItem"=hex:', then 25 per line.
    first = next(i for i, line in enumerate(lines) if line.startswith('"PackedCatalogItem"'))
    assert lines[first].count(",") == 18 and lines[first + 1].count(",") == 25
    tree = read_reg_tree(data, "w11.reg")
    for b, key in (("64", "Catalog_Entries64"), ("32", "Catalog_Entries")):
        cat = f.catalogs[b]
        assert tree.values("Protocol_Catalog9")[f"num_catalog_entries{b if b == '64' else ''}"
                                                ] == len(cat.protocols)
        for pos, e in enumerate(cat.protocols, 1):
            values = tree.values(f"Protocol_Catalog9\\{key}\\{pos:012d}")
            assert values["packedcatalogitem"] == encode_packed(e)
            assert len(values["packedcatalogitem"]) == 1016
            assert values["protocolname"] == e.name
    assert tree.values("Protocol_Catalog9")["next_catalog_entry_id"] == f.next_entry_id


def test_namespace_keys_render_exactly_as_in_the_real_export() -> None:
    fixture = text_of((REG / "win8-x64-winsock2.reg").read_bytes())
    ours = text_of(render_reg(parse_reg(reg(fixture), "win8.reg")[0]))
    start = f"[{ROOT_KEY}\\NameSpace_Catalog5\\Catalog_Entries]"
    end = f"[{ROOT_KEY}\\Protocol_Catalog9]"

    def section(t: str) -> str:
        return t[t.index(start):t.index(end)]

    assert section(ours) == section(fixture)
    assert section(ours).count('"ProviderInfo"=hex:\r\n') == 12


@pytest.mark.parametrize("name", sorted(p.stem for p in CATALOGS.glob("*.toml")))
def test_toml_to_reg_to_toml_keeps_every_carried_field(name: str) -> None:
    f = load_shipped(name)
    back, warnings = parse_reg(render_reg(f), f"{name}.reg")
    assert warnings == []
    assert back == carried(f)
    assert catalog_toml.dumps(back) == catalog_toml.dumps(carried(f))
    assert render_reg(back) == render_reg(f)


def _with_lsp() -> CatalogFile:
    f = load_shipped("windows-11")
    cat = f.catalogs["64"]
    base = cat.protocols[0]
    dummy = base.with_changes(id=1015, kind="layered", name="Inspector LSP", socket_type=0,
                              protocol=0, path="C:\\Program Files\\Müller\\lsp.dll",
                              provider_id="{11111111-2222-3333-4444-555555555555}",
                              provider_flags=base.provider_flags | 0x4, lsp_categories=0x1)
    chain = base.with_changes(id=1016, kind="chain", chain=(1015, base.id),
                              name="Inspector LSP over [line\r\nbreak]", path=dummy.path,
                              provider_id=dummy.provider_id)
    ns = NamespaceEntry(provider_id="{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}", name="Custom NSP",
                        namespace=12, path="%ProgramFiles%\\nsp.dll", enabled=False, version=3,
                        family=23, stores_class_info=True, provider_info="00ff10")
    cat = Catalog("64", (chain, *cat.protocols, dummy), (*cat.namespaces, ns))
    return replace(f.with_catalog(cat), next_entry_id=1017, serial=42)


def test_lsp_chain_and_rich_namespace_round_trip() -> None:
    f = _with_lsp()
    data = render_reg(f)
    text = text_of(data)
    assert '"ProtocolName"=hex(1):' in text            # a name with CR/LF stays a REG_SZ
    assert '"AddressFamily"=dword:00000017' in text
    back, warnings = parse_reg(data, "lsp.reg")
    assert warnings == []
    assert back == carried(f)
    assert back.catalogs["64"].get(1015).lsp_categories == 0   # not carried (unknown storage)
    assert back.catalogs["64"].protocols[0].chain == (1015, 1001)


@pytest.mark.parametrize("keep", ["32", "64"])
def test_single_catalog_files_render_and_parse_back_alone(keep: str) -> None:
    f = load_shipped("windows-10")
    only = CatalogFile(catalogs={keep: f.catalogs[keep]}, next_entry_id=f.next_entry_id,
                       serial=f.serial)  # type: ignore[dict-item]
    text = text_of(render_reg(only))
    assert text.count("Catalog_Entries64]") == 2 + 2 * (keep == "64")   # deleted, then ours
    assert ("Catalog_Entries64\\0" in text) == (keep == "64")
    assert ('"Num_Catalog_Entries"=' in text) == (keep == "32")
    back, warnings = parse_reg(render_reg(only), "one.reg")
    assert warnings == [] and back.bitnesses == [keep] and back == carried(only)


# --- warnings ------------------------------------------------------------------------------

def _small() -> str:
    """A valid two-catalog export of 2 protocols and 1 namespace provider per catalog."""
    f = load_shipped("windows-11")
    cats = {b: Catalog(b, c.protocols[:2], c.namespaces[:1]) for b, c in f.catalogs.items()}
    return text_of(render_reg(CatalogFile(catalogs=cats, next_entry_id=1015, serial=3)))


def _drop_key(text: str, key: str) -> str:
    return re.sub(re.escape(f"[{ROOT_KEY}\\{key}]") + r"\r\n(.+\r\n)*\r\n", "", text)


def test_gap_and_count_mismatch_warn_and_import_every_key() -> None:
    text = _drop_key(_small(), "Protocol_Catalog9\\Catalog_Entries64\\000000000001")
    f, warnings = parse_reg(reg(text), "gap.reg")
    second = load_shipped("windows-11").catalogs["64"].protocols[1]
    assert f.catalogs["64"].protocols == (second,)
    assert len(warnings) == 2
    assert "Catalog_Entries64 has entry keys 000000000002" in warnings[0]
    assert "holds 1 entries but Num_Catalog_Entries64 is 2" in warnings[1]


def test_missing_counters_default_with_a_warning() -> None:
    text = re.sub(r'"(Next_Catalog_Entry_ID|Serial_Access_Num)"=dword:\w+\r\n', "", _small())
    f, warnings = parse_reg(reg(text), "nocount.reg")
    assert (f.next_entry_id, f.serial) == (max(f.catalogs["64"].ids) + 1, 1)
    assert any("Next_Catalog_Entry_ID is missing" in w for w in warnings)
    assert any("Serial_Access_Num is missing" in w for w in warnings)


def test_current_control_set_wins_over_a_numbered_control_set() -> None:
    text = _small()
    other = text.replace("CurrentControlSet", "ControlSet002").split("\r\n", 2)[2]
    other = other.replace("dword:000003f7", "dword:00000fff")
    f, _ = parse_reg(reg(text + other), "two.reg")
    assert f.next_entry_id == 1015


# --- malformed .reg corpus: always CatalogFileError naming the line or the key -------------

_BLOB_RE = re.compile(r'"PackedCatalogItem"=hex:(?:[^\r\n]*\\\r\n)*[^\r\n]*')


def _with_blob(text: str, blob: bytes) -> str:
    value = '"PackedCatalogItem"=hex:' + ",".join(f"{b:02x}" for b in blob)
    return _BLOB_RE.sub(lambda _: value, text, count=1)


def _line(text: str, needle: str) -> str:
    return f"line {text[:text.index(needle)].count(chr(10)) + 1}:"


def _cases() -> dict[str, tuple[bytes, str]]:
    t = _small()
    blob = encode_packed(load_shipped("windows-11").catalogs["64"].protocols[0])
    chain9 = blob[:0x12C] + (9).to_bytes(4, "little") + blob[0x130:]
    cut = t.index("\\\r\n", t.rindex('"PackedCatalogItem"')) + 3
    key1 = f"[{ROOT_KEY}\\Protocol_Catalog9\\Catalog_Entries\\000000000001]"
    return {
        "empty file": (b"", "line 1:"),
        "wrong header": (reg(t.replace("5.00", "4.00", 1)), "line 1:"),
        "utf-16 without BOM": (t.encode("utf-16-le"), "byte-order mark"),
        "binary garbage": (bytes(range(256)) * 8, "NUL bytes"),
        "lone surrogate": (codecs.BOM_UTF16_LE + t.encode("utf-16-le")[:400] + b"\x00\xd8",
                           "not valid utf-16-le"),
        "bad cp1252 in REGEDIT4": (b"REGEDIT4\r\n\r\n\x81\r\n", "not valid cp1252"),
        "bad hex byte": (reg(t.replace("hex:25,", "hex:2g,", 1)),
                         _line(t, '"PackedCatalogItem"')),
        "three-digit hex byte": (reg(t.replace("hex:25,", "hex:255,", 1)), "bad hex byte"),
        "bad dword": (reg(t.replace("dword:000003f7", "dword:3f7zz")),
                      _line(t, '"Next_Catalog_Entry_ID"')),
        "dword of 9 digits": (reg(t.replace("dword:000003f7", "dword:1000003f7")), "bad dword"),
        "dangling continuation at EOF": (reg(t[:cut]), "the file ends"),
        "truncated continuation": (reg(t[:cut] + "\r\n" + key1 + "\r\n"), "does not continue"),
        "wrong blob size": (reg(_with_blob(t, blob[:700])),
                            "Catalog_Entries\\000000000001: PackedCatalogItem is 700 bytes"),
        "ChainLen 9 in the blob": (reg(_with_blob(t, chain9)), "ChainLen is 9"),
        "bad GUID size": (reg(re.sub(r'("ProviderId"=hex:[0-9a-f,]*),[0-9a-f]{2}\r', r"\1\r",
                                     t, count=1)), "ProviderId is 15 bytes"),
        "blob as a string": (reg(_BLOB_RE.sub('"PackedCatalogItem"="x"', t, count=1)),
                             "PackedCatalogItem must be a REG_BINARY"),
        "counter as a string": (reg(t.replace('"Serial_Access_Num"=dword:00000003',
                                              '"Serial_Access_Num"="3"')),
                                "Serial_Access_Num must be a REG_DWORD"),
        "hex(4) of 3 bytes": (reg(t.replace("dword:000003f7", "hex(4):f7,03,00")), "3 bytes"),
        "missing Parameters key": (reg(t.replace("WinSock2", "WinSock")),
                                   "WinSock2\\Parameters key"),
        "no protocol catalog": (reg(re.sub(r"\[[^\]]*Protocol_Catalog9[^\]]*\]\r\n(.+\r\n)*\r\n",
                                           "", t)), "no Protocol_Catalog9\\Catalog_Entries"),
        "value before any key": (reg(f"{HEADER}\r\n\r\n\"x\"=dword:1\r\n"), "line 3:"),
        "key without ]": (reg(t.replace(key1, key1[:-1])), _line(t, key1)),
        "key deletion": (reg(t.replace(key1, "[-" + key1[1:])), "deletes a key"),
        "value deletion": (reg(t.replace('"ProtocolName"="', '"ProtocolName"=-\r\n"x"="', 1)),
                           "deletes a value"),
        "unterminated string": (reg(t.replace('"2.0"', '"2.0')), "no closing quote"),
        "bad escape": (reg(t.replace('"2.0"', '"C:\\Windows"')), "unknown escape"),
        "garbage line": (reg(t.replace('"WinSock_Registry_Version"', "WinSock_Registry_Version")),
                         "expected a [key] line"),
        "non-numeric entry key": (reg(t + key1.replace("000000000001", "lock") + "\r\n"),
                                  "Catalog_Entries\\lock is not a numbered"),
        "next id not above the ids": (reg(t.replace("dword:000003f7", "dword:000003e9")),
                                      "not below next_entry_id 1001"),
        "two control sets": (reg(t + t.replace("CurrentControlSet", "ControlSet002")
                                 .split("\r\n", 2)[2]).replace(
            "CurrentControlSet".encode("utf-16-le"), "ControlSet001".encode("utf-16-le")),
            "several prefixes"),
    }


CASE_NAMES = [
    "empty file", "wrong header", "utf-16 without BOM", "binary garbage",
    "lone surrogate", "bad cp1252 in REGEDIT4", "bad hex byte", "three-digit hex byte",
    "bad dword", "dword of 9 digits", "dangling continuation at EOF", "truncated continuation",
    "wrong blob size", "ChainLen 9 in the blob", "bad GUID size", "blob as a string",
    "counter as a string", "hex(4) of 3 bytes", "missing Parameters key", "no protocol catalog",
    "value before any key", "key without ]", "key deletion", "value deletion",
    "unterminated string", "bad escape", "garbage line", "non-numeric entry key",
    "next id not above the ids", "two control sets"]


@pytest.fixture(scope="module")
def cases() -> dict[str, tuple[bytes, str]]:
    return _cases()


def test_the_corpus_covers_every_case(cases: dict[str, tuple[bytes, str]]) -> None:
    assert sorted(cases) == sorted(CASE_NAMES)


def test_utf16_big_endian_with_its_byte_order_mark_is_read() -> None:
    """Issue 12, item 14: a UTF-16BE .reg with a BOM was refused as "without the byte-order
    mark"; the BOM says the encoding, so it reads as the same catalog as the UTF-16LE file."""
    t = _small()
    le, _ = parse_reg(reg(t), "le.reg")
    be, _ = parse_reg(codecs.BOM_UTF16_BE + t.encode("utf-16-be"), "be.reg")
    assert be == le


@pytest.mark.parametrize("case", CASE_NAMES)
def test_malformed_reg_is_refused_naming_the_line_or_key(
        case: str, cases: dict[str, tuple[bytes, str]]) -> None:
    data, expected_text = cases[case]
    with pytest.raises(CatalogFileError) as info:
        parse_reg(data, "bad.reg")
    msg = info.value.message
    assert msg.startswith("bad.reg: ") and "\n" not in msg and msg.endswith(".")
    assert expected_text in msg, msg
    assert info.value.exit_code == 3


# --- key root and the deletion block (the writer for Windows images) -----------------------

@pytest.mark.parametrize("key_root, root", [
    (r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet", ROOT_KEY),
    (r"HKEY_LOCAL_MACHINE\OFFLINE\ControlSet001",
     r"HKEY_LOCAL_MACHINE\OFFLINE\ControlSet001\Services\WinSock2\Parameters"),
    (r"HKLM\SYSTEM\ControlSet002\\"[:-1],
     r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002\Services\WinSock2\Parameters"),
    ("HKLM\\SYSTEM\\ControlSet003\\",       # one trailing backslash is dropped
     r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\WinSock2\Parameters"),
    (r"hku\Offline System\ControlSet001",
     r"HKEY_USERS\Offline System\ControlSet001\Services\WinSock2\Parameters"),
])
def test_key_root_places_every_key_and_only_the_root_changes(key_root: str, root: str) -> None:
    f = _with_lsp()
    default = text_of(render_reg(f))
    text = text_of(render_reg(f, key_root))
    assert text == default.replace(ROOT_KEY, root)
    assert text.count(f"[-{root}\\") == 4
    back, warnings = parse_reg(render_reg(f, key_root), "root.reg")
    assert warnings == [] and back == carried(f)


@pytest.mark.parametrize("key_root, why", [
    ("", "must start with HKEY_LOCAL_MACHINE"),
    (r"SYSTEM\ControlSet001", "must start with HKEY_LOCAL_MACHINE"),
    (r"HKEY_CURRENT_USER\Software", "must start with HKEY_LOCAL_MACHINE"),
    (r"\HKLM\SYSTEM", "must start with HKEY_LOCAL_MACHINE"),
    ("HKLM", "names a registry root"),
    ("HKLM\\", "names a registry root"),
    (r"HKLM\SYSTEM\\ControlSet001", "empty key name"),
    ("HKLM\\SYSTEM\\\\", "empty key name"),
    (r"HKLM\ \ControlSet001", "empty key name"),
    ("HKLM\\SYSTEM\nX", "control character"),
    ("HKLM\\SYSTEM\x00", "control character"),
    ("HKLM\\SYS\x7fTEM", "control character"),
    (r"HKLM\SYSTEM]", "bracket"),
    (r"HKLM\[SYSTEM", "bracket"),
    ("HKLM\\" + "x" * 256, "longer than 255 characters"),
    (ROOT_KEY, "not a key of WinSock2"),
    (None, "must be a string"),
])
def test_a_bad_key_root_is_a_usage_error_naming_it(key_root: str, why: str) -> None:
    f = load_shipped("windows-11")
    with pytest.raises(UsageError) as info:
        render_reg(f, key_root)
    msg = info.value.message
    assert msg.startswith("the registry key root ") and why in msg, msg
    assert "\n" not in msg and "\x00" not in msg and msg.endswith(".")
    assert info.value.exit_code == 2 and info.value.code == "bad-key-root"
    if isinstance(key_root, str) and key_root.isprintable():
        assert f"'{key_root[:300]}'" in msg


def test_the_deletion_block_comes_first_and_always_names_all_four_entry_lists() -> None:
    f = load_shipped("windows-10")
    only32 = replace(f, catalogs={"32": f.catalogs["32"]})
    text = text_of(render_reg(only32))
    head = text.split(f"[{ROOT_KEY}]")[0]
    assert head == f"{HEADER}\r\n\r\n{DELETIONS}"
    assert text.count("[-") == 4


def test_the_reader_applies_the_deletion_block_in_file_order() -> None:
    # A file that adds stale entries, then deletes the list, then adds the real catalog:
    # regedit would leave only the last ones, and so does the reader.
    small = _small()
    body = small.split("\r\n", 2)[2]                       # after the header
    stale = re.sub(r"(Catalog_Entries64?\\)000000000002", r"\g<1>000000000009", body)
    f, warnings = parse_reg(reg(f"{HEADER}\r\n\r\n{stale}{body}"), "order.reg")
    assert warnings == []
    assert f == parse_reg(reg(small), "small.reg")[0]
    # ... and a deletion after the additions removes them.
    tail = f"[-{ROOT_KEY}\\Protocol_Catalog9\\Catalog_Entries64]\r\n\r\n"
    f, _ = parse_reg(reg(small + tail), "tail.reg")
    assert f.catalogs["64"].protocols == () and len(f.catalogs["64"].namespaces) == 1
    f, _ = parse_reg(reg(small + tail + tail.replace("Protocol_Catalog9", "NameSpace_Catalog5")),
                     "tail2.reg")
    assert f.bitnesses == ["32"]


@pytest.mark.parametrize("key", ["", "\\Protocol_Catalog9", "\\Protocol_Catalog9\\Catalog_Entries"
                                 "\\000000000001", "\\AppId_Catalog",
                                 "\\Protocol_Catalog9\\Catalog_Entries\\x\\y"])
def test_other_deletions_below_parameters_are_still_refused(key: str) -> None:
    text = _small() + f"[-{ROOT_KEY}{key}]\r\n\r\n"
    with pytest.raises(CatalogFileError, match="deletes a key"):
        parse_reg(reg(text), "del.reg")


def test_deletions_elsewhere_are_ignored_and_values_may_not_follow_a_deletion() -> None:
    text = _small() + "[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Other]\r\n\r\n"
    assert parse_reg(reg(text), "x.reg")[0] == parse_reg(reg(_small()), "y.reg")[0]
    bad = _small() + f"[-{ROOT_KEY}\\Protocol_Catalog9\\Catalog_Entries]\r\n\"x\"=dword:1\r\n"
    with pytest.raises(CatalogFileError, match="value after a \\[-key\\] deletion line"):
        parse_reg(reg(bad), "v.reg")


def test_packed_size_and_namespace_serial_options() -> None:
    f = _with_lsp()
    tree = read_reg_tree(render_reg(f, packed_size=888, namespace_serial=7), "o.reg")
    blob = tree.values("Protocol_Catalog9\\Catalog_Entries64\\000000000001")["packedcatalogitem"]
    assert blob == encode_packed(f.catalogs["64"].protocols[0])[:888]
    assert tree.values("NameSpace_Catalog5")["serial_access_num"] == 7
    assert tree.values("Protocol_Catalog9")["serial_access_num"] == f.serial
    assert parse_reg(render_reg(f, packed_size=888), "888.reg")[0] == carried(f)
    with pytest.raises(ValueError):
        render_reg(f, packed_size=900)
