"""Display names for the indirect strings Windows stores in the registry.

The registry keeps many names as indirect strings (``@%SystemRoot%\\System32\\mswsock.dll,-60100``)
that WSCEnumProtocols / netsh resolve from the DLL's string table.  sporder keeps a name exactly as
stored and offers the resolved text where the reference gives it (default-catalogs.md §2, §4;
the English text; Windows may localize RSVP and namespace names).
"""

from __future__ import annotations

import re

# (dll file name, lower case; resource id) -> English display text.
_INDIRECT: dict[tuple[str, int], str] = {
    ("mswsock.dll", -60100): "MSAFD Tcpip [TCP/IP]",
    ("mswsock.dll", -60101): "MSAFD Tcpip [UDP/IP]",
    ("mswsock.dll", -60102): "MSAFD Tcpip [RAW/IP]",
    ("mswsock.dll", -60103): "Tcpip",
    ("mswsock.dll", -60200): "MSAFD Tcpip [TCP/IPv6]",
    ("mswsock.dll", -60201): "MSAFD Tcpip [UDP/IPv6]",
    ("mswsock.dll", -60202): "MSAFD Tcpip [RAW/IPv6]",
    ("wshtcpip.dll", -60100): "MSAFD Tcpip [TCP/IP]",
    ("wshtcpip.dll", -60101): "MSAFD Tcpip [UDP/IP]",
    ("wshtcpip.dll", -60102): "MSAFD Tcpip [RAW/IP]",
    ("wshtcpip.dll", -60103): "Tcpip",
    ("wship6.dll", -60100): "MSAFD Tcpip [TCP/IPv6]",
    ("wship6.dll", -60101): "MSAFD Tcpip [UDP/IPv6]",
    ("wship6.dll", -60102): "MSAFD Tcpip [RAW/IPv6]",
    ("wshqos.dll", -100): "RSVP TCPv6 Service Provider",
    ("wshqos.dll", -101): "RSVP TCP Service Provider",
    ("wshqos.dll", -102): "RSVP UDPv6 Service Provider",
    ("wshqos.dll", -103): "RSVP UDP Service Provider",
    ("nlasvc.dll", -1000): "Network Location Awareness Legacy (NLAv1) Namespace",
    ("napinsp.dll", -1000): "E-mail Naming Shim Provider",
    ("pnrpnsp.dll", -1000): "PNRP Cloud Namespace Provider",
    ("pnrpnsp.dll", -1001): "PNRP Name Namespace Provider",
    ("winrnr.dll", -1000): "NTDS",
}

_INDIRECT_RE = re.compile(r"^@(?P<path>[^,]+),(?P<id>-?\d+)$")


def is_indirect(name: str) -> bool:
    return bool(_INDIRECT_RE.match(name))


def display_name(name: str) -> str:
    """The text Windows shows for a stored name; the name itself when it is not indirect or
    the reference does not give its text."""
    m = _INDIRECT_RE.match(name)
    if not m:
        return name
    dll = re.split(r"[\\/]", m.group("path"))[-1].lower()
    return _INDIRECT.get((dll, int(m.group("id"))), name)
