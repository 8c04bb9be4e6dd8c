"""Tests for the WSK client-registration model (real threads, real time, generous bounds)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import pytest

from sporder_py.errors import CatalogFileError, ConflictError, OperationRefused, UsageError
from sporder_py.wsk import (
    MAKE_WSK_VERSION,
    WSK_INFINITE_WAIT,
    WSK_MAJOR_VERSION,
    WSK_MINOR_VERSION,
    WSK_NO_WAIT,
    NtStatus,
    WskClientDispatch,
    WskDeregisterTimeout,
    WskMisuse,
    WskProviderCharacteristics,
    WskRange,
    WskRegistration,
    WskState,
    WskSubsystem,
    format_ntstatus,
    format_wsk_version,
    parse_wsk_version,
    run_capture_sequence,
    status_name,
    wsk_register,
)

V10 = MAKE_WSK_VERSION(1, 0)
V20 = MAKE_WSK_VERSION(2, 0)
OK = NtStatus.STATUS_SUCCESS
DNR = NtStatus.STATUS_DEVICE_NOT_READY


def _reg(sub: WskSubsystem | None = None, version: int = V10) -> WskRegistration:
    return (sub or WskSubsystem()).register(WskClientDispatch(version))


class _Result:
    """Runs fn in a daemon thread, recording its result, exception and finishing time."""

    def __init__(self, fn: Callable[[], object]) -> None:
        self.value: object = None
        self.error: BaseException | None = None
        self.finished_at: float | None = None
        self.done = threading.Event()

        def run() -> None:
            try:
                self.value = fn()
            except BaseException as exc:  # noqa: BLE001 - reported to the test
                self.error = exc
            finally:
                self.finished_at = time.monotonic()
                self.done.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()


def _wait_until(pred: Callable[[], bool], timeout: float = 2.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.005)


# --- constants ---------------------------------------------------------------------------

def test_ntstatus_values_exactly_as_documented() -> None:
    assert {s.name: s.value for s in NtStatus} == {
        "STATUS_SUCCESS": 0x00000000, "STATUS_INVALID_PARAMETER": 0xC000000D,
        "STATUS_NO_MEMORY": 0xC0000017, "STATUS_DEVICE_NOT_READY": 0xC00000A3,
        "STATUS_NOINTERFACE": 0xC00002B9}
    assert status_name(0xC00000A3) == "STATUS_DEVICE_NOT_READY"
    assert status_name(0xC0000001) == "0xC0000001"
    assert format_ntstatus(NtStatus.STATUS_NOINTERFACE) == "0xC00002B9"
    assert format_ntstatus(0) == "0x00000000"


def test_version_macros_and_text() -> None:
    assert MAKE_WSK_VERSION(1, 0) == 0x0100
    assert MAKE_WSK_VERSION(2, 0x1FF) == 0x02FF
    assert WSK_MAJOR_VERSION(0x0203) == 2 and WSK_MINOR_VERSION(0x0203) == 3
    assert (WSK_NO_WAIT, WSK_INFINITE_WAIT) == (0, 0xFFFFFFFF)
    assert parse_wsk_version("1.0") == 0x0100 and parse_wsk_version("2.13") == 0x020D
    assert format_wsk_version(0x0100) == "1.0"
    for bad in ("1", "1.0.0", "x.y", "256.0", "1.-1", ""):
        with pytest.raises(UsageError, match="MAJOR.MINOR"):
            parse_wsk_version(bad)
    with pytest.raises(UsageError):
        format_wsk_version(0x10000)


def test_wsk_range_validation() -> None:
    assert WskRange(V10, V20, True).contains(V10)
    with pytest.raises(CatalogFileError, match="above highest"):
        WskRange(V20, V10, True)
    with pytest.raises(CatalogFileError, match="16-bit"):
        WskRange(0, 0x10000, False)
    with pytest.raises(UsageError):
        WskSubsystem(V20, V10)


# --- waits -------------------------------------------------------------------------------

def test_infinite_wait_returns_promptly_when_another_thread_deregisters() -> None:
    reg = _reg(WskSubsystem(ready=False))
    res = _Result(lambda: reg.capture(WSK_INFINITE_WAIT))
    _wait_until(lambda: reg.counts().waiting == 1)
    time.sleep(0.05)
    assert not res.done.is_set()
    t0 = time.monotonic()
    reg.deregister(timeout=5)
    assert res.done.wait(1.0)
    assert res.value == (DNR, None)
    assert res.finished_at is not None and res.finished_at - t0 < 1.0
    assert reg.state is WskState.DEREGISTERED


def test_timed_wait_succeeds_as_soon_as_ready() -> None:
    sub = WskSubsystem(ready_after_ms=50)
    reg = _reg(sub)
    t0 = time.perf_counter()
    status, npi = reg.capture(200)
    t = (time.perf_counter() - t0) * 1000
    assert status is OK and npi is not None
    assert 30 <= t < 190
    assert reg.counts().captures == 1 and reg.counts().total_captures == 1
    reg.release()
    reg.deregister(timeout=5)


def test_timed_wait_never_ready_fails_after_the_wait() -> None:
    reg = _reg(WskSubsystem(ready=False))
    t0 = time.perf_counter()
    assert reg.capture(200) == (DNR, None)
    t = (time.perf_counter() - t0) * 1000
    assert 180 <= t < 1500
    assert reg.counts().captures == 0
    reg.deregister(timeout=5)


def test_no_wait_on_not_ready_returns_at_once() -> None:
    reg = _reg(WskSubsystem(ready_after_ms=5000))
    t0 = time.perf_counter()
    assert reg.capture(WSK_NO_WAIT) == (DNR, None)
    assert time.perf_counter() - t0 < 0.1
    reg.deregister(timeout=5)


def test_make_ready_wakes_an_infinite_waiter() -> None:
    sub = WskSubsystem(ready=False)
    reg = _reg(sub)
    res = _Result(lambda: reg.capture(WSK_INFINITE_WAIT))
    _wait_until(lambda: reg.counts().waiting == 1)
    assert not sub.is_ready()
    sub.make_ready()
    assert res.done.wait(1.0)
    status, npi = res.value  # type: ignore[misc]
    assert status is OK and npi is not None
    reg.release(npi)
    reg.deregister(timeout=5)


def test_ready_after_delay_wakes_an_infinite_waiter() -> None:
    reg = _reg(WskSubsystem(ready_after_ms=60))
    t0 = time.perf_counter()
    status, _ = reg.capture(WSK_INFINITE_WAIT)
    assert status is OK and 0.04 <= time.perf_counter() - t0 < 0.5
    reg.release()
    reg.deregister(timeout=5)


# --- simultaneity rule ---------------------------------------------------------------------

def test_capture_wins_when_ready_before_deregistration_was_signalled() -> None:
    # The waiter cannot run while we hold the registration lock: the subsystem becomes ready,
    # then deregistration is signalled; by the check order the blocked capture succeeds and
    # deregister() waits for its release.
    reg = _reg(WskSubsystem(ready_after_ms=40))
    got: list[object] = []

    def waiter() -> None:
        status, npi = reg.capture(WSK_INFINITE_WAIT)
        got.append(status)
        time.sleep(0.1)
        if npi is not None:
            reg.release(npi)

    res = _Result(waiter)
    _wait_until(lambda: reg.counts().waiting == 1)
    with reg._cond:
        time.sleep(0.1)  # readiness moment passes while the waiter is locked out
        assert reg.subsystem.is_ready()
        dr = _Result(lambda: reg.deregister(timeout=5))
        time.sleep(0.05)
    assert dr.done.wait(3) and res.done.wait(3)
    assert got == [OK] and dr.error is None
    assert dr.finished_at is not None and res.finished_at is not None


def test_capture_loses_when_ready_after_deregistration() -> None:
    sub = WskSubsystem(ready_after_ms=300)
    reg = _reg(sub)
    res = _Result(lambda: reg.capture(WSK_INFINITE_WAIT))
    _wait_until(lambda: reg.counts().waiting == 1)
    reg.deregister(timeout=5)
    assert res.done.wait(1) and res.value == (DNR, None)


# --- deregistration waits ------------------------------------------------------------------

def test_deregister_blocks_until_last_release_close_and_call() -> None:
    reg = _reg()
    n = 3
    release_now = [threading.Event() for _ in range(n)]
    captured = threading.Barrier(n + 1)
    call_entered, call_exit = threading.Event(), threading.Event()

    def holder(i: int) -> None:
        status, npi = reg.capture(WSK_NO_WAIT)
        assert status is OK and npi is not None
        captured.wait(2)
        release_now[i].wait(5)
        reg.release(npi)

    holders = [_Result(lambda i=i: holder(i)) for i in range(n)]
    captured.wait(2)
    status, npi = reg.capture(WSK_NO_WAIT)
    assert status is OK and npi is not None
    sock = npi.socket()

    def caller() -> None:
        with npi.provider_call():
            call_entered.set()
            call_exit.wait(5)

    call = _Result(caller)
    assert call_entered.wait(2)
    reg.release(npi)  # the NPI we used for socket/call is released; the call is still running
    assert reg.counts().captures == n and reg.counts().sockets == 1
    assert reg.counts().provider_calls == 1

    dr = _Result(lambda: reg.deregister(timeout=5))
    _wait_until(lambda: reg.state is WskState.DEREGISTERING)
    # New captures during deregistration fail with the documented status.
    assert reg.capture(WSK_NO_WAIT) == (DNR, None)
    for i in range(n):
        release_now[i].set()
        holders[i].done.wait(2)
        time.sleep(0.03)
        assert not dr.done.is_set()
    sock.close()
    time.sleep(0.05)
    assert not dr.done.is_set()
    t_last = time.monotonic()
    call_exit.set()
    assert dr.done.wait(1) and dr.error is None
    assert dr.finished_at is not None and dr.finished_at - t_last < 0.5
    assert call.error is None and all(h.error is None for h in holders)
    assert reg.counts().captures == 0 and reg.state is WskState.DEREGISTERED


def test_deregister_timeout_names_what_is_outstanding_and_can_be_finished() -> None:
    reg = _reg()
    _, npi = reg.capture(WSK_NO_WAIT)
    assert npi is not None
    sock = npi.socket()
    with pytest.raises(WskDeregisterTimeout,
                       match=r"1 capture\(s\) unreleased.*1 socket\(s\) open") as ei:
        reg.deregister(timeout=0.05)
    assert isinstance(ei.value, ConflictError)
    assert reg.state is WskState.DEREGISTERING
    assert reg.counts().captures == 1 and reg.counts().sockets == 1
    sock.close()
    reg.release()
    reg.deregister(timeout=1)
    assert reg.state is WskState.DEREGISTERED


# --- version negotiation -------------------------------------------------------------------

def test_unsupported_version_gives_nointerface_and_characteristics() -> None:
    sub = WskSubsystem(V10, V10)
    reg = wsk_register(sub, WskClientDispatch(V20))
    assert reg.capture(WSK_NO_WAIT) == (NtStatus.STATUS_NOINTERFACE, None)
    ch = reg.query_provider_characteristics()
    assert ch == WskProviderCharacteristics(highest_version=V10, lowest_version=V10)
    assert reg.counts().captures == 0
    reg.deregister(timeout=1)
    reg2 = wsk_register(sub, WskClientDispatch(ch.highest_version))
    status, _ = reg2.capture(WSK_NO_WAIT)
    assert status is OK
    reg2.release()
    reg2.deregister(timeout=1)


def test_not_ready_within_wait_beats_version_check() -> None:
    reg = _reg(WskSubsystem(V10, V10, ready=False), V20)
    assert reg.capture(WSK_NO_WAIT) == (DNR, None)
    reg.subsystem.make_ready()
    assert reg.capture(WSK_NO_WAIT) == (NtStatus.STATUS_NOINTERFACE, None)
    reg.deregister(timeout=1)


def test_run_capture_sequence_shows_the_retry() -> None:
    recs = run_capture_sequence(V10, V10, V20, 200, None)
    assert [(r.call, r.status_name) for r in recs] == [
        ("WskRegister", "STATUS_SUCCESS"),
        ("WskCaptureProviderNPI", "STATUS_NOINTERFACE"),
        ("WskQueryProviderCharacteristics", "STATUS_SUCCESS"),
        ("WskDeregister", "STATUS_SUCCESS"),
        ("WskRegister", "STATUS_SUCCESS"),
        ("WskCaptureProviderNPI", "STATUS_SUCCESS"),
        ("WskReleaseProviderNPI", "STATUS_SUCCESS"),
        ("WskDeregister", "STATUS_SUCCESS"),
    ]
    assert recs[1].args == "version=2.0 wait=200ms" and recs[1].status == 0xC00002B9
    assert "LowestVersion=1.0 HighestVersion=1.0" in recs[2].detail
    assert recs[4].args == "version=1.0"
    j = recs[1].to_json()
    assert j["status_hex"] == "0xC00002B9" and j["call"] == "WskCaptureProviderNPI"
    assert all(r.elapsed_ms >= 0 for r in recs)


def test_run_capture_sequence_not_ready_and_bad_version() -> None:
    recs = run_capture_sequence(V10, V10, V10, WSK_NO_WAIT, math.inf)
    assert [(r.call, r.status) for r in recs] == [
        ("WskRegister", 0), ("WskCaptureProviderNPI", 0xC00000A3), ("WskDeregister", 0)]
    assert recs[1].args == "version=1.0 wait=WSK_NO_WAIT"
    recs = run_capture_sequence(V10, V10, V10, 200, 50)
    assert [r.call for r in recs][-2:] == ["WskReleaseProviderNPI", "WskDeregister"]
    assert 30 <= recs[1].elapsed_ms < 190
    recs = run_capture_sequence(V10, V10, 0x0001, 0, None)
    assert [(r.call, r.status_name) for r in recs] == [("WskRegister", "STATUS_INVALID_PARAMETER")]
    with pytest.raises(UsageError):
        run_capture_sequence(V10, V10, V10, WSK_INFINITE_WAIT, math.inf)


# --- misuse --------------------------------------------------------------------------------

def _refused(reg: WskRegistration, fn: Callable[[], object], rule: str) -> None:
    before = reg.counts()
    with pytest.raises(WskMisuse, match=rule) as ei:
        fn()
    assert isinstance(ei.value, OperationRefused) and ei.value.code == "wsk-misuse"
    assert reg.counts() == before


def test_misuse_release_without_capture() -> None:
    reg = _reg()
    _refused(reg, reg.release, "requires an outstanding capture")
    _, npi = reg.capture(WSK_NO_WAIT)
    assert npi is not None
    reg.release(npi)
    _refused(reg, lambda: reg.release(npi), "already released")
    reg.deregister(timeout=1)


def test_misuse_bad_dispatch() -> None:
    sub = WskSubsystem()
    cases: list[tuple[object, str]] = [
        (None, "requires a WSK_CLIENT_DISPATCH"),
        (WskClientDispatch(0x10000), "must be a USHORT"),
        (WskClientDispatch("1.0"), "must be a USHORT"),  # type: ignore[arg-type]
        (WskClientDispatch(0x0005), "major version >= 1"),
        (WskClientDispatch(V10, reserved=1), "Reserved must be 0"),
    ]
    for dispatch, rule in cases:
        with pytest.raises(WskMisuse, match=rule):
            sub.register(dispatch)  # type: ignore[arg-type]
    assert not sub._registrations


def test_misuse_socket_and_calls_after_release() -> None:
    reg = _reg()
    _, npi = reg.capture(WSK_NO_WAIT)
    assert npi is not None
    sock = npi.socket()
    sock.close()
    _refused(reg, sock.close, "closed exactly once")
    reg.release(npi)
    _refused(reg, npi.socket, "after WskReleaseProviderNPI")

    def call() -> None:
        with npi.provider_call():
            pass
    _refused(reg, call, "after WskReleaseProviderNPI")
    reg.deregister(timeout=1)


def test_misuse_after_deregistration() -> None:
    reg = _reg()
    _, npi = reg.capture(WSK_NO_WAIT)
    assert npi is not None
    dr = _Result(lambda: reg.deregister(timeout=5))
    _wait_until(lambda: reg.state is WskState.DEREGISTERING)
    # while deregistering
    _refused(reg, npi.socket, "after WskDeregister was called")

    def call() -> None:
        with npi.provider_call():
            pass
    _refused(reg, call, "after WskDeregister was called")
    _refused(reg, reg.query_provider_characteristics, "after WskDeregister")
    _refused(reg, reg.deregister, "exactly once.*in progress")
    reg.release(npi)
    assert dr.done.wait(1) and dr.error is None
    # after deregister returned
    _refused(reg, lambda: reg.capture(WSK_NO_WAIT), "after WskDeregister returned")
    _refused(reg, reg.query_provider_characteristics, "after WskDeregister")
    _refused(reg, reg.deregister, "exactly once.*already returned")
    _refused(reg, reg.release, "requires an outstanding capture")


def test_misuse_bad_wait_timeout() -> None:
    reg = _reg()
    _refused(reg, lambda: reg.capture(-1), "WaitTimeout")
    _refused(reg, lambda: reg.capture(WSK_INFINITE_WAIT + 1), "WaitTimeout")
    reg.deregister(timeout=1)
