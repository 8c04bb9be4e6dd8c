"""Locate, read, lock and atomically write the catalog file; keep its history (DESIGN §5).

Path precedence: ``--catalog`` > ``SPORDER_CATALOG`` > the per-user data file
(``$XDG_DATA_HOME/sporder/catalog.toml``, ``~/.local/share/sporder/catalog.toml`` when unset;
``%LOCALAPPDATA%\\sporder\\catalog.toml`` on Windows).  When the per-user file does not exist, reads
use the shipped Windows 11 default and the first write creates the file.

Writers lock the sibling ``<catalog>.lock`` (never the catalog, which is replaced), re-read under
the lock, apply the operation, validate, write a temp file in the same directory, fsync,
``os.replace``, fsync the directory.  Readers never lock.  Each write appends a record to the
file's own ``[[history]]`` (so the record and the state it describes are replaced atomically
together) and keeps the previous file's exact bytes as ``<catalog>.history/<serial>.toml`` for
``undo``.  Retention: the last ``KEEP_STATES`` (50) states and ``KEEP_RECORDS`` (1000) records.
"""

from __future__ import annotations

import datetime
import errno
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from . import cache
from ._record import Record, record, replace
from .errors import CatalogFileError, ConflictError, OperationRefused, UsageError
from .formats import catalog_toml
from .model import CatalogFile, Change, HistoryRecord

DEFAULT_CATALOG = "windows-11"
KEEP_STATES = 50
KEEP_RECORDS = 1000
DEFAULT_LOCK_TIMEOUT = 30.0


# Paths are plain strings here: pathlib costs ~4 ms of start-up on the read path (issue 7).
_set = object.__setattr__


@record()
class Location(Record):
    """Where the catalog file is, and what said so."""

    path: str
    origin: str            # "option" | "env" | "default"

    def __init__(self, path: str | os.PathLike[str], origin: str) -> None:
        _set(self, "path", clean_path(os.fspath(path)))
        _set(self, "origin", origin)

    @property
    def lock_path(self) -> str:
        return self.path + ".lock"

    @property
    def history_dir(self) -> str:
        return self.path + ".history"


def clean_path(path: str) -> str:
    """The path as pathlib spelled it: no empty or "." parts, no trailing separator ("a//b/"
    -> "a/b"); ".." is kept (it is not lexical where links are involved)."""
    if sys.platform == "win32":  # pragma: no cover
        return os.path.normpath(path) if path else path
    if not path or "/" not in path and path != ".":
        return path
    head = "//" if path.startswith("//") and not path.startswith("///") else \
        "/" if path.startswith("/") else ""
    tail = "/".join(p for p in path.split("/") if p not in ("", "."))
    return head + tail if head or tail else "."


def _home() -> str:
    home = os.path.expanduser("~")
    if home.startswith("~"):
        raise CatalogFileError("cannot find your home directory for the default catalog path; "
                               "set HOME or XDG_DATA_HOME, or give --catalog.",
                               code="bad-catalog-path")
    return home


def default_path() -> str:
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(_home(), "AppData", "Local")
    else:
        base = os.environ.get("XDG_DATA_HOME") or os.path.join(_home(), ".local", "share")
    return os.path.join(base, "sporder", "catalog.toml")


def locate(option: str | None) -> Location:
    if option is not None:
        if not option:
            raise UsageError("--catalog was given an empty path.", code="bad-catalog-path")
        return Location(option, "option")
    env = os.environ.get("SPORDER_CATALOG")
    if env is not None:
        if not env:
            raise UsageError("SPORDER_CATALOG is set but empty.", code="bad-catalog-path")
        return Location(env, "env")
    return Location(default_path(), "default")


def _exists(path: str) -> bool:
    """Whether anything (a file, a directory, even a broken or looping link) is at path."""
    try:
        return os.path.lexists(path)
    except (OSError, ValueError):
        return False


def check_path(path: str) -> None:
    """Turn a path the OS cannot even look up (too long, a link loop, NUL) into one sentence."""
    try:
        os.stat(path)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        raise CatalogFileError(f"cannot use catalog path {path}: "
                               f"{getattr(exc, 'strerror', None) or exc}.",
                               code="catalog-unreadable") from None


# --- shipped catalogs --------------------------------------------------------------------------

def shipped_dir() -> str:
    here = os.path.dirname(os.path.realpath(__file__))
    inside = os.path.join(here, "catalogs")      # installed wheel: force-included package data
    if os.path.isdir(inside):
        return inside
    return os.path.join(os.path.dirname(here), "catalogs")   # source checkout


def shipped_names() -> list[str]:
    return sorted(n[:-5] for n in os.listdir(shipped_dir())
                  if n.endswith(".toml") and not n.startswith("."))


def shipped_path(name: str) -> str:
    path = os.path.join(shipped_dir(), f"{name}.toml")
    if os.sep in name or (os.altsep and os.altsep in name) or not os.path.isfile(path):
        raise CatalogFileError(f"there is no shipped catalog named {name!r} (shipped: "
                               f"{', '.join(shipped_names())}).", code="no-such-default")
    return path


def load_shipped(name: str = DEFAULT_CATALOG) -> CatalogFile:
    return decode_toml(read_bytes(shipped_path(name)), f"{name} (shipped)")[0]


# --- reading -----------------------------------------------------------------------------------

def read_bytes(path: str | os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise CatalogFileError(f"catalog file {path} does not exist (create it with "
                               "'sporder init').", code="catalog-missing") from None
    except IsADirectoryError:
        raise CatalogFileError(f"catalog path {path} is a directory, not a file.",
                               code="catalog-unreadable") from None
    except OSError as exc:
        raise CatalogFileError(f"cannot read catalog file {path}: {exc.strerror or exc}.",
                               code="catalog-unreadable") from None


def decode_toml(data: bytes, source: str) -> tuple[CatalogFile, list[str]]:
    """Validate a catalog file's bytes, through the parse cache (``cache``: keyed on the bytes,
    so never stale; ``SPORDER_CACHE_CHECK=1`` re-parses on every hit and fails loudly on a
    difference, which the test suite turns on)."""
    hit = cache.get(data)
    if hit is not None:
        if os.environ.get("SPORDER_CACHE_CHECK"):
            fresh = _decode_toml(data, source)
            if fresh != (hit, []):
                raise RuntimeError(f"stale parse cache entry for {source}")
        return hit, []
    f, warnings = _decode_toml(data, source)
    if not warnings:
        cache.put(data, f)
    return f, warnings


def _decode_toml(data: bytes, source: str) -> tuple[CatalogFile, list[str]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogFileError(f"{source}: not UTF-8 text (bad byte at offset {exc.start}).",
                               code="catalog-syntax") from None
    if "\x00" in text:
        raise CatalogFileError(f"{source}: contains a NUL byte at offset {text.index(chr(0))}; "
                               "a catalog file is text.", code="catalog-syntax")
    return catalog_toml.loads(text, source)


@record()
class Loaded(Record):
    """A catalog read for a read command."""

    file: CatalogFile
    warnings: list[str]
    source: str            # what messages call it
    fmt: str               # "toml", "netsh", "reg", ... or "shipped"
    exists: bool

    def __init__(self, file: CatalogFile, warnings: list[str], source: str, fmt: str,
                 exists: bool) -> None:
        _set(self, "file", file)
        _set(self, "warnings", warnings)
        _set(self, "source", source)
        _set(self, "fmt", fmt)
        _set(self, "exists", exists)


def load(loc: Location, *, any_format: bool = False) -> Loaded:
    """Load for reading.  The per-user default falls back to the shipped default when absent;
    with ``any_format`` the file may be in any format ``import`` reads (detected by content)."""
    if loc.origin == "default" and not os.path.exists(loc.path):
        return Loaded(load_shipped(), [], f"{DEFAULT_CATALOG} (shipped)", "shipped", False)
    data = read_bytes(loc.path)
    if any_format:
        from .formats import detect
        f, warnings, fmt = detect.parse(data, loc.path, path=loc.path)
        return Loaded(f, warnings, loc.path, fmt, True)
    f, warnings = decode_toml(data, loc.path)
    return Loaded(f, warnings, loc.path, "toml", True)


# --- locking -----------------------------------------------------------------------------------

@contextmanager
def exclusive_lock(path: str, timeout: float) -> Iterator[None]:
    """An exclusive lock on ``path`` (created if needed), polled until ``timeout`` seconds."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise CatalogFileError(f"cannot create lock file {path}: {exc.strerror or exc}.",
                               code="lock-unwritable") from None
    try:
        if not (_try_lock(fd) or _wait_lock(fd, timeout)):
            raise ConflictError(f"could not lock {path} within {timeout:g} s; another sporder "
                                "is writing this catalog.", code="lock-timeout")
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return False
            raise

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _wait_lock(fd: int, timeout: float) -> bool:
    """Wait for the lock.  In the main thread on POSIX: a blocking flock bounded by a real-time
    timer, so waiters are woken by the kernel in turn instead of being overtaken while asleep;
    elsewhere: polling every 2 ms."""
    import threading
    if sys.platform != "win32" and threading.current_thread() is threading.main_thread():
        import signal

        class _Expired(Exception):
            pass

        def expire(signum: int, frame: object) -> None:
            raise _Expired

        previous = signal.signal(signal.SIGALRM, expire)
        try:
            signal.setitimer(signal.ITIMER_REAL, max(timeout, 0.001))
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                return True
            except _Expired:
                return False
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.002)
        if _try_lock(fd):
            return True
    return False


# --- atomic write ------------------------------------------------------------------------------

def _fsync_dir(directory: str) -> None:
    if sys.platform == "win32":  # pragma: no cover
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_prefix(path: str) -> str:
    return f".{os.path.basename(path)}."


def clean_stale_temps(directory: str, prefix: str = ".") -> None:
    """Remove temp files a killed writer left in ``directory`` (only the lock holder calls this).
    Names are compared as text, so glob characters in a catalog's name are harmless."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if name.startswith(prefix) and name.endswith(".tmp"):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Temp file in the same directory, fsync, os.replace, fsync the directory.  The new file
    keeps the old one's mode and (where permitted) owner and group."""
    path = os.fspath(path)
    directory = os.path.dirname(path) or os.curdir
    tmp = os.path.join(directory,
                       f"{_temp_prefix(path)}{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        old = os.stat(path)
    except OSError:
        old = None
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            if old is not None and hasattr(os, "fchmod"):
                os.fchmod(fd, old.st_mode & 0o7777)
                try:
                    os.fchown(fd, old.st_uid, old.st_gid)
                except OSError:
                    pass
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(directory)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise CatalogFileError(f"could not write catalog file {path}: {exc.strerror or exc}; "
                               "the file was left as it was.", code="catalog-unwritable") from None


# --- mutations ---------------------------------------------------------------------------------

@record()
class Outcome(Record):
    """What a mutation did (or, in a dry run, would do)."""

    before: CatalogFile
    after: CatalogFile
    changes: list[Change]
    dry_run: bool
    warnings: list[str]
    extra: dict[str, object]

    def __init__(self, before: CatalogFile, after: CatalogFile, changes: list[Change],
                 dry_run: bool, warnings: list[str], extra: dict[str, object]) -> None:
        _set(self, "before", before)
        _set(self, "after", after)
        _set(self, "changes", changes)
        _set(self, "dry_run", dry_run)
        _set(self, "warnings", warnings)
        _set(self, "extra", extra)


Operation = Callable[[CatalogFile], "tuple[CatalogFile, list[Change]] | tuple[CatalogFile, list[Change], dict[str, object]]"]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _user() -> str:
    import getpass
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - getuser raises various errors without a login name
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _record(before: CatalogFile, after: CatalogFile, command: str, summary: str,
            undo_target: int | None) -> CatalogFile:
    serial = before.serial + 1
    rec = HistoryRecord(_now(), _user(), command, summary, before.serial, serial,
                        before.serial if undo_target is None else undo_target)
    history = (before.history + (rec,))[-KEEP_RECORDS:]
    return replace(after, serial=serial, history=history)


def _read_for_write(loc: Location) -> tuple[CatalogFile, bytes | None, list[str]]:
    if not _exists(loc.path) and loc.origin == "default":
        data = read_bytes(shipped_path(DEFAULT_CATALOG))
        f, _ = decode_toml(data, f"{DEFAULT_CATALOG} (shipped)")
        return f, data, []
    data = read_bytes(loc.path)
    from .formats import detect
    fmt = detect.sniff(data)
    if fmt not in ("toml", None):
        raise CatalogFileError(f"{loc.path} is {fmt} text, not a sporder catalog file; commands "
                               f"that change a catalog edit TOML: run 'sporder import "
                               f"{loc.path}' into a catalog first.", code="catalog-not-toml")
    f, warnings = decode_toml(data, loc.path)
    return f, data, warnings


def _save_state(loc: Location, serial: int, data: bytes) -> str | None:
    """Keep the previous file's bytes for undo; returns the state file if it is new."""
    hdir = loc.history_dir
    state = os.path.join(hdir, f"{serial}.toml")
    try:
        try:
            os.mkdir(hdir)
        except FileExistsError:
            if not os.path.isdir(hdir):
                raise
        if os.path.exists(state):
            return None
        atomic_write(state, data)
        return state
    except OSError as exc:
        raise CatalogFileError(f"cannot keep the previous state in {hdir}: {exc.strerror or exc}; "
                               "nothing was written.", code="catalog-unwritable") from None


def _prune_states(loc: Location) -> None:
    try:
        states = sorted((n for n in os.listdir(loc.history_dir)
                         if n.endswith(".toml") and n[:-5].isdigit()), key=lambda n: int(n[:-5]))
        for old in states[:-KEEP_STATES]:
            os.unlink(os.path.join(loc.history_dir, old))
    except OSError:
        pass      # an old state that cannot be pruned does no harm


def mutate(loc: Location, operation: Operation, *, command: str, summary: Callable[[list[Change]], str],
           dry_run: bool = False, if_serial: int | None = None,
           lock_timeout: float = DEFAULT_LOCK_TIMEOUT, undo_target: Callable[[CatalogFile], int] | None = None,
           create: CatalogFile | None = None) -> Outcome:
    """Apply ``operation`` to the catalog at ``loc`` as one locked, atomic, recorded write.

    A dry run reads without the lock, runs the same operation and validation, and writes nothing.
    ``create`` is the content to start from when the file does not exist (``init``).
    """
    def run(before: CatalogFile, raw: bytes | None, warnings: list[str]) -> Outcome:
        if if_serial is not None and before.serial != if_serial:
            raise ConflictError(f"the catalog's serial is {before.serial}, not {if_serial}; it "
                                "changed since you looked (re-read it and retry).",
                                code="serial-mismatch")
        result = operation(before)
        after, changes = result[0], result[1]
        extra = result[2] if len(result) > 2 else {}  # type: ignore[misc]
        if after is before or (not changes and after.same_content(before)):
            return Outcome(before, before, [], dry_run, warnings, extra)
        # Validate the result exactly as a later load will.
        final = _record(before, after, command, summary(changes),
                        undo_target(before) if undo_target else None)
        plain = catalog_toml.to_dict(final)
        try:     # validate exactly as a load will, without re-parsing the TOML text
            reread, reread_warnings = catalog_toml.from_dict(plain, loc.path)
        except CatalogFileError as exc:   # the operation's result, not the input, is refused
            raise OperationRefused("the result would not be a valid catalog, so nothing was "
                                   f"written: {exc.message}", code="invalid-result") from None
        data = catalog_toml.dumps_dict(plain).encode("utf-8")
        if not dry_run:
            saved = _save_state(loc, before.serial, raw) if raw is not None else None
            try:
                atomic_write(loc.path, data)
            except CatalogFileError:
                if saved is not None:           # the write failed: leave history as it was
                    try:
                        os.unlink(saved)
                    except FileNotFoundError:
                        pass
                raise
            _prune_states(loc)
            if not reread_warnings:   # what loading these bytes gives: the next read is a hit
                cache.put(data, reread)
        return Outcome(before, final, changes, dry_run, warnings, extra)

    check_path(loc.path)
    if os.path.islink(loc.path):
        # Write through a link: the real catalog (and its lock and history) is the target's.
        loc = Location(os.path.realpath(loc.path), loc.origin)

    def current() -> tuple[CatalogFile, bytes | None, list[str]]:
        if create is not None and not _exists(loc.path):
            return create, None, []
        return _read_for_write(loc)

    if create is None and loc.origin != "default" and not _exists(loc.path):
        read_bytes(loc.path)        # says the file does not exist, before anything is created
    if dry_run:
        return run(*current())
    parent = os.path.dirname(loc.path) or os.curdir
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise CatalogFileError(f"cannot create directory {parent}: "
                               f"{exc.strerror or exc}.", code="catalog-unwritable") from None
    if os.path.isdir(loc.path):
        raise CatalogFileError(f"catalog path {loc.path} is a directory, not a file.",
                               code="catalog-unreadable")
    with exclusive_lock(loc.lock_path, lock_timeout):
        clean_stale_temps(parent, _temp_prefix(loc.path))
        clean_stale_temps(loc.history_dir)
        return run(*current())


# --- history and undo --------------------------------------------------------------------------

def undo_plan(f: CatalogFile, steps: int) -> int:
    """The serial whose state ``undo --steps`` restores, following each record's undo target."""
    by_after = {h.serial_after: h for h in f.history}
    serial = f.serial
    for _ in range(steps):
        rec = by_after.get(serial)
        if rec is None or rec.undo_target == 0:
            raise OperationRefused(f"there is no recorded write to undo before serial {serial} "
                                   "(see 'sporder log').", code="nothing-to-undo")
        serial = rec.undo_target
    return serial


def load_state(loc: Location, serial: int) -> CatalogFile:
    path = os.path.join(loc.history_dir, f"{serial}.toml")
    if not os.path.isfile(path):
        raise OperationRefused(f"the state of serial {serial} is no longer kept (only the last "
                               f"{KEEP_STATES} states are); cannot undo that far.",
                               code="state-not-kept")
    return decode_toml(read_bytes(path), path)[0]


def restore(current: CatalogFile, state: CatalogFile) -> CatalogFile:
    """The content of ``state`` with the current serial and history (both only move forward)."""
    return replace(state, serial=current.serial, history=current.history)
