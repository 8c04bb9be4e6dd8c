"""Real-socket smoke tests (sporder_py.probe): real catalogs, real host sockets, no mocks."""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import tempfile
from pathlib import Path

import pytest

from sporder_py import probe
from sporder_py import winsock as ws
from sporder_py.errors import UsageError
from sporder_py.formats import catalog_toml
from sporder_py.model import Catalog, ProtocolEntry
from sporder_py.probe import (
    FAILED,
    NEEDS_PRIVILEGE,
    OK,
    UNSUPPORTED,
    WINSOCK_ERROR,
    ProbeResult,
    all_triples,
    datagram_size,
    host_family,
    probe_triples,
)

CATALOGS = Path(__file__).resolve().parent.parent / "catalogs"
AF_UNIX, AF_INET, AF_INET6 = 1, 2, 23          # Winsock values (§1.6)
AF_HYPERV, AF_BTH, AF_IPX, AF_IRDA = 34, 32, 6, 26
STREAM, DGRAM, RAW = 1, 2, 3
TCP, UDP, ICMP, ICMPV6 = 6, 17, 1, 58
LINUX = sys.platform.startswith("linux")


def _load(stem: str, bitness: str = "64") -> Catalog:
    cf, _ = catalog_toml.loads((CATALOGS / f"{stem}.toml").read_text(), stem)
    return cf.catalog(bitness)  # type: ignore[arg-type]


def _has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def _open_fds() -> int | None:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None


def _probe_dirs() -> set[str]:
    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("sporder-probe-")}


def _one(catalog: Catalog, triple: tuple[int, int, int]) -> ProbeResult:
    (result,) = probe_triples(catalog, [triple])
    return result


SHIPPED = [(p.stem, b) for p in sorted(CATALOGS.glob("*.toml")) for b in ("64", "32")]


@pytest.mark.parametrize(("stem", "bitness"), SHIPPED)
def test_every_shipped_catalog_probes_without_failure(stem: str, bitness: str) -> None:
    catalog = _load(stem, bitness)
    triples = all_triples(catalog, include_errors=True)
    fds, dirs = _open_fds(), _probe_dirs()
    results = probe_triples(catalog, triples)
    assert [r.request for r in results] == triples
    assert [r for r in results if r.outcome == FAILED] == []
    ipv6 = _has_ipv6_loopback()
    for r in results:
        if r.outcome == WINSOCK_ERROR:
            assert r.entry_id is None and r.winsock_error == ws.WSAEPROTONOSUPPORT
            continue
        af, type_, _ = r.effective or (0, 0, 0)
        exchanged = type_ in (STREAM, DGRAM) and (
            af == AF_INET or (af == AF_INET6 and ipv6)
            or (af == AF_UNIX and hasattr(socket, "AF_UNIX")))
        if exchanged:
            assert r.outcome == OK, r
            size = probe.STREAM_PAYLOAD if type_ == STREAM else 1200   # UDP dwMessageSize 65527
            assert r.server_bytes == r.bytes_sent == r.bytes_received == size
            assert r.rtt_us is not None and r.rtt_us >= 0
        if af in (AF_HYPERV, AF_BTH):
            assert r.outcome == UNSUPPORTED and r.host_family is None
    assert _open_fds() == fds
    assert _probe_dirs() == dirs


@pytest.mark.parametrize(("af", "proto", "entry_name"), [
    (AF_INET, TCP, "MSAFD Tcpip [TCP/IP]"), (AF_INET, UDP, "MSAFD Tcpip [UDP/IP]"),
    (AF_INET6, TCP, "MSAFD Tcpip [TCP/IPv6]"), (AF_INET6, UDP, "MSAFD Tcpip [UDP/IPv6]"),
])
def test_ip_round_trip_reaches_the_listening_side(af: int, proto: int, entry_name: str) -> None:
    if af == AF_INET6 and not _has_ipv6_loopback():
        pytest.skip("this host has no ::1")
    type_ = STREAM if proto == TCP else DGRAM
    # protocol 0: the socket gets the entry's iProtocol (§2.2, returned socket's identity)
    r = _one(_load("windows-11"), (af, type_, 0))
    assert r.outcome == OK, r
    assert r.entry_name == entry_name and r.effective == (af, type_, proto)
    assert r.host_family == int(socket.AF_INET if af == AF_INET else socket.AF_INET6)
    if type_ == STREAM:
        assert r.server_bytes == r.bytes_received == r.bytes_sent >= 65536
    else:
        assert r.server_bytes == r.bytes_received == r.bytes_sent == 1200


def test_af_inet6_maps_by_name_not_number() -> None:
    assert host_family(AF_INET6)[0] in (None, int(getattr(socket, "AF_INET6", -1)))
    if LINUX and socket.has_ipv6:
        assert host_family(AF_INET6) == (10, "AF_INET6")
    for af in (AF_IRDA, AF_BTH, AF_HYPERV, AF_IPX, 17, 0, 0xDEAD):
        # AF_IPX exists on Linux (4) but is not Windows IPX/SPX: refused all the same
        value, why = host_family(af)
        assert value is None and why


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="the host Python has no AF_UNIX")
def test_af_unix_stream_and_datagram_use_a_removed_socket_file() -> None:
    catalog = _load("windows-11")
    dirs = _probe_dirs()
    stream = _one(catalog, (AF_UNIX, STREAM, 0))
    assert stream.outcome == OK and stream.entry_name == "AF_UNIX"
    assert stream.server_bytes == stream.bytes_received == probe.STREAM_PAYLOAD
    # A catalog claiming AF_UNIX datagrams: dwMessageSize 0 -> a 1024-byte datagram
    unix = catalog.get(1012)
    assert unix is not None and unix.message_size == 0
    dgram_cat = catalog.with_protocols([unix.with_changes(socket_type=DGRAM)])
    dgram = _one(dgram_cat, (AF_UNIX, DGRAM, 0))
    assert dgram.outcome == OK, dgram
    assert dgram.server_bytes == dgram.bytes_received == dgram.bytes_sent == 1024
    assert _probe_dirs() == dirs


def _hyperv_lsp_catalog() -> Catalog:
    """windows-11 with an LSP chained over Hyper-V RAW, the chain entry placed first."""
    catalog = _load("windows-11")
    hv = catalog.get(1007)
    assert hv is not None and hv.family == AF_HYPERV
    layered = ProtocolEntry(id=2001, kind="layered", name="Test LSP", path=r"C:\lsp\lsp.dll",
                            provider_id="{11111111-2222-3333-4444-555555555555}",
                            family=AF_INET, socket_type=STREAM, protocol=132)
    chain = hv.with_changes(id=2002, kind="chain", name="Test LSP over Hyper-V RAW",
                            path=layered.path, chain=(2001, 1007),
                            provider_id="{11111111-2222-3333-4444-666666666666}")
    return catalog.with_protocols([chain, *catalog.protocols, layered])


def test_chain_over_a_family_the_host_lacks_is_unsupported_and_others_still_run() -> None:
    catalog = _hyperv_lsp_catalog()
    results = {r.request: r for r in probe_triples(catalog, all_triples(catalog))}
    hv = results[(AF_HYPERV, STREAM, 1)]
    assert hv.outcome == UNSUPPORTED and hv.entry_id == 2002
    assert hv.layers == ((2001, "Test LSP", r"C:\lsp\lsp.dll"),
                         (1007, "Hyper-V RAW", catalog.get(1007).path))  # type: ignore[union-attr]
    assert "AF_HYPERV" in hv.detail and hv.host_family is None
    assert results[(AF_BTH, STREAM, 3)].outcome == UNSUPPORTED
    tcp = results[(AF_INET, STREAM, TCP)]
    assert tcp.outcome == OK and tcp.server_bytes == probe.STREAM_PAYLOAD


def test_entry_claiming_a_triple_the_kernel_refuses_fails_with_the_host_error() -> None:
    catalog = _load("windows-11")
    udp = catalog.get(1005)
    assert udp is not None and udp.triple == (AF_INET, DGRAM, UDP)
    bogus = catalog.with_protocols([udp.with_changes(protocol=TCP) if e.id == 1005 else e
                                    for e in catalog.protocols])
    for request in ((AF_INET, DGRAM, TCP), (AF_INET, DGRAM, 0)):
        r = _one(bogus, request)
        assert r.outcome == FAILED and r.entry_id == 1005 and r.effective == (AF_INET, DGRAM, TCP)
        assert r.host_error is not None and r.host_error[1]
        if LINUX:
            assert r.host_error[0] == "EPROTONOSUPPORT"


@pytest.mark.parametrize(("request_", "error"), [
    ((AF_INET, STREAM, UDP), 10043),       # §3: type and family match, protocol does not
    ((0xDEAD, STREAM, TCP), 10047),
    ((AF_INET, 0xDEAD, TCP), 10044),
    ((0, 0, 0), 10022),
])
def test_winsock_refused_request_reports_the_wsae_number(request_: tuple[int, int, int],
                                                         error: int) -> None:
    r = _one(_load("windows-11"), request_)
    assert r.outcome == WINSOCK_ERROR and r.winsock_error == error
    assert r.winsock_error_name == ws.error_name(error) and r.entry_id is None
    if request_ == (AF_INET, STREAM, UDP):
        assert r.host_refuses is True and r.host_error is not None   # Linux: EPROTONOSUPPORT
        assert r.host_family == int(socket.AF_INET)
    else:
        assert r.host_refuses is None and r.host_error is None      # no host family/type to ask


@pytest.mark.parametrize("request_", [(AF_INET, RAW, ICMP), (AF_INET6, RAW, ICMPV6)])
def test_raw_socket_is_ok_or_needs_privilege_and_leaks_nothing(
        request_: tuple[int, int, int]) -> None:
    catalog = _load("windows-11")
    fds = _open_fds()
    r = _one(catalog, request_)
    assert r.outcome in (OK, NEEDS_PRIVILEGE), r
    assert r.entry_name in ("MSAFD Tcpip [RAW/IP]", "MSAFD Tcpip [RAW/IPv6]")
    if r.outcome == NEEDS_PRIVILEGE:
        assert r.winsock_error == 10013 and r.winsock_error_name == "WSAEACCES"
    else:
        assert r.winsock_error is None and r.bytes_sent == 0 and r.server_bytes is None
    assert _open_fds() == fds


@pytest.mark.skipif(not (LINUX and hasattr(os, "geteuid") and os.geteuid() == 0),
                    reason="needs root on Linux to drop to an unprivileged user")
def test_raw_socket_as_unprivileged_user_needs_privilege() -> None:
    # A forked child drops to nobody (setuid clears every capability) and probes a raw socket.
    catalog = _load("windows-11")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:                                   # child: never returns into pytest
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            (result,) = probe_triples(catalog, [(AF_INET, RAW, ICMP)])
            os.write(write_end, json.dumps(result.to_json()).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    out = json.loads(data)
    assert out["outcome"] == NEEDS_PRIVILEGE
    assert out["winsock_error"] == 10013 and out["winsock_error_name"] == "WSAEACCES"
    assert out["host_error"]["errno"] == "EPERM"


def test_raw_protocol_zero_is_a_host_difference_not_a_failure() -> None:
    # Windows RAW/IP accepts protocol 0 (§1.10); Linux refuses SOCK_RAW/0 with EPROTONOSUPPORT.
    r = _one(_load("windows-7"), (AF_INET, RAW, 0))
    assert r.entry_name == "MSAFD Tcpip [RAW/IP]" and r.effective == (AF_INET, RAW, 0)
    assert r.outcome in (OK, NEEDS_PRIVILEGE, UNSUPPORTED)
    if LINUX:
        assert r.outcome == UNSUPPORTED
        assert r.host_error is not None and r.host_error[0] == "EPROTONOSUPPORT"


def test_all_triples_lists_served_then_derived_error_triples() -> None:
    catalog = _load("windows-7")
    served = [(2, 1, 6), (2, 2, 17), (2, 3, 0), (23, 1, 6), (23, 2, 17), (23, 3, 0)]
    assert all_triples(catalog) == served
    assert all_triples(catalog, include_errors=True) == served + [
        (2, 1, 17), (2, 2, 6), (2, 3, -1), (23, 1, 17), (23, 2, 6), (23, 3, -1)]


def test_all_triples_skips_layered_entries() -> None:
    catalog = _hyperv_lsp_catalog()
    triples = all_triples(catalog)
    assert triples[0] == (AF_HYPERV, STREAM, 1)
    assert (AF_INET, STREAM, 132) not in triples     # the layered entry's own triple
    # 15 visible entries; the RSVP entries and the chain repeat triples
    assert len(triples) == len(set(triples)) == 10


def test_include_errors_checks_the_host_too() -> None:
    catalog = _load("windows-11")
    triples = all_triples(catalog, include_errors=True)
    errors = [r for r in probe_triples(catalog, triples) if r.outcome == WINSOCK_ERROR]
    assert {r.request for r in errors} == set(triples) - set(all_triples(catalog))
    for r in errors:
        if r.request[0] in (AF_HYPERV, AF_BTH):
            assert r.host_refuses is None
        elif r.request[0] != AF_INET6 or socket.has_ipv6:
            assert r.host_refuses is True, r     # the host also refuses the Winsock-refused triple


def test_to_json_and_on_result() -> None:
    catalog = _load("windows-11")
    seen: list[ProbeResult] = []
    results = probe_triples(catalog, [(AF_INET, STREAM, TCP), (AF_INET, STREAM, UDP)],
                            timeout=2, on_result=seen.append)
    assert seen == results
    ok, refused = (json.loads(json.dumps(r.to_json())) for r in results)
    tcp = catalog.get(1004)
    assert tcp is not None
    assert ok["outcome"] == "ok"
    assert ok["layers"] == [{"id": 1004, "name": "MSAFD Tcpip [TCP/IP]", "path": tcp.path}]
    assert ok["request"] == {"family": 2, "family_name": "AF_INET", "socket_type": 1,
                             "socket_type_name": "SOCK_STREAM", "protocol": 6,
                             "protocol_name": "IPPROTO_TCP"}
    assert ok["server_bytes"] == ok["bytes_sent"] == 65536 and ok["host_error"] is None
    assert refused["winsock_error"] == 10043
    assert refused["winsock_error_name"] == "WSAEPROTONOSUPPORT"
    assert refused["host_refuses"] is True and refused["host_error"]["errno"]


@pytest.mark.parametrize(("size", "expected"), [
    (0, 1024), (1, 1024), (65527, 1200), (32768, 1200), (100, 99), (0xFFFFFFFF, 1200)])
def test_datagram_size_stays_below_dwmessagesize(size: int, expected: int) -> None:
    assert datagram_size(size) == expected


@pytest.mark.parametrize("kwargs", [
    {"timeout": 0}, {"timeout": -1.0}, {"timeout": float("nan")}, {"timeout": float("inf")},
    {"timeout": True}, {"triples": [(2, 1)]}, {"triples": [(2, 1, "tcp")]},
    {"triples": [(2, 1, 2**31)]}, {"triples": [(2, True, 6)]}, {"triples": [6]},
])
def test_bad_arguments_are_usage_errors(kwargs: dict[str, object]) -> None:
    catalog = _load("windows-11")
    triples = kwargs.pop("triples", [(2, 1, 6)])
    seen: list[ProbeResult] = []
    with pytest.raises(UsageError) as info:
        probe_triples(catalog, triples, on_result=seen.append, **kwargs)  # type: ignore[arg-type]
    assert info.value.exit_code == 2 and info.value.message.endswith(".")
    assert seen == []                     # refused before anything was probed


def test_host_error_names_come_from_errno() -> None:
    r = _one(_load("windows-11"), (AF_INET, STREAM, UDP))
    assert r.host_error is not None
    assert r.host_error[0] in errno.errorcode.values()
