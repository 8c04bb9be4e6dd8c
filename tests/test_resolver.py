"""The resolver (winsock-semantics §2.2) against the observed vectors of §3 and §2.5, and the
"Resolver consequences" table of default-catalogs.md §1 for every shipped version."""

import pytest

from conftest import load_shipped
from sporder_py import winsock as ws
from sporder_py.model import Catalog
from sporder_py.resolver import resolve, resolve_with_info

AF_INET, AF_INET6, AF_UNIX, AF_BTH = 2, 23, 1, 32
STREAM, DGRAM, RAW = 1, 2, 3
TCP, UDP, ICMP = 6, 17, 1
DEAD = 0xDEAD


def cat(name="windows-10", bitness="64") -> Catalog:
    return load_shipped(name).catalog(bitness)


def picked(c, af, t, p):
    r = resolve(c, af, t, p)
    return r.entry.name if r.entry else r.error


# §3 vectors.  "A" vectors hold on any catalog with the usual MSAFD entries; "D" vectors depend
# on the default order (windows-10 here: IPv4 before IPv6, the pre-Win11 layout).
@pytest.mark.parametrize("vector,af,t,p,expected", [
    ("V01", DEAD, STREAM, TCP, 10047),
    ("V03", AF_INET, DEAD, TCP, 10044),
    ("V05", AF_INET, STREAM, DEAD, 10043),
    ("V07", DEAD, DEAD, TCP, 10044),
    ("V11", AF_INET, STREAM, 0, "MSAFD Tcpip [TCP/IP]"),
    ("V14", AF_INET, 0, TCP, "MSAFD Tcpip [TCP/IP]"),
    ("V17", AF_INET, 0, 0, "MSAFD Tcpip [TCP/IP]"),
    ("V20", 0, STREAM, TCP, "MSAFD Tcpip [TCP/IP]"),
    ("V23", 0, STREAM, 0, 10022),
    ("V29", 0, 0, 0, 10022),
    ("V38", AF_INET, RAW, ICMP, "MSAFD Tcpip [RAW/IP]"),
])
def test_s3_vector_on_windows_10(vector, af, t, p, expected):
    for name in ("windows-10", "windows-7"):
        assert picked(cat(name), af, t, p) == expected, (vector, name)


def test_s3_V20_win11_yields_ipv6():
    assert picked(cat("windows-11"), 0, STREAM, TCP) == "MSAFD Tcpip [TCP/IPv6]"


def test_s3_V44_bluetooth_rfcomm_without_stack_is_afnosupport():
    assert picked(cat("windows-7"), AF_BTH, STREAM, 3) == 10047


def test_s2_2_type_checked_before_family_bth_dgram_rfcomm():
    # (AF_BTH, SOCK_DGRAM, RFCOMM) -> 10047 because DGRAM matches UDP entries whose af differs.
    assert picked(cat("windows-11"), AF_BTH, DGRAM, 3) == 10047


def test_s3_V38_raw_reports_entry_protocol_and_socket_identity():
    r = resolve(cat("windows-10"), AF_INET, 0, 0)
    assert r.effective == (AF_INET, STREAM, TCP)    # type 0 -> entry's type, protocol 0 -> entry's
    raw = resolve(cat("windows-10"), AF_INET, RAW, ICMP)
    assert raw.entry.provider_flags == 0xC and raw.entry.protocol_max_offset == 255


def test_s2_2_layered_entries_are_invisible_and_give_no_partial_match():
    from dataclasses import replace
    c = cat("windows-11")
    hidden = replace(c.protocols[0], id=1100, kind="layered", socket_type=0, protocol=0,
                     family=DEAD, provider_flags=0x4)
    c2 = c.with_protocols((hidden,) + c.protocols)
    assert picked(c2, DEAD, 0, TCP) == 10047 or picked(c2, DEAD, 0, TCP) == 10044
    assert picked(c2, DEAD, STREAM, TCP) == 10047       # not derailed by the layered entry


def test_s8_empty_catalog_is_socktnosupport_by_choice():
    assert resolve(Catalog("64"), AF_INET, STREAM, TCP).error == ws.WSAESOCKTNOSUPPORT


# default-catalogs.md §1 item 7: (triple, after-reset, clean, win10 1607 clean, win7)
CONSEQUENCES = [
    ((0, STREAM, TCP), "MSAFD Tcpip [TCP/IPv6]", "MSAFD Tcpip [TCP/IPv6]", "MSAFD Tcpip [TCP/IP]",
     "MSAFD Tcpip [TCP/IP]"),
    ((0, DGRAM, UDP), "MSAFD Tcpip [UDP/IPv6]", "MSAFD Tcpip [UDP/IPv6]", "MSAFD Tcpip [UDP/IP]",
     "MSAFD Tcpip [UDP/IP]"),
    ((AF_INET, 0, 0), "MSAFD Tcpip [TCP/IP]", "MSAFD Tcpip [TCP/IP]", "MSAFD Tcpip [TCP/IP]",
     "MSAFD Tcpip [TCP/IP]"),
    ((0, 0, 1), "MSAFD Tcpip [RAW/IPv6]", "Hyper-V RAW", "Hyper-V RAW", "MSAFD Tcpip [RAW/IP]"),
    ((0, 0, 255), "MSAFD Tcpip [RAW/IPv6]", "MSAFD Tcpip [RAW/IPv6]", "MSAFD Tcpip [RAW/IP]",
     "MSAFD Tcpip [RAW/IP]"),
    ((AF_UNIX, STREAM, 0), "AF_UNIX", "AF_UNIX", 10047, 10047),
    ((0, STREAM, 3), "MSAFD RfComm [Bluetooth]", "MSAFD RfComm [Bluetooth]",
     "MSAFD RfComm [Bluetooth]", 10043),
]


@pytest.mark.parametrize("row", CONSEQUENCES, ids=[str(r[0]) for r in CONSEQUENCES])
def test_default_catalogs_s1_resolver_consequences(row):
    triple, *expected = row
    names = ["windows-11", "windows-11-clean", "windows-10", "windows-7"]
    for name, want in zip(names, expected, strict=True):   # one expectation per catalog
        for bitness in ("64", "32"):
            assert picked(cat(name, bitness), *triple) == want, (name, bitness)


def test_s4_10_M6_reversed_order_raw_ip_wins_inet_0_0():
    c = cat("windows-7")
    rev = c.with_protocols(tuple(reversed(c.protocols)))
    # RSVP entries come first after reversing but lack nothing: they carry PFL_MATCHES_PROTOCOL_ZERO
    # in the shipped data, so the first AF_INET entry with that flag wins.
    first_inet_pz = next(e for e in rev.protocols if e.family == AF_INET and e.provider_flags & 8)
    assert picked(rev, AF_INET, 0, 0) == first_inet_pz.name


# §2.5 WSASocket with lpProtocolInfo (pi = the TCP/IP entry).
def test_s2_5_L1_from_protocol_info_all_minus_one_succeeds():
    c = cat("windows-10")
    r = resolve_with_info(c, -1, -1, -1, 1006)
    assert r.ok and r.effective == (AF_INET, STREAM, TCP)


def test_s2_5_explicit_args_win_and_zero_takes_struct():
    c = cat("windows-10")
    assert resolve_with_info(c, AF_INET, DGRAM, UDP, 1006).effective == (AF_INET, DGRAM, UDP)
    assert resolve_with_info(c, 0, 0, 0, 1006).effective == (AF_INET, STREAM, TCP)


def test_s2_5_unknown_id_is_einval_and_af_zero_is_afnosupport():
    from dataclasses import replace
    c = cat("windows-10")
    assert resolve_with_info(c, 0, 0, 0, 4242).error == 10022
    # pi[0] af/type/protocol = 0, call (0, 0, IPPROTO_UDP) -> WSAEAFNOSUPPORT (Vista+)
    zeroed = c.with_protocols(tuple(replace(e, family=0, socket_type=0, protocol=0)
                                    if e.id == 1006 else e for e in c.protocols))
    assert resolve_with_info(zeroed, 0, 0, UDP, 1006).error == 10047
    # effective af == 0 and protocol == 0 -> WSAEINVAL first
    assert resolve_with_info(zeroed, 0, 0, 0, 1006).error == 10022


def test_explain_gives_a_verdict_for_every_entry_up_to_the_winner():
    c = cat("windows-11")
    r = resolve(c, AF_INET, STREAM, TCP, explain=True)
    assert [v.verdict for v in r.verdicts] == ["skipped"] * 3 + ["chosen"]
    assert "family 23 != 2" in r.verdicts[0].reason
