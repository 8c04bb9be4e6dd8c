"""winsock-semantics §1: constants have Windows' values; parsing and rendering by name."""

import pytest

from sporder_py import winsock as ws
from sporder_py.errors import UsageError


@pytest.mark.parametrize("name,value", [
    ("AF_UNSPEC", 0), ("AF_UNIX", 1), ("AF_INET", 2), ("AF_IPX", 6), ("AF_APPLETALK", 16),
    ("AF_NETBIOS", 17), ("AF_INET6", 23), ("AF_IRDA", 26), ("AF_BTH", 32), ("AF_HYPERV", 34)])
def test_s1_6_address_families_have_windows_values(name, value):
    assert ws.ADDRESS_FAMILIES[name] == value


def test_s1_3_s1_4_s7_1_flag_values():
    assert ws.SERVICE_FLAGS["XP1_IFS_HANDLES"] == 0x20000
    assert ws.SERVICE_FLAGS["XP1_INTERRUPT"] == 0x4000
    assert ws.PROVIDER_FLAGS["PFL_MATCHES_PROTOCOL_ZERO"] == 0x08
    assert ws.PROVIDER_FLAGS["PFL_HIDDEN"] == 0x04
    assert ws.LSP_CATEGORIES["LSP_SYSTEM"] == 0x80000000
    assert ws.LSP_CATEGORIES["LSP_CRYPTO_COMPRESS"] == 0x40
    assert ws.NAMESPACES["NS_DNS"] == 12 and ws.NAMESPACES["NS_EMAIL"] == 37


def test_s1_9_error_codes():
    assert ws.WSA_ERRORS["WSAEPROTONOSUPPORT"] == 10043
    assert ws.WSA_ERRORS["WSAESOCKTNOSUPPORT"] == 10044
    assert ws.WSA_ERRORS["WSAEAFNOSUPPORT"] == 10047
    assert ws.WSA_ERRORS["WSAEINVAL"] == 10022
    assert ws.WSA_ERRORS["WSANO_RECOVERY"] == 11003
    assert ws.WSA_ERRORS["WSA_NOT_ENOUGH_MEMORY"] == 8
    assert ws.error_name(10047) == "WSAEAFNOSUPPORT"


@pytest.mark.parametrize("text,value", [
    ("AF_INET", 2), ("af_inet", 2), ("inet", 2), ("2", 2), ("0x2", 2), ("-1", -1),
    ("0xdead", 0xDEAD), ("PF_INET6", 23), ("inet6", 23), ("bth", 32)])
def test_parse_family(text, value):
    assert ws.parse_family(text) == value


@pytest.mark.parametrize("text,value", [
    ("SOCK_STREAM", 1), ("stream", 1), ("1", 1), ("dgram", 2), ("raw", 3), ("0", 0)])
def test_parse_socket_type(text, value):
    assert ws.parse_socket_type(text) == value


@pytest.mark.parametrize("text,value", [
    ("IPPROTO_TCP", 6), ("tcp", 6), ("6", 6), ("udp", 17), ("rfcomm", 3), ("BTHPROTO_L2CAP", 256),
    ("nsproto_ipx", 1000), ("raw", 255), ("-6", -6)])
def test_parse_protocol(text, value):
    assert ws.parse_protocol(text) == value


@pytest.mark.parametrize("bad", ["AF_NOPE", "", "12x", "0x", "--1"])
def test_parse_rejects_unknown_names_with_one_sentence(bad):
    with pytest.raises(UsageError) as exc:
        ws.parse_family(bad)
    assert exc.value.message.endswith(".") and "address family" in exc.value.message


def test_parse_rejects_values_outside_a_c_int():
    with pytest.raises(UsageError, match="C int"):
        ws.parse_protocol(str(2**31))


def test_unknown_numbers_are_kept_and_rendered_as_numbers():
    assert ws.family_name(0xDEAD) is None
    assert ws.protocol_name(32, 3) == "BTHPROTO_RFCOMM"   # family-dependent
    assert ws.protocol_name(2, 3) == "IPPROTO_GGP"
    assert ws.protocol_name(99, 3) is None


def test_flags_round_trip_with_unknown_bits():
    value = 0x20066 | 0x40000000
    names, rest = ws.flag_names(value, ws.SERVICE_FLAGS)
    assert rest == 0x40000000
    assert ws.parse_flags(names + [hex(rest)], ws.SERVICE_FLAGS, "flag") == value
    assert ws.parse_flags(["ifs_handles"], ws.SERVICE_FLAGS, "flag") == 0x20000
