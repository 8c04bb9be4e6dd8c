"""Real-socket smoke tests: what the catalog predicts, tried on the host's own sockets.

For each (af, type, protocol) request the catalog resolves it (winsock-semantics §2.2); the
winning entry's *effective* triple (protocol 0 becomes the entry's iProtocol, type 0 its
iSocketType, §2.2 "Returned socket's identity") is then created for real on the host.

Family mapping (§1.6), by Winsock name, never by number:

=============  =========================================================================
Winsock        host
=============  =========================================================================
AF_UNIX 1      ``socket.AF_UNIX`` when the host Python has it (not on every Windows build)
AF_INET 2      ``socket.AF_INET``
AF_INET6 23    ``socket.AF_INET6`` (10 on Linux, 30 on macOS) when ``socket.has_ipv6``
AF_IPX 6       refused: the host's AF_IPX (Linux 4) is not Windows IPX/SPX (NSPROTO_*)
AF_IRDA 26     refused: Linux's 23 is another number and Python has no socket.AF_IRDA there
AF_BTH 32      refused: no host AF_BTH; AF_BLUETOOTH numbers its protocols differently
AF_HYPERV 34   refused: Hyper-V sockets; AF_VSOCK is a different family
AF_NETBIOS 17  refused: NetBIOS sockets (protocol = -LANA, §1.8) have no host equivalent
anything else  refused: no host family with the same semantics
=============  =========================================================================

Socket types map by name too (``socket.SOCK_<NAME>``, §1.7).  Protocol numbers are passed
unchanged: IANA numbers for the IP families are the same on every host (§1.8), and the AF_UNIX
entry's protocol is 0.  Families are refused even on a Windows host, where the same constants
exist: the probe only runs what it can check the same way everywhere.

What each probe does (outcomes in ``OUTCOMES``):

* the catalog refuses the request: ``winsock-error`` (WSAE number); the host is then asked to
  create the same request too, and ``host_refuses`` records whether it also refused (None when
  the host has no such family);
* no host family/type, the host kernel lacks the family (EAFNOSUPPORT), IPv6 without ::1:
  ``unsupported-on-host``.  A choice: SOCK_RAW with protocol 0 (IPPROTO_IP), which Windows'
  RAW/IP entries accept (§1.10), is refused by Linux with EPROTONOSUPPORT whatever the
  privilege; that refusal is also ``unsupported-on-host``, not ``failed``;
* EPERM/EACCES on creation: ``needs-privilege`` with Windows' own answer, WSAEACCES 10013
  (§2.2, provider-level outcomes);
* SOCK_STREAM and SOCK_DGRAM on AF_INET, AF_INET6 and AF_UNIX: a loopback echo through a server
  thread (127.0.0.1, ::1, or a socket file in a fresh ``tempfile.mkdtemp`` directory, removed
  after).  Streams send ``STREAM_PAYLOAD`` random bytes; datagrams one datagram of
  ``datagram_size(entry.message_size)`` bytes.  Every blocking call is bounded by ``timeout``;
  ``rtt_us`` runs from connect()/sendto() to the last echoed byte; ``server_bytes`` is what the
  server thread counted;
* any other socket (raw, seqpacket, rdm...) is created and closed, nothing is sent;
* any other host error: ``failed`` with the errno name and message.

Nothing leaves loopback: the only binds are 127.0.0.1, ::1 and the temporary socket files.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from . import winsock as ws
from .errors import UsageError
from .model import Catalog
from .names import display_name
from .resolver import resolve

OK = "ok"
FAILED = "failed"
UNSUPPORTED = "unsupported-on-host"
NEEDS_PRIVILEGE = "needs-privilege"
WINSOCK_ERROR = "winsock-error"
OUTCOMES = (OK, FAILED, UNSUPPORTED, NEEDS_PRIVILEGE, WINSOCK_ERROR)

STREAM_PAYLOAD = 64 * 1024     # bytes echoed over a stream connection
DATAGRAM_MAX = 1200            # a datagram stays at or below this, whatever dwMessageSize says
DATAGRAM_DEFAULT = 1024        # size used when dwMessageSize is 0 (stream) or 1 (MTU-dependent)

AF_UNIX = ws.ADDRESS_FAMILIES["AF_UNIX"]
AF_INET = ws.ADDRESS_FAMILIES["AF_INET"]
AF_INET6 = ws.ADDRESS_FAMILIES["AF_INET6"]
SOCK_STREAM = ws.SOCKET_TYPES["SOCK_STREAM"]
SOCK_DGRAM = ws.SOCKET_TYPES["SOCK_DGRAM"]
SOCK_RAW = ws.SOCKET_TYPES["SOCK_RAW"]

_SAME_SEMANTICS = ("AF_UNIX", "AF_INET", "AF_INET6")
_NOT_EQUIVALENT = {
    "AF_IPX": "the host's AF_IPX is not Windows IPX/SPX (NSPROTO_* protocols)",
    "AF_IRDA": "Windows AF_IRDA is 26, the host's is another number and Python lacks it",
    "AF_BTH": "Windows Bluetooth has no host AF_BTH and AF_BLUETOOTH numbers protocols differently",
    "AF_HYPERV": "Hyper-V sockets have no host equivalent (AF_VSOCK is a different family)",
    "AF_NETBIOS": "NetBIOS sockets (protocol = -LANA) have no host equivalent",
}
_LOOPBACK = {AF_INET: "127.0.0.1", AF_INET6: "::1"}
# A host socket address: a socket file path (AF_UNIX), (host, port) for AF_INET, and
# (host, port, flowinfo, scope_id) as getsockname() gives it for AF_INET6.
_SockAddress = str | tuple[str, int] | tuple[str, int, int, int]

# Candidate protocols for include_errors, tried in this order (see all_triples).
ERROR_PROBE_PROTOCOLS = (ws.IP_PROTOCOLS["IPPROTO_TCP"], ws.IP_PROTOCOLS["IPPROTO_UDP"],
                         ws.FROM_PROTOCOL_INFO)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe: what the catalog chose and what the host did with it."""

    request: tuple[int, int, int]
    outcome: str                                          # one of OUTCOMES
    entry_id: int | None = None
    entry_name: str | None = None                         # display name (names.display_name)
    layers: tuple[tuple[int, str | None, str | None], ...] = ()   # (id, name, path), top..base
    effective: tuple[int, int, int] | None = None         # Winsock triple the socket gets
    host_family: int | None = None                        # the host's constant
    host_family_name: str | None = None
    winsock_error: int | None = None
    host_error: tuple[str, str] | None = None             # (errno name, message)
    host_refuses: bool | None = None                      # winsock-error only: host refused too?
    rtt_us: int | None = None
    bytes_sent: int = 0
    bytes_received: int = 0
    server_bytes: int | None = None                       # counted by the server thread
    detail: str = ""

    @property
    def winsock_error_name(self) -> str | None:
        return None if self.winsock_error is None else ws.error_name(self.winsock_error)

    def to_json(self) -> dict[str, object]:
        return {
            "request": _triple_json(self.request),
            "outcome": self.outcome,
            "entry_id": self.entry_id,
            "entry_name": self.entry_name,
            "layers": [{"id": i, "name": n, "path": p} for i, n, p in self.layers],
            "effective": None if self.effective is None else _triple_json(self.effective),
            "host_family": self.host_family,
            "host_family_name": self.host_family_name,
            "winsock_error": self.winsock_error,
            "winsock_error_name": self.winsock_error_name,
            "host_error": (None if self.host_error is None
                           else {"errno": self.host_error[0], "message": self.host_error[1]}),
            "host_refuses": self.host_refuses,
            "rtt_us": self.rtt_us,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "server_bytes": self.server_bytes,
            "detail": self.detail,
        }


def _triple_json(t: tuple[int, int, int]) -> dict[str, object]:
    af, type_, proto = t
    return {"family": af, "family_name": ws.family_name(af), "socket_type": type_,
            "socket_type_name": ws.socket_type_name(type_), "protocol": proto,
            "protocol_name": ws.protocol_name(af, proto)}


def host_family(af: int) -> tuple[int | None, str]:
    """Winsock family -> (host constant, its name), or (None, why the host has no equivalent)."""
    name = ws.family_name(af)
    label = f"{name} ({af})" if name else f"address family {af}"
    if name not in _SAME_SEMANTICS:
        reason = _NOT_EQUIVALENT.get(name or "", "no host family with the same semantics")
        return None, f"{label}: {reason}"
    value = getattr(socket, name, None)
    if value is None:
        return None, f"{label}: the host Python has no socket.{name}"
    if af == AF_INET6 and not socket.has_ipv6:
        return None, f"{label}: the host Python was built without IPv6"
    return int(value), name


def _host_type(type_: int) -> int | None:
    name = ws.socket_type_name(type_)
    value = getattr(socket, name, None) if name else None
    return None if value is None else int(value)


def datagram_size(message_size: int) -> int:
    """One datagram below dwMessageSize (§1.1), at most DATAGRAM_MAX; dwMessageSize 0 (stream)
    and 1 (MTU-dependent) give DATAGRAM_DEFAULT."""
    if message_size in (0, 1):
        return DATAGRAM_DEFAULT
    return min(DATAGRAM_MAX, message_size - 1)


def all_triples(catalog: Catalog, include_errors: bool = False) -> list[tuple[int, int, int]]:
    """Every distinct (iAddressFamily, iSocketType, iProtocol) of a base or chain entry, in catalog
    order (layered entries are invisible to socket(), §2.2).

    With ``include_errors``, then, for each distinct (family, type) of those triples in the same
    order, one triple the catalog refuses: (family, type, p) for the first p of
    ERROR_PROBE_PROTOCOLS — IPPROTO_TCP 6, IPPROTO_UDP 17, -1 (FROM_PROTOCOL_INFO, "just an
    unsupported value" without lpProtocolInfo, §2.2) — that resolves to a Winsock error.  For the
    default catalogs that is UDP for IP streams, TCP for datagrams and non-IP families, -1 for raw
    (RAW/IP serves 0..255).  A (family, type) for which all three resolve gives none.
    """
    served = list(dict.fromkeys(e.triple for e in catalog.protocols if e.kind != "layered"))
    if not include_errors:
        return served
    out = list(served)
    for af, type_ in dict.fromkeys((af, type_) for af, type_, _ in served):
        for proto in ERROR_PROBE_PROTOCOLS:
            if resolve(catalog, af, type_, proto).error is not None:
                if (af, type_, proto) not in out:
                    out.append((af, type_, proto))
                break
    return out


def probe_triples(catalog: Catalog, triples: Iterable[tuple[int, int, int]], *,
                  timeout: float = 5.0,
                  on_result: Callable[[ProbeResult], None] | None = None) -> list[ProbeResult]:
    """Probe each triple in order; ``on_result`` sees each result as soon as it is known."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not (math.isfinite(timeout) and timeout > 0):
        raise UsageError(f"probe timeout {timeout!r} is not a positive number of seconds.",
                         code="bad-value")
    checked = [_checked_triple(t) for t in triples]
    results = []
    for triple in checked:
        result = _probe_one(catalog, triple, float(timeout))
        if on_result is not None:
            on_result(result)
        results.append(result)
    return results


def _checked_triple(t: object) -> tuple[int, int, int]:
    if (isinstance(t, (tuple, list)) and len(t) == 3
            and all(isinstance(v, int) and not isinstance(v, bool) and ws.INT_MIN <= v <= ws.INT_MAX
                    for v in t)):
        return (t[0], t[1], t[2])
    raise UsageError(f"probe triple {t!r} is not three C int values (family, type, protocol).",
                     code="bad-value")


def _probe_one(catalog: Catalog, triple: tuple[int, int, int], timeout: float) -> ProbeResult:
    res = resolve(catalog, *triple)
    if res.error is not None or res.entry is None or res.effective is None:
        return _winsock_refused(triple, res.error or ws.WSAEINVAL)
    entry = res.entry
    layers = tuple((i, None if e is None else display_name(e.name), None if e is None else e.path)
                   for i, e in zip(entry.chain_ids, res.layers, strict=True))
    af, type_, proto = res.effective
    hfam, why = host_family(af)
    base = ProbeResult(triple, OK, entry.id, display_name(entry.name), layers, res.effective,
                       hfam, why if hfam is not None else None)
    htype = _host_type(type_)
    if hfam is None or htype is None:
        return replace(base, outcome=UNSUPPORTED,
                       detail=why if hfam is None else f"socket type {type_}: no host equivalent")
    try:
        sock = socket.socket(hfam, htype, proto)
    except (OSError, OverflowError, ValueError) as exc:
        return _creation_failure(base, exc)
    if af in (AF_INET, AF_INET6, AF_UNIX) and type_ in (SOCK_STREAM, SOCK_DGRAM):
        size = STREAM_PAYLOAD if type_ == SOCK_STREAM else datagram_size(entry.message_size)
        return _exchange(base, sock, (hfam, htype, proto), timeout, size)
    sock.close()
    return replace(base, detail="created and closed, nothing sent")


def _is(exc: BaseException, *names: str) -> bool:
    """errno test that also knows Windows' WSAE spelling of the same error."""
    spellings = names + tuple("WSA" + n for n in names)
    codes = {getattr(errno, n) for n in spellings if hasattr(errno, n)}
    return isinstance(exc, OSError) and exc.errno in codes


def _host_error(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, TimeoutError) and exc.errno is None:
        return "ETIMEDOUT", "no answer before the probe timeout"
    if isinstance(exc, OSError) and exc.errno is not None:
        return errno.errorcode.get(exc.errno, str(exc.errno)), exc.strerror or str(exc)
    return type(exc).__name__, str(exc)


def _creation_failure(base: ProbeResult, exc: BaseException) -> ProbeResult:
    herr = _host_error(exc)
    _, type_, proto = base.effective or (0, 0, 0)
    if _is(exc, "EAFNOSUPPORT"):
        return replace(base, outcome=UNSUPPORTED, host_error=herr,
                       detail=f"the host kernel lacks {base.host_family_name}")
    if _is(exc, "EPERM", "EACCES"):
        return replace(base, outcome=NEEDS_PRIVILEGE, host_error=herr, winsock_error=ws.WSAEACCES,
                       detail="the host needs privilege for this socket; Windows says WSAEACCES")
    if type_ == SOCK_RAW and proto == 0 and _is(exc, "EPROTONOSUPPORT"):
        return replace(base, outcome=UNSUPPORTED, host_error=herr,
                       detail="the host has no raw socket for protocol 0; Windows RAW accepts it")
    return replace(base, outcome=FAILED, host_error=herr, detail="the host refused to create it")


def _winsock_refused(triple: tuple[int, int, int], error: int) -> ProbeResult:
    """The catalog refuses the request; ask the host the same question (``host_refuses``)."""
    af, type_, proto = triple
    hfam, why = host_family(af)
    htype = _host_type(type_)
    result = ProbeResult(triple, WINSOCK_ERROR, host_family=hfam,
                         host_family_name=why if hfam is not None else None, winsock_error=error,
                         detail=f"the catalog refuses it with {ws.wsa_error_text(error)}")
    if hfam is None or htype is None:
        host_why = why if hfam is None else f"socket type {type_}: no host equivalent"
        return replace(result, detail=f"{result.detail}; not asked of the host: {host_why}")
    try:
        socket.socket(hfam, htype, proto).close()
    except (OSError, OverflowError, ValueError) as exc:
        return replace(result, host_refuses=True, host_error=_host_error(exc),
                       detail=f"{result.detail}; the host refuses it too")
    return replace(result, host_refuses=False, detail=f"{result.detail}; the host accepts it")


class _Tally:
    """Counters shared between the client and the server thread."""

    def __init__(self) -> None:
        self.sent = 0
        self.received = 0
        self.server = 0
        self.server_error: BaseException | None = None


def _exchange(base: ProbeResult, client: socket.socket, host: tuple[int, int, int],
              timeout: float, size: int) -> ProbeResult:
    """Echo ``size`` random bytes through a loopback server; closes everything it opened."""
    af, type_, _ = base.effective or (0, 0, 0)
    stream = type_ == SOCK_STREAM
    tally = _Tally()
    server: socket.socket | None = None
    thread: threading.Thread | None = None
    tmpdir: str | None = None
    try:
        client.settimeout(timeout)
        server = socket.socket(*host)
        server.settimeout(timeout)
        if af == AF_UNIX:
            tmpdir = tempfile.mkdtemp(prefix="sporder-probe-")
            address: _SockAddress = os.path.join(tmpdir, "server")
        else:
            address = (_LOOPBACK[af], 0)
        try:
            server.bind(address)
        except OSError as exc:
            if af == AF_INET6 and _is(exc, "EADDRNOTAVAIL"):
                return replace(base, outcome=UNSUPPORTED, host_error=_host_error(exc),
                               detail="no ::1 on this host")
            raise
        address = server.getsockname()
        if stream:
            server.listen(1)
        elif tmpdir is not None:
            client.bind(os.path.join(tmpdir, "client"))   # so the echo has somewhere to go
        payload = os.urandom(size)
        thread = threading.Thread(target=_serve_stream if stream else _serve_datagram,
                                  args=(server, tally, timeout), daemon=True)
        thread.start()
        start = time.perf_counter()
        echo = (_stream_client if stream else _datagram_client)(client, address, payload, tally,
                                                                 timeout)
        rtt_us = int((time.perf_counter() - start) * 1_000_000)
        thread.join(timeout)
        if tally.server_error is not None:
            raise tally.server_error
        if echo != payload:
            return replace(base, outcome=FAILED, bytes_sent=tally.sent,
                           bytes_received=tally.received, server_bytes=tally.server,
                           detail=f"the echo ({len(echo)} bytes) differs from the {size} sent")
        where = "a socket file" if af == AF_UNIX else _LOOPBACK[af]
        return replace(base, rtt_us=rtt_us, bytes_sent=tally.sent, bytes_received=tally.received,
                       server_bytes=tally.server, detail=f"{size} bytes echoed over {where}")
    except OSError as exc:
        return replace(base, outcome=FAILED, host_error=_host_error(exc), bytes_sent=tally.sent,
                       bytes_received=tally.received, server_bytes=tally.server,
                       detail="the loopback exchange failed")
    finally:
        client.close()
        if server is not None:
            server.close()
        if thread is not None:
            thread.join(timeout)
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


def _serve_stream(listener: socket.socket, tally: _Tally, timeout: float) -> None:
    try:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(timeout)
            while chunk := conn.recv(65536):
                tally.server += len(chunk)
                conn.sendall(chunk)
    except OSError as exc:
        tally.server_error = exc


def _serve_datagram(server: socket.socket, tally: _Tally, timeout: float) -> None:
    try:
        data, peer = server.recvfrom(65536)
        tally.server += len(data)
        server.sendto(data, peer)
    except OSError as exc:
        tally.server_error = exc


def _stream_client(sock: socket.socket, address: _SockAddress, payload: bytes, tally: _Tally,
                   timeout: float) -> bytes:
    """Connect, send from a second thread (so neither side blocks on a full buffer), half-close,
    and read the echo until the server closes."""
    sock.connect(address)
    errors: list[OSError] = []

    def send() -> None:
        try:
            sock.sendall(payload)
            tally.sent = len(payload)
            sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            errors.append(exc)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    echo = bytearray()
    try:
        while chunk := sock.recv(65536):
            echo += chunk
            tally.received = len(echo)
    finally:
        sender.join(timeout)
    if errors:
        raise errors[0]
    return bytes(echo)


def _datagram_client(sock: socket.socket, address: _SockAddress, payload: bytes, tally: _Tally,
                     timeout: float) -> bytes:
    sock.sendto(payload, address)
    tally.sent = len(payload)
    data, _ = sock.recvfrom(65536)
    tally.received = len(data)
    return data
