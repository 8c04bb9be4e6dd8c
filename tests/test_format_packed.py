"""PackedCatalogItem codec (winsock-semantics §5.3, §1.1) against a real captured blob."""

from __future__ import annotations

import re
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import CATALOGS, TESTDATA
from sporder_py import winsock as ws
from sporder_py.errors import CatalogFileError
from sporder_py.formats.packed import PACKED_MIN, PACKED_SIZE, decode_packed, encode_packed
from sporder_py.model import ProtocolEntry

CAPTURE = TESTDATA / "reg-hivex-virtio-vsock-packedcatalogitem.txt"


def _captured_blobs() -> list[bytes]:
    text = CAPTURE.read_text()
    return [bytes.fromhex(h.replace(",", ""))
            for h in re.findall(r'"PackedCatalogItem"=hex\(3\):([0-9a-f,]+)', text)]


@pytest.fixture(scope="module")
def vsock_blob() -> bytes:
    blobs = _captured_blobs()
    assert len(blobs) == 2 and blobs[0] == blobs[1]   # same blob in both catalogs
    return blobs[0]


def test_real_vsock_blob_decodes_to_the_captured_values(vsock_blob: bytes) -> None:
    # The values the collector decoded, from the header of the testdata file.
    warnings: list[str] = []
    e = decode_packed(vsock_blob, "vsock", warnings)
    assert len(vsock_blob) == PACKED_MIN == 888
    assert warnings == []
    assert e == ProtocolEntry(
        id=1015, kind="base", name="Virtio Vsock STREAM",
        provider_id="{9980498C-E732-482B-9F67-924273A56666}",
        path="%SystemRoot%\\System32\\viosocklib.dll", family=40, socket_type=1, protocol=0,
        protocol_max_offset=0, min_address_length=12, max_address_length=16,
        service_flags=0x20026, provider_flags=0x8, chain=(), version=0, byte_order=1,
        security_scheme=0, message_size=0, provider_reserved=0)
    assert e.chain_len == 1 and e.chain_ids == (1015,)


def test_real_vsock_blob_reencodes_identically_plus_zero_trailer(vsock_blob: bytes) -> None:
    # The capture is the 888-byte form with zero ChainEntries; encode_packed writes the
    # 1016-byte form (§5.3): the first 888 bytes are the capture, then 128 zero bytes.
    out = encode_packed(decode_packed(vsock_blob, "vsock"))
    assert len(out) == PACKED_SIZE == 1016
    assert out[:PACKED_MIN] == vsock_blob
    assert out[PACKED_MIN:] == bytes(128)


def test_encode_puts_every_field_at_its_section_5_3_offset() -> None:
    e = ProtocolEntry(
        id=1031, kind="chain", name="LSP over [X]",
        provider_id="{01234567-89AB-CDEF-0123-456789ABCDEF}",
        path="C:\\lsp\\x.dll", family=23, socket_type=2, protocol=17, protocol_max_offset=5,
        min_address_length=28, max_address_length=30, service_flags=0x20609,
        provider_flags=0x10008, chain=(1030, 1002, 1001), version=2, byte_order=1,
        security_scheme=7, message_size=0xFFFFFFFF, provider_reserved=0xABCD,
        service_flags2=0x11, service_flags3=0x22, service_flags4=0x33)
    b = encode_packed(e)

    def at(off: int, fmt: str = "<I") -> int:
        return struct.unpack_from(fmt, b, off)[0]

    assert b[:12] == b"C:\\lsp\\x.dll" and b[12:260] == bytes(248)
    assert [at(260), at(264), at(268), at(272)] == [0x20609, 0x11, 0x22, 0x33]
    assert at(0x114) == 0x10008
    assert b[0x118:0x128] == bytes.fromhex("67452301ab89efcd0123456789abcdef")  # Data1..3 LE
    assert at(0x128) == 1031 and at(0x12C, "<i") == 3
    assert struct.unpack_from("<7I", b, 0x130) == (1030, 1002, 1001, 0, 0, 0, 0)
    assert [at(off, "<i") for off in range(0x14C, 0x170, 4)] == [2, 23, 30, 28, 2, 17, 5, 1, 7]
    assert at(0x170) == 0xFFFFFFFF and at(0x174) == 0xABCD
    assert b[0x178:0x178 + 24] == "LSP over [X]".encode("utf-16-le")
    assert b[0x178 + 24:0x378] == bytes(512 - 24) and b[0x378:] == bytes(128)


def test_netbios_negative_protocols_round_trip() -> None:
    for proto in (-6, -1, -2147483648):
        e = ProtocolEntry(id=1061, kind="base", name="MSAFD NetBIOS [\\Device\\NetBT_Tcpip_{X}] "
                          "SEQPACKET 0", provider_id="{8D5F1830-C273-11CF-95C8-00805F48A192}",
                          path="%SystemRoot%\\system32\\mswsock.dll", family=17, socket_type=5,
                          protocol=proto, min_address_length=20, max_address_length=20)
        b = encode_packed(e)
        assert struct.unpack_from("<i", b, 0x160)[0] == proto
        assert decode_packed(b, "x") == e


def test_cp1252_path_is_stored_as_ansi_bytes() -> None:
    e = ProtocolEntry(id=1001, kind="layered", name="LSP",
                      provider_id="{00000000-0000-0000-0000-000000000001}",
                      path="C:\\Programme\\Müller €\\lsp.dll", family=2, socket_type=0, protocol=0)
    b = encode_packed(e)
    assert b[:29] == b"C:\\Programme\\M\xfcller \x80\\lsp.dll"
    assert decode_packed(b, "x") == e


def test_base_chain_entries_are_ignored_and_written_as_zeros(vsock_blob: bytes) -> None:
    # Some captures store the entry's own id in ChainEntries[0] of a base entry (§1.2).
    own = bytearray(vsock_blob)
    struct.pack_into("<I", own, 0x130, 1015)
    e = decode_packed(bytes(own), "x")
    assert e.chain == () and e.kind == "base"
    assert encode_packed(e)[0x130:0x14C] == bytes(28)


def test_sizes_other_than_888_and_1016_warn_but_decode(vsock_blob: bytes) -> None:
    w: list[str] = []
    assert decode_packed(vsock_blob + bytes(128), "k", w).id == 1015 and w == []
    decode_packed(vsock_blob + bytes(12), "key 7", w)
    decode_packed(vsock_blob + b"\x01" + bytes(127), "key 8", w)
    assert len(w) == 2 and "key 7" in w[0] and "900 bytes" in w[0] and "key 8" in w[1]


_ids = st.integers(1, ws.DWORD_MAX)      # id 0 is refused: an empty or damaged blob
_ints = st.integers(ws.INT_MIN, ws.INT_MAX)


@st.composite
def _entries(draw: st.DrawFn) -> ProtocolEntry:
    kind = draw(st.sampled_from(["layered", "base", "chain"]))
    chain = tuple(draw(st.lists(_ids, min_size=2, max_size=7))) if kind == "chain" else ()
    guid = draw(st.uuids()).hex.upper()
    return ProtocolEntry(
        id=draw(_ids), kind=kind,
        name=draw(st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\0"),
                          max_size=120)),
        provider_id=f"{{{guid[:8]}-{guid[8:12]}-{guid[12:16]}-{guid[16:20]}-{guid[20:]}}}",
        path=draw(st.text(st.characters(codec="cp1252", exclude_characters="\0"),
                          max_size=259)),
        family=draw(_ints), socket_type=draw(_ints), protocol=draw(_ints),
        protocol_max_offset=draw(_ints), min_address_length=draw(_ints),
        max_address_length=draw(_ints), service_flags=draw(_ids), provider_flags=draw(_ids),
        chain=chain, version=draw(_ints), byte_order=draw(_ints), security_scheme=draw(_ints),
        message_size=draw(_ids), provider_reserved=draw(_ids), service_flags2=draw(_ids),
        service_flags3=draw(_ids), service_flags4=draw(_ids))


@settings(max_examples=150, deadline=None)
@given(_entries())
def test_every_representable_entry_round_trips(e: ProtocolEntry) -> None:
    assert decode_packed(encode_packed(e), "x") == e


# --- malformed PackedCatalogItem corpus: always CatalogFileError naming `where` -------------

def _blob(**patch: tuple[int, bytes]) -> bytes:
    base = bytearray(encode_packed(ProtocolEntry(
        id=1001, kind="base", name="MSAFD Tcpip [TCP/IP]",
        provider_id="{E70F1AA0-AB8B-11CF-8CA3-00805F48A192}",
        path="%SystemRoot%\\system32\\mswsock.dll", family=2, socket_type=1, protocol=6)))
    for off, data in patch.values():
        base[off:off + len(data)] = data
    return bytes(base)


BAD_BLOBS = {
    "empty": (b"", "0 bytes"),
    "one byte short": (_blob()[:887], "887 bytes"),
    "path only": (_blob()[:260], "260 bytes"),
    "truncated inside WSAPROTOCOL_INFOW": (_blob()[:600], "600 bytes"),
    "path without NUL": (_blob(p=(0, b"A" * 260)), "NUL terminator"),
    "path byte undefined in cp1252": (_blob(p=(3, b"\x81")), "0x81"),
    "negative ChainLen": (_blob(c=(0x12C, struct.pack("<i", -1))), "ChainLen is -1"),
    "ChainLen 8": (_blob(c=(0x12C, struct.pack("<i", 8))), "ChainLen is 8"),
    "ChainLen huge": (_blob(c=(0x12C, struct.pack("<i", 0x7FFFFFFF))), "2147483647"),
    "name without NUL": (_blob(n=(0x178, "x".encode("utf-16-le") * 256)), "szProtocol"),
    "name with lone surrogate": (_blob(n=(0x178, b"\x00\xd8\x00\x00")), "UTF-16"),
    "binary garbage": (bytes(range(1, 256)) * 4, "NUL terminator"),
    "all 0xFF": (b"\xff" * 1016, "NUL terminator"),
}


@pytest.mark.parametrize("case", sorted(BAD_BLOBS))
def test_malformed_blob_is_refused_with_its_location(case: str) -> None:
    blob, expected = BAD_BLOBS[case]
    with pytest.raises(CatalogFileError) as info:
        decode_packed(blob, "x.reg: Protocol_Catalog9\\Catalog_Entries\\000000000004")
    msg = info.value.message
    assert msg.startswith("x.reg: Protocol_Catalog9\\Catalog_Entries\\000000000004: ")
    assert expected in msg and msg.endswith(".") and "\n" not in msg
    assert info.value.exit_code == 3


def _entry(**changes: object) -> ProtocolEntry:
    return decode_packed(_blob(), "x").with_changes(**changes)


@pytest.mark.parametrize("changes, expected", [
    ({"path": "C:\\日本\\lsp.dll"}, "no cp1252"),
    ({"path": "C:\\" + "a" * 257}, "259 bytes"),
    ({"name": "n" * 256}, "255 characters"),
    ({"name": "\U0001F600" * 200}, "UTF-16 code units"),
    ({"kind": "chain", "chain": tuple(range(1, 9))}, "chain has 8 ids"),
    ({"kind": "chain", "chain": (5,)}, "chain has 1 ids"),
    ({"family": 2**31}, "C type"),
    ({"message_size": -1}, "C type"),
    ({"provider_id": "{not-a-guid}"}, "not a GUID"),
])
def test_unencodable_entries_are_refused_naming_the_entry(changes: dict[str, object],
                                                          expected: str) -> None:
    with pytest.raises(CatalogFileError) as info:
        encode_packed(_entry(**changes))
    assert "entry 1001" in info.value.message and expected in info.value.message


def test_shipped_catalog_entries_round_trip() -> None:
    from sporder_py.formats import catalog_toml
    paths = sorted(CATALOGS.glob("*.toml"))
    assert len(paths) >= 4
    for path in paths:
        f, _ = catalog_toml.loads(path.read_text(encoding="utf-8"), path.name)
        for cat in f.catalogs.values():
            for e in cat.protocols:   # LSP categories are not part of the blob
                assert decode_packed(encode_packed(e), path.name) == e.with_changes(
                    lsp_categories=0)


def test_an_all_zero_blob_is_refused_naming_the_key() -> None:
    """Issue 12, item 14: an all-zero PackedCatalogItem imported as entry id 0."""
    with pytest.raises(CatalogFileError) as info:
        decode_packed(bytes(PACKED_SIZE), "Catalog_Entries64\\000000000007", [])
    assert info.value.message == ("Catalog_Entries64\\000000000007: PackedCatalogItem has "
                                  "catalog entry id 0 (an empty or damaged entry).")
    assert info.value.exit_code == 3
