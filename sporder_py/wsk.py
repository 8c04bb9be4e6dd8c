"""A model of Winsock Kernel (WSK) client registration (see reference/wsk.md).

A :class:`WskSubsystem` (supported version range, readiness) accepts client registrations;
each :class:`WskRegistration` enforces capture/release pairing, the three kinds of wait,
version negotiation and deregistration that cancels blocked captures and then waits for
every capture, provider call and socket to be given back.  Misuse raises :class:`WskMisuse`
and never changes any count.  Pure standard library, thread-safe.

Documented choices:

* Check order of a capture: (1) registration already deregistered -> ``WskMisuse``;
  (2) deregistration started -> ``STATUS_DEVICE_NOT_READY`` at once; (3) wait for
  readiness (readiness is the precondition for knowing the provider's versions): not ready
  within the wait -> ``STATUS_DEVICE_NOT_READY``; (4) ready -> ``STATUS_NOINTERFACE`` if the
  client's version is outside [lowest, highest], else ``STATUS_SUCCESS``.
* Simultaneity rule: the subsystem records the monotonic moment it became ready and
  ``deregister()`` records the moment it was signalled.  Each time a blocked capture wakes
  (one condition variable per registration) it checks, in this order: ready at a moment
  <= the deregistration moment (or no deregistration) -> proceed to the version check;
  deregistration signalled -> DEVICE_NOT_READY; own wait expired -> DEVICE_NOT_READY;
  otherwise wait again until the earliest of its deadline and the known readiness moment.
  So a capture that was blocked when the NPI became available wins even if deregistration
  was signalled before it got the lock; deregister() also waits for blocked captures to leave.
* Capturing while deregistration is in progress returns DEVICE_NOT_READY (the documented
  status); capturing after ``deregister()`` has returned is misuse.  Sockets, provider calls
  and characteristics queries are misuse once deregistration has started.
* ``deregister(timeout)`` that times out raises :class:`WskDeregisterTimeout`; the
  registration stays "deregistering" and ``deregister()`` may be called again to finish.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sporder_py.errors import CatalogFileError, ConflictError, OperationRefused, UsageError

# The version helpers and WskRange live in the core modules (the catalog file needs them without
# loading this threaded module); they are re-exported so ``sporder_py.wsk`` is the whole WSK API.
from sporder_py.model import WskRange
from sporder_py.winsock import (  # noqa: F401 - re-exported
    MAKE_WSK_VERSION,
    WSK_MAJOR_VERSION,
    WSK_MINOR_VERSION,
    format_wsk_version,
    parse_wsk_version,
)

WSK_NO_WAIT = 0
WSK_INFINITE_WAIT = 0xFFFFFFFF


class NtStatus(enum.IntEnum):
    STATUS_SUCCESS = 0x00000000
    STATUS_INVALID_PARAMETER = 0xC000000D
    STATUS_NO_MEMORY = 0xC0000017
    STATUS_DEVICE_NOT_READY = 0xC00000A3
    STATUS_NOINTERFACE = 0xC00002B9


def format_ntstatus(value: int) -> str:
    """``0xC00000A3`` style (8 upper-case hex digits)."""
    return f"0x{value & 0xFFFFFFFF:08X}"


def status_name(value: int) -> str:
    """The symbolic name of a known NTSTATUS, else its hex form."""
    try:
        return NtStatus(value).name
    except ValueError:
        return format_ntstatus(value)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class WskMisuse(OperationRefused):
    """A WSK rule was broken; the message names the rule.  State is left unchanged."""

    default_code = "wsk-misuse"


class WskDeregisterTimeout(ConflictError):
    """deregister(timeout) expired with captures, provider calls or sockets outstanding."""

    default_code = "wsk-deregister-timeout"


@dataclass(frozen=True)
class WskProviderCharacteristics:
    highest_version: int
    lowest_version: int


@dataclass(frozen=True)
class WskClientDispatch:
    version: int
    reserved: int = 0
    client_event: object | None = None


@dataclass(frozen=True)
class WskCounts:
    captures: int          # outstanding (captured, not yet released)
    provider_calls: int    # outstanding calls into WSK_PROVIDER_DISPATCH
    sockets: int           # open sockets
    waiting: int           # captures currently blocked waiting
    total_captures: int    # successful captures ever


def _check_range(lowest: int, highest: int) -> None:
    try:
        WskRange(lowest, highest, True)
    except CatalogFileError as exc:
        raise UsageError(exc.message) from None


class WskSubsystem:
    """The WSK provider: a version range plus readiness.

    Readiness: ``ready_after_ms`` given -> ready that long after construction (``math.inf``:
    never, unless ``make_ready()``); else ``ready=True`` -> ready now; else ready when
    ``make_ready()`` is called.
    """

    def __init__(self, lowest: int = MAKE_WSK_VERSION(1, 0), highest: int = MAKE_WSK_VERSION(1, 0),
                 *, ready: bool = True, ready_after_ms: float | None = None) -> None:
        _check_range(lowest, highest)
        self.lowest, self.highest = lowest, highest
        self._lock = threading.Lock()
        self._registrations: set[WskRegistration] = set()
        now = time.monotonic()
        self._made_ready_at: float | None = None
        self._ready_at: float | None = None
        if ready_after_ms is not None:
            if not ready_after_ms >= 0:
                raise UsageError(f"ready_after_ms {ready_after_ms!r} must be a delay >= 0.")
            if not math.isinf(ready_after_ms):
                self._ready_at = now + ready_after_ms / 1000.0
        elif ready:
            self._made_ready_at = now

    def characteristics(self) -> WskProviderCharacteristics:
        return WskProviderCharacteristics(self.highest, self.lowest)

    def ready_since(self, now: float | None = None) -> float | None:
        """The monotonic moment the subsystem became ready, or None if not ready yet."""
        now = time.monotonic() if now is None else now
        with self._lock:
            moments = [t for t in (self._made_ready_at, self._ready_at)
                       if t is not None and t <= now]
        return min(moments) if moments else None

    def is_ready(self) -> bool:
        return self.ready_since() is not None

    def _seconds_to_ready(self, now: float) -> float | None:
        with self._lock:
            return None if self._ready_at is None or self._ready_at <= now else self._ready_at - now

    def make_ready(self) -> None:
        """Become ready now (no-op if already ready) and wake every blocked capture."""
        now = time.monotonic()
        with self._lock:
            if self._made_ready_at is None:
                self._made_ready_at = now
            regs = list(self._registrations)
        for reg in regs:  # never hold the subsystem lock while taking a registration lock
            reg._wake()

    def register(self, dispatch: WskClientDispatch) -> WskRegistration:
        """WskRegister: validate the client dispatch and return a new registration."""
        _validate_dispatch(dispatch)
        reg = WskRegistration(self, dispatch)
        with self._lock:
            self._registrations.add(reg)
        return reg

    def _forget(self, reg: WskRegistration) -> None:
        with self._lock:
            self._registrations.discard(reg)


def _validate_dispatch(dispatch: object) -> None:
    if not isinstance(dispatch, WskClientDispatch):
        raise WskMisuse("WskRegister requires a WSK_CLIENT_DISPATCH table, got "
                        f"{type(dispatch).__name__}.")
    v = dispatch.version
    if not _is_int(v) or not 0 <= v <= 0xFFFF:
        raise WskMisuse(f"WSK_CLIENT_DISPATCH.Version must be a USHORT (0..0xFFFF), got {v!r}.")
    if WSK_MAJOR_VERSION(v) == 0:
        raise WskMisuse(f"WSK_CLIENT_DISPATCH.Version must have a major version >= 1, got "
                        f"{format_wsk_version(v)}.")
    if dispatch.reserved != 0:
        raise WskMisuse(f"WSK_CLIENT_DISPATCH.Reserved must be 0, got {dispatch.reserved!r}.")


def wsk_register(subsystem: WskSubsystem, dispatch: WskClientDispatch) -> WskRegistration:
    """WskRegister(&clientNpi, &registration)."""
    return subsystem.register(dispatch)


class WskState(enum.Enum):
    REGISTERED = "registered"
    DEREGISTERING = "deregistering"
    DEREGISTERED = "deregistered"


class WskRegistration:
    """WSK_REGISTRATION: one client registration (all state under one condition)."""

    def __init__(self, subsystem: WskSubsystem, dispatch: WskClientDispatch) -> None:
        self.subsystem, self.dispatch = subsystem, dispatch
        self._cond = threading.Condition(threading.RLock())
        self.state = WskState.REGISTERED
        self._dereg_at: float | None = None
        self._dereg_in_progress = False
        self._npis: list[WskProviderNpi] = []
        self._calls = self._sockets = self._waiting = self._total = 0

    def counts(self) -> WskCounts:
        with self._cond:
            return WskCounts(len(self._npis), self._calls, self._sockets, self._waiting,
                             self._total)

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def capture(self, wait_timeout_ms: int) -> tuple[NtStatus, WskProviderNpi | None]:
        """WskCaptureProviderNPI (see the module docstring for the check order)."""
        if not _is_int(wait_timeout_ms) or not 0 <= wait_timeout_ms <= WSK_INFINITE_WAIT:
            raise WskMisuse("WaitTimeout must be a ULONG millisecond count, "
                            f"got {wait_timeout_ms!r}.")
        start = time.monotonic()
        deadline = (None if wait_timeout_ms == WSK_INFINITE_WAIT
                    else start + wait_timeout_ms / 1000.0)
        sub = self.subsystem
        with self._cond:
            if self.state is WskState.DEREGISTERED:
                raise WskMisuse("WskCaptureProviderNPI must not be called after WskDeregister "
                                "returned.")
            if self.state is WskState.DEREGISTERING:
                return NtStatus.STATUS_DEVICE_NOT_READY, None
            self._waiting += 1
            try:
                while True:
                    now = time.monotonic()
                    since = sub.ready_since(now)
                    if since is not None and (self._dereg_at is None or since <= self._dereg_at):
                        break
                    if self._dereg_at is not None or (deadline is not None and now >= deadline):
                        return NtStatus.STATUS_DEVICE_NOT_READY, None
                    timeouts = [t for t in (sub._seconds_to_ready(now),
                                            None if deadline is None else deadline - now)
                                if t is not None]
                    self._cond.wait(min(timeouts) if timeouts else None)
            finally:
                self._waiting -= 1
                self._cond.notify_all()  # a deregister() may be waiting for blocked captures
            if not sub.lowest <= self.dispatch.version <= sub.highest:
                return NtStatus.STATUS_NOINTERFACE, None
            npi = WskProviderNpi(self, self.dispatch.version)
            self._npis.append(npi)
            self._total += 1
            return NtStatus.STATUS_SUCCESS, npi

    def query_provider_characteristics(self) -> WskProviderCharacteristics:
        """WskQueryProviderCharacteristics (only while registered)."""
        with self._cond:
            if self.state is not WskState.REGISTERED:
                raise WskMisuse("WskQueryProviderCharacteristics must not be called after "
                                "WskDeregister.")
            return self.subsystem.characteristics()

    def release(self, npi: WskProviderNpi | None = None) -> None:
        """WskReleaseProviderNPI: release ``npi`` or, if None, the latest outstanding capture."""
        with self._cond:
            if npi is None:
                if not self._npis:
                    raise WskMisuse("WskReleaseProviderNPI requires an outstanding capture; every "
                                    "release must pair with one successful capture.")
                npi = self._npis[-1]
            elif npi not in self._npis:
                raise WskMisuse("WskReleaseProviderNPI requires an outstanding capture; this NPI "
                                "was already released or belongs to another registration.")
            self._npis.remove(npi)
            npi.released = True
            self._cond.notify_all()

    def _check_usable(self, npi: WskProviderNpi, what: str) -> None:
        if npi.released:
            raise WskMisuse(f"{what} must not be called after WskReleaseProviderNPI released "
                            "the NPI.")
        if self.state is not WskState.REGISTERED:
            raise WskMisuse(f"{what} must not be called after WskDeregister was called.")

    def _drained(self) -> bool:
        return not (self._npis or self._calls or self._sockets or self._waiting)

    def deregister(self, timeout: float | None = None) -> None:
        """WskDeregister: cancel blocked captures, then block until everything is given back."""
        with self._cond:
            if self.state is WskState.DEREGISTERED:
                raise WskMisuse("WskDeregister must be called exactly once per registration; it "
                                "already returned.")
            if self._dereg_in_progress:
                raise WskMisuse("WskDeregister must be called exactly once per registration; a "
                                "call is already in progress.")
            if self.state is WskState.REGISTERED:
                self.state = WskState.DEREGISTERING
                self._dereg_at = time.monotonic()
                self._cond.notify_all()
            self._dereg_in_progress = True
            try:
                if not self._cond.wait_for(self._drained, timeout):
                    c = self.counts()
                    raise WskDeregisterTimeout(
                        f"WskDeregister timed out after {timeout}s with {c.captures} capture(s) "
                        f"unreleased, {c.provider_calls} provider call(s) outstanding, "
                        f"{c.sockets} socket(s) open and {c.waiting} capture(s) still waiting.")
                self.state = WskState.DEREGISTERED
            finally:
                self._dereg_in_progress = False
        self.subsystem._forget(self)


class WskProviderNpi:
    """WSK_PROVIDER_NPI: one captured instance of the provider interface."""

    def __init__(self, registration: WskRegistration, version: int) -> None:
        self.registration, self.version = registration, version
        self.released = False

    def socket(self) -> WskSocket:
        """Create a socket through WSK_PROVIDER_DISPATCH (counted until closed)."""
        reg = self.registration
        with reg._cond:
            reg._check_usable(self, "WskSocket")
            reg._sockets += 1
            return WskSocket(reg)

    @contextmanager
    def provider_call(self) -> Iterator[WskProviderNpi]:
        """An outstanding call into WSK_PROVIDER_DISPATCH for the duration of the block."""
        reg = self.registration
        with reg._cond:
            reg._check_usable(self, "A WSK_PROVIDER_DISPATCH function")
            reg._calls += 1
        try:
            yield self
        finally:
            with reg._cond:
                reg._calls -= 1
                reg._cond.notify_all()


class WskSocket:
    """A socket created through a captured NPI; must be closed before WskDeregister returns."""

    def __init__(self, registration: WskRegistration) -> None:
        self.registration = registration
        self.closed = False

    def close(self) -> None:
        reg = self.registration
        with reg._cond:
            if self.closed:
                raise WskMisuse("A WSK socket must be closed exactly once; it is already closed.")
            self.closed = True
            reg._sockets -= 1
            reg._cond.notify_all()


@dataclass(frozen=True)
class WskCallRecord:
    call: str
    args: str
    status: int
    status_name: str
    elapsed_ms: float
    detail: str

    def to_json(self) -> dict[str, object]:
        return {"call": self.call, "args": self.args, "status": self.status,
                "status_hex": format_ntstatus(self.status), "status_name": self.status_name,
                "elapsed_ms": round(self.elapsed_ms, 3), "detail": self.detail}


def _wait_text(ms: int) -> str:
    return {WSK_NO_WAIT: "WSK_NO_WAIT", WSK_INFINITE_WAIT: "WSK_INFINITE_WAIT"}.get(ms, f"{ms}ms")


def run_capture_sequence(lowest: int, highest: int, version: int, wait_timeout_ms: int,
                         ready_after_ms: float | None) -> list[WskCallRecord]:
    """Script register -> capture [-> NOINTERFACE: query, deregister, re-register, capture]
    -> release on success -> deregister.  ``ready_after_ms`` None means ready now, ``inf``
    never ready.  A bad client version is recorded as WskRegister STATUS_INVALID_PARAMETER."""
    if not _is_int(wait_timeout_ms) or not 0 <= wait_timeout_ms <= WSK_INFINITE_WAIT:
        raise UsageError(f"Wait timeout {wait_timeout_ms!r} is not 0..0xFFFFFFFF milliseconds.")
    if (wait_timeout_ms == WSK_INFINITE_WAIT and ready_after_ms is not None
            and math.isinf(ready_after_ms)):
        raise UsageError("An infinite wait on a subsystem that never becomes ready would hang.")
    sub = WskSubsystem(lowest, highest, ready_after_ms=ready_after_ms)
    records: list[WskCallRecord] = []
    wait = _wait_text(wait_timeout_ms)

    def record(call: str, args: str, status: int, t0: float, detail: str) -> None:
        records.append(WskCallRecord(call, args, int(status), status_name(status),
                                     (time.perf_counter() - t0) * 1000.0, detail))

    def register(v: int) -> WskRegistration | None:
        t0 = time.perf_counter()
        shown = format_wsk_version(v) if _is_int(v) and 0 <= v <= 0xFFFF else repr(v)
        try:
            reg = sub.register(WskClientDispatch(v))
        except WskMisuse as exc:
            record("WskRegister", f"version={shown}", NtStatus.STATUS_INVALID_PARAMETER, t0,
                   exc.message)
            return None
        record("WskRegister", f"version={shown}", NtStatus.STATUS_SUCCESS, t0,
               "registration created")
        return reg

    def capture(reg: WskRegistration) -> NtStatus:
        t0 = time.perf_counter()
        status, _ = reg.capture(wait_timeout_ms)
        detail = {NtStatus.STATUS_SUCCESS: "provider NPI captured",
                  NtStatus.STATUS_NOINTERFACE: "client version not supported by the subsystem",
                  }.get(status, "provider NPI not available within the wait")
        record("WskCaptureProviderNPI", f"version={format_wsk_version(reg.dispatch.version)} "
               f"wait={wait}", status, t0, detail)
        return status

    def simple(call: str, fn: Callable[[], object], detail: str) -> None:
        t0 = time.perf_counter()
        fn()
        record(call, "", NtStatus.STATUS_SUCCESS, t0, detail)

    reg = register(version)
    if reg is None:
        return records
    status = capture(reg)
    if status is NtStatus.STATUS_NOINTERFACE:
        t0 = time.perf_counter()
        ch = reg.query_provider_characteristics()
        record("WskQueryProviderCharacteristics", "", NtStatus.STATUS_SUCCESS, t0,
               f"LowestVersion={format_wsk_version(ch.lowest_version)} "
               f"HighestVersion={format_wsk_version(ch.highest_version)}")
        simple("WskDeregister", reg.deregister, "deregistered to retry with a supported version")
        reg = register(ch.highest_version)
        if reg is None:  # e.g. a recorded range whose highest version has major 0
            return records
        status = capture(reg)
    if status is NtStatus.STATUS_SUCCESS:
        simple("WskReleaseProviderNPI", reg.release, "capture released")
    simple("WskDeregister", reg.deregister, "deregistered")
    return records
