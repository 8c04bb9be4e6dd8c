"""Winsock constants with their Windows values, and name <-> number conversion.

Values are Windows' own (winsock-semantics §1.3-§1.9, §6, §7.1), not the host's: AF_INET6 is 23,
AF_IRDA 26, AF_BTH 32, AF_HYPERV 34.  Parsing accepts ``AF_INET``, ``af_inet``, ``inet``, ``2``,
``0x2``, ``-1`` and ``0xdead``; unknown numbers are kept as they are, never refused for being
unknown.  Rendering gives the Windows name when there is one.
"""

from __future__ import annotations

import re as _re
from collections.abc import Iterable, Mapping

from .errors import UsageError

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
DWORD_MAX = 2**32 - 1

# §1.6 Address families (Windows values).  Aliases share a number; the first name renders.
ADDRESS_FAMILIES: dict[str, int] = {
    "AF_UNSPEC": 0, "AF_UNIX": 1, "AF_INET": 2, "AF_IMPLINK": 3, "AF_PUP": 4, "AF_CHAOS": 5,
    "AF_IPX": 6, "AF_NS": 6, "AF_ISO": 7, "AF_OSI": 7, "AF_ECMA": 8, "AF_DATAKIT": 9,
    "AF_CCITT": 10, "AF_SNA": 11, "AF_DECnet": 12, "AF_DLI": 13, "AF_LAT": 14, "AF_HYLINK": 15,
    "AF_APPLETALK": 16, "AF_NETBIOS": 17, "AF_VOICEVIEW": 18, "AF_FIREFOX": 19,
    "AF_UNKNOWN1": 20, "AF_BAN": 21, "AF_ATM": 22, "AF_INET6": 23, "AF_CLUSTER": 24,
    "AF_12844": 25, "AF_IRDA": 26, "AF_NETDES": 28, "AF_TCNPROCESS": 29, "AF_TCNMESSAGE": 30,
    "AF_ICLFXBM": 31, "AF_BTH": 32, "AF_LINK": 33, "AF_HYPERV": 34,
}

# §1.7 Socket types.
SOCKET_TYPES: dict[str, int] = {
    "SOCK_STREAM": 1, "SOCK_DGRAM": 2, "SOCK_RAW": 3, "SOCK_RDM": 4, "SOCK_SEQPACKET": 5,
}

# §1.8 IP protocol numbers (IANA, same as Linux).
IP_PROTOCOLS: dict[str, int] = {
    "IPPROTO_IP": 0, "IPPROTO_HOPOPTS": 0, "IPPROTO_ICMP": 1, "IPPROTO_IGMP": 2,
    "IPPROTO_GGP": 3, "IPPROTO_IPV4": 4, "IPPROTO_ST": 5, "IPPROTO_TCP": 6, "IPPROTO_CBT": 7,
    "IPPROTO_EGP": 8, "IPPROTO_IGP": 9, "IPPROTO_PUP": 12, "IPPROTO_UDP": 17, "IPPROTO_IDP": 22,
    "IPPROTO_RDP": 27, "IPPROTO_IPV6": 41, "IPPROTO_ROUTING": 43, "IPPROTO_FRAGMENT": 44,
    "IPPROTO_ESP": 50, "IPPROTO_AH": 51, "IPPROTO_ICMPV6": 58, "IPPROTO_NONE": 59,
    "IPPROTO_DSTOPTS": 60, "IPPROTO_ND": 77, "IPPROTO_ICLFXBM": 78, "IPPROTO_PIM": 103,
    "IPPROTO_PGM": 113, "IPPROTO_RM": 113, "IPPROTO_L2TP": 115, "IPPROTO_SCTP": 132,
    "IPPROTO_RAW": 255, "IPPROTO_MAX": 256,
}
# §1.8 Non-IP protocol values, per family.
IPX_PROTOCOLS = {"NSPROTO_IPX": 1000, "NSPROTO_SPX": 1256, "NSPROTO_SPXII": 1257}
BTH_PROTOCOLS = {"BTHPROTO_RFCOMM": 0x0003, "BTHPROTO_L2CAP": 0x0100}
IRDA_PROTOCOLS = {"IRDA_PROTO_SOCK_STREAM": 1}
HV_PROTOCOLS = {"HV_PROTOCOL_RAW": 1}
PROTOCOLS_BY_FAMILY: dict[int, dict[str, int]] = {
    0: IP_PROTOCOLS, 2: IP_PROTOCOLS, 23: IP_PROTOCOLS, 6: IPX_PROTOCOLS, 32: BTH_PROTOCOLS,
    26: IRDA_PROTOCOLS, 34: HV_PROTOCOLS,
}

# §1.3 XP1_* service flags (dwServiceFlags1).
SERVICE_FLAGS: dict[str, int] = {
    "XP1_CONNECTIONLESS": 0x00000001, "XP1_GUARANTEED_DELIVERY": 0x00000002,
    "XP1_GUARANTEED_ORDER": 0x00000004, "XP1_MESSAGE_ORIENTED": 0x00000008,
    "XP1_PSEUDO_STREAM": 0x00000010, "XP1_GRACEFUL_CLOSE": 0x00000020,
    "XP1_EXPEDITED_DATA": 0x00000040, "XP1_CONNECT_DATA": 0x00000080,
    "XP1_DISCONNECT_DATA": 0x00000100, "XP1_SUPPORT_BROADCAST": 0x00000200,
    "XP1_SUPPORT_MULTIPOINT": 0x00000400, "XP1_MULTIPOINT_CONTROL_PLANE": 0x00000800,
    "XP1_MULTIPOINT_DATA_PLANE": 0x00001000, "XP1_QOS_SUPPORTED": 0x00002000,
    "XP1_INTERRUPT": 0x00004000, "XP1_UNI_SEND": 0x00008000, "XP1_UNI_RECV": 0x00010000,
    "XP1_IFS_HANDLES": 0x00020000, "XP1_PARTIAL_MESSAGE": 0x00040000,
    "XP1_SAN_SUPPORT_SDP": 0x00080000,
}
XP1_IFS_HANDLES = SERVICE_FLAGS["XP1_IFS_HANDLES"]

# §1.4 PFL_* provider flags.
PROVIDER_FLAGS: dict[str, int] = {
    "PFL_MULTIPLE_PROTO_ENTRIES": 0x01, "PFL_RECOMMENDED_PROTO_ENTRY": 0x02,
    "PFL_HIDDEN": 0x04, "PFL_MATCHES_PROTOCOL_ZERO": 0x08, "PFL_NETWORKDIRECT_PROVIDER": 0x10,
}
PFL_HIDDEN = PROVIDER_FLAGS["PFL_HIDDEN"]
PFL_MATCHES_PROTOCOL_ZERO = PROVIDER_FLAGS["PFL_MATCHES_PROTOCOL_ZERO"]

# §7.1 LSP categories.
LSP_CATEGORIES: dict[str, int] = {
    "LSP_INSPECTOR": 0x00000001, "LSP_REDIRECTOR": 0x00000002, "LSP_PROXY": 0x00000004,
    "LSP_FIREWALL": 0x00000008, "LSP_INBOUND_MODIFY": 0x00000010,
    "LSP_OUTBOUND_MODIFY": 0x00000020, "LSP_CRYPTO_COMPRESS": 0x00000040,
    "LSP_LOCAL_CACHE": 0x00000080, "LSP_SYSTEM": 0x80000000,
}
LSP_SYSTEM = LSP_CATEGORIES["LSP_SYSTEM"]

# §6 NS_* namespaces.
NAMESPACES: dict[str, int] = {
    "NS_ALL": 0, "NS_DEFAULT": 0, "NS_SAP": 1, "NS_NDS": 2, "NS_PEER_BROWSE": 3, "NS_SLP": 5,
    "NS_DHCP": 6, "NS_TCPIP_LOCAL": 10, "NS_TCPIP_HOSTS": 11, "NS_DNS": 12, "NS_NETBT": 13,
    "NS_WINS": 14, "NS_NLA": 15, "NS_BTH": 16, "NS_NBP": 20, "NS_MS": 30, "NS_STDA": 31,
    "NS_NTDS": 32, "NS_EMAIL": 37, "NS_PNRPNAME": 38, "NS_PNRPCLOUD": 39, "NS_X500": 40,
    "NS_NIS": 41, "NS_NISPLUS": 42, "NS_WRQ": 50, "NS_VNS": 50, "NS_NETDES": 60,
}

# §1.9 Error codes.
WSA_ERRORS: dict[str, int] = {
    "WSA_INVALID_HANDLE": 6, "WSA_NOT_ENOUGH_MEMORY": 8, "WSA_INVALID_PARAMETER": 87,
    "ERROR_CALL_NOT_IMPLEMENTED": 120, "WSA_IO_PENDING": 997,
    "WSAEACCES": 10013, "WSAEFAULT": 10014, "WSAEINVAL": 10022, "WSAEMFILE": 10024,
    "WSAEINPROGRESS": 10036, "WSAEPROTOTYPE": 10041, "WSAENOPROTOOPT": 10042,
    "WSAEPROTONOSUPPORT": 10043, "WSAESOCKTNOSUPPORT": 10044, "WSAEOPNOTSUPP": 10045,
    "WSAEPFNOSUPPORT": 10046, "WSAEAFNOSUPPORT": 10047, "WSAENETDOWN": 10050,
    "WSAENOBUFS": 10055, "WSANOTINITIALISED": 10093, "WSAEINVALIDPROCTABLE": 10104,
    "WSAEINVALIDPROVIDER": 10105, "WSAEPROVIDERFAILEDINIT": 10106, "WSASYSCALLFAILURE": 10107,
    "WSASERVICE_NOT_FOUND": 10108, "WSATYPE_NOT_FOUND": 10109, "WSA_E_NO_MORE": 10110,
    "WSATRY_AGAIN": 11002, "WSANO_RECOVERY": 11003,
}
WSAEACCES = WSA_ERRORS["WSAEACCES"]
WSAEINVAL = WSA_ERRORS["WSAEINVAL"]
WSAEPROTONOSUPPORT = WSA_ERRORS["WSAEPROTONOSUPPORT"]
WSAESOCKTNOSUPPORT = WSA_ERRORS["WSAESOCKTNOSUPPORT"]
WSAEAFNOSUPPORT = WSA_ERRORS["WSAEAFNOSUPPORT"]
WSANO_RECOVERY = WSA_ERRORS["WSANO_RECOVERY"]

# §1.2 / §1.5
MAX_PROTOCOL_CHAIN = 7
LAYERED_PROTOCOL = 0
BASE_PROTOCOL = 1
WSAPROTOCOL_LEN = 255
MAX_PATH = 260
FROM_PROTOCOL_INFO = -1
FIRST_CATALOG_ENTRY_ID = 1001
BIGENDIAN, LITTLEENDIAN = 0, 1


def _first_names(table: Mapping[str, int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for name, value in table.items():
        out.setdefault(value, name)
    return out


_AF_NAMES = _first_names(ADDRESS_FAMILIES)
_SOCK_NAMES = _first_names(SOCKET_TYPES)
_NS_NAMES = _first_names(NAMESPACES)
_ERR_NAMES = _first_names(WSA_ERRORS)
_PROTO_NAMES = {fam: _first_names(t) for fam, t in PROTOCOLS_BY_FAMILY.items()}
# Every protocol name, for parsing; IP names first so that short forms prefer them.
_ALL_PROTOCOLS: dict[str, int] = {}
for _table in (IP_PROTOCOLS, IPX_PROTOCOLS, BTH_PROTOCOLS, IRDA_PROTOCOLS, HV_PROTOCOLS):
    for _n, _v in _table.items():
        _ALL_PROTOCOLS.setdefault(_n, _v)


def shown(text: str, limit: int = 40) -> str:
    """A value quoted for a message, cut so a huge input cannot flood the terminal."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def parse_int(text: str) -> int | None:
    """``12``, ``-1``, ``0x2``, ``-0x10`` -> int; anything else -> None."""
    t = text.strip()
    if len(t) > 40:        # no C integer is this long; also keeps int() off huge digit strings
        return None
    neg = t.startswith("-")
    body = t[1:] if neg or t.startswith("+") else t
    try:
        if body.lower().startswith("0x"):
            value = int(body[2:], 16)
        elif body.isdigit():
            value = int(body, 10)
        else:
            return None
    except ValueError:
        return None
    return -value if neg else value


_UPPER: dict[int, dict[str, int]] = {}


def _lookup(text: str, table: Mapping[str, int], prefixes: Iterable[str]) -> int | None:
    upper = text.strip().upper()
    index = _UPPER.get(id(table))
    if index is None:     # the tables are module constants: index each once
        index = _UPPER[id(table)] = {k.upper(): v for k, v in table.items()}
    if upper in index:
        return index[upper]
    for prefix in prefixes:
        if prefix + upper in index:
            return index[prefix + upper]
    return None


def _parse(text: str, what: str, table: Mapping[str, int], prefixes: tuple[str, ...],
           example: str) -> int:
    value = parse_int(text)
    if value is None:
        value = _lookup(text, table, prefixes)
    if value is None:
        raise UsageError(f"{what} {shown(text)} is not a known name or a number (try {example}).",
                         code="bad-value")
    if not INT_MIN <= value <= INT_MAX:
        raise UsageError(f"{what} {shown(text)} is outside the range of a C int.", code="bad-value")
    return value


def parse_family(text: str) -> int:
    """Address family: ``AF_INET``, ``af_inet``, ``inet``, ``PF_INET``, ``2``, ``0x2``."""
    t = text.strip()
    if t.upper().startswith("PF_"):
        t = "AF_" + t[3:]
    return _parse(t, "address family", ADDRESS_FAMILIES, ("AF_",), "AF_INET, inet or 2")


def parse_socket_type(text: str) -> int:
    return _parse(text, "socket type", SOCKET_TYPES, ("SOCK_",), "SOCK_STREAM, stream or 1")


def parse_protocol(text: str) -> int:
    """Any protocol name (IPPROTO_, NSPROTO_, BTHPROTO_, ...) or number; ``tcp`` -> 6."""
    return _parse(text, "protocol", _ALL_PROTOCOLS,
                  ("IPPROTO_", "NSPROTO_", "BTHPROTO_", "IRDA_PROTO_", "HV_PROTOCOL_"),
                  "IPPROTO_TCP, tcp or 6")


def parse_namespace(text: str) -> int:
    return _parse(text, "namespace", NAMESPACES, ("NS_",), "NS_DNS, dns or 12")


def family_name(value: int) -> str | None:
    return _AF_NAMES.get(value)


def socket_type_name(value: int) -> str | None:
    return _SOCK_NAMES.get(value)


def protocol_name(family: int, value: int) -> str | None:
    """Protocol names depend on the family (3 is BTHPROTO_RFCOMM under AF_BTH)."""
    table = _PROTO_NAMES.get(family)
    return table.get(value) if table else None


def namespace_name(value: int) -> str | None:
    return _NS_NAMES.get(value)


def error_name(value: int) -> str | None:
    return _ERR_NAMES.get(value)


def flag_names(value: int, table: Mapping[str, int]) -> tuple[list[str], int]:
    """Split a bitmask into known names (table order) and the leftover unknown bits."""
    names, rest = [], value
    for name, bit in table.items():
        if value & bit and rest & bit:
            names.append(name)
            rest &= ~bit
    return names, rest


def format_flags(value: int, table: Mapping[str, int]) -> str:
    names, rest = flag_names(value, table)
    if rest:
        names.append(f"0x{rest:x}")
    return "|".join(names) if names else "0"


def parse_flags(items: Iterable[str | int], table: Mapping[str, int], what: str) -> int:
    """Names (any case, prefix optional), integers or hex strings, OR-ed together."""
    prefix = next(iter(table)).split("_")[0] + "_"
    total = 0
    for item in items:
        if isinstance(item, bool):
            raise UsageError(f"{what} {item!r} is not a flag name or a number.", code="bad-value")
        if isinstance(item, int):
            value: int | None = item
        elif not isinstance(item, str):
            raise UsageError(f"{what} {shown(str(item))} is not a flag name or a number.",
                             code="bad-value")
        else:
            value = parse_int(item)
            if value is None:
                value = _lookup(item, table, (prefix,))
        if value is None:
            raise UsageError(f"{what} {shown(str(item))} is not a known flag name or a number.",
                             code="bad-value")
        if not 0 <= value <= DWORD_MAX:
            raise UsageError(f"{what} {shown(str(item))} is outside the range of a DWORD.",
                             code="bad-value")
        total |= value
    return total


def wsa_error_text(value: int) -> str:
    name = error_name(value)
    return f"{name} ({value})" if name else str(value)


# Winsock Kernel NPI versions (wsk.h): MAKE_WSK_VERSION(major, minor) = (major << 8) | minor.
def MAKE_WSK_VERSION(major: int, minor: int) -> int:  # noqa: N802 - mirrors wsk.h
    return (major << 8) | (minor & 0xFF)


def WSK_MAJOR_VERSION(v: int) -> int:  # noqa: N802
    return v >> 8


def WSK_MINOR_VERSION(v: int) -> int:  # noqa: N802
    return v & 0xFF


def parse_wsk_version(text: str) -> int:
    """``"1.0"`` -> ``0x0100``; raises UsageError for anything else."""
    m = _re.fullmatch(r"\s*(\d{1,3})\.(\d{1,3})\s*", text)
    if m is None or int(m.group(1)) > 255 or int(m.group(2)) > 255:
        raise UsageError(f"WSK version {text!r} is not MAJOR.MINOR with both parts in 0..255.")
    return MAKE_WSK_VERSION(int(m.group(1)), int(m.group(2)))


def format_wsk_version(version: int) -> str:
    """``0x0100`` -> ``"1.0"``."""
    if (not (isinstance(version, int) and not isinstance(version, bool))
            or not 0 <= version <= 0xFFFF):
        raise UsageError(f"WSK version {version!r} is not a 16-bit value (0..0xFFFF).")
    return f"{WSK_MAJOR_VERSION(version)}.{WSK_MINOR_VERSION(version)}"
