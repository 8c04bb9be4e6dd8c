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
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import CatalogFileError, ConflictError, OperationRefused, UsageError
from .formats import catalog_toml
from .model import CatalogFile, Change, HistoryRecord

DEFAULT_CATALOG = "windows-11"
KEEP_STATES = 50
KEEP_RECORDS = 1000
DEFAULT_LOCK_TIMEOUT = 30.0


@dataclass(frozen=True)
class Location:
    path: Path
    origin: str            # "option" | "env" | "default"

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    @property
    def history_dir(self) -> Path:
        return self.path.with_name(self.path.name + ".history")


def default_path() -> Path:
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sporder" / "catalog.toml"


def locate(option: str | None) -> Location:
    if option is not None:
        if not option:
            raise UsageError("--catalog was given an empty path.", code="bad-catalog-path")
        return Location(Path(option), "option")
    env = os.environ.get("SPORDER_CATALOG")
    if env is not None:
        if not env:
            raise UsageError("SPORDER_CATALOG is set but empty.", code="bad-catalog-path")
        return Location(Path(env), "env")
    return Location(default_path(), "default")


def _exists(path: Path) -> bool:
    """Whether anything (a file, a directory, even a broken or looping link) is at path."""
    try:
        return os.path.lexists(path)
    except (OSError, ValueError):
        return False


def check_path(path: Path) -> None:
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

def shipped_dir() -> Path:
    here = Path(__file__).resolve().parent
    inside = here / "catalogs"          # installed wheel: force-included package data
    return inside if inside.is_dir() else here.parent / "catalogs"   # source checkout


def shipped_names() -> list[str]:
    return sorted(p.stem for p in shipped_dir().glob("*.toml"))


def shipped_path(name: str) -> Path:
    path = shipped_dir() / f"{name}.toml"
    if not path.is_file():
        raise CatalogFileError(f"there is no shipped catalog named {name!r} (shipped: "
                               f"{', '.join(shipped_names())}).", code="no-such-default")
    return path


def load_shipped(name: str = DEFAULT_CATALOG) -> CatalogFile:
    path = shipped_path(name)
    return catalog_toml.loads(path.read_text(encoding="utf-8"), f"{name} (shipped)")[0]


# --- reading -----------------------------------------------------------------------------------

def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
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
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogFileError(f"{source}: not UTF-8 text (bad byte at offset {exc.start}).",
                               code="catalog-syntax") from None
    if "\x00" in text:
        raise CatalogFileError(f"{source}: contains a NUL byte at offset {text.index(chr(0))}; "
                               "a catalog file is text.", code="catalog-syntax")
    return catalog_toml.loads(text, source)


@dataclass(frozen=True)
class Loaded:
    file: CatalogFile
    warnings: list[str]
    source: str            # what messages call it
    fmt: str               # "toml", "netsh", "reg", ... or "shipped"
    exists: bool


def load(loc: Location, *, any_format: bool = False) -> Loaded:
    """Load for reading.  The per-user default falls back to the shipped default when absent;
    with ``any_format`` the file may be in any format ``import`` reads (detected by content)."""
    if loc.origin == "default" and not loc.path.exists():
        return Loaded(load_shipped(), [], f"{DEFAULT_CATALOG} (shipped)", "shipped", False)
    data = read_bytes(loc.path)
    if any_format:
        from .formats import detect
        f, warnings, fmt = detect.parse(data, str(loc.path), path=loc.path)
        return Loaded(f, warnings, str(loc.path), fmt, True)
    f, warnings = decode_toml(data, str(loc.path))
    return Loaded(f, warnings, str(loc.path), "toml", True)


# --- locking -----------------------------------------------------------------------------------

@contextmanager
def exclusive_lock(path: Path, timeout: float) -> Iterator[None]:
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

def _fsync_dir(directory: Path) -> None:
    if sys.platform == "win32":  # pragma: no cover
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def clean_stale_temps(directory: Path, prefix: str = ".") -> None:
    """Remove temp files a killed writer left in ``directory`` (only the lock holder calls this).
    Names are compared as text, so glob characters in a catalog's name are harmless."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if name.startswith(prefix) and name.endswith(".tmp"):
            try:
                os.unlink(directory / name)
            except OSError:
                pass


def atomic_write(path: Path, data: bytes) -> None:
    """Temp file in the same directory, fsync, os.replace, fsync the directory.  The new file
    keeps the old one's mode and (where permitted) owner and group."""
    tmp = path.with_name(f"{_temp_prefix(path)}{os.getpid()}.{os.urandom(4).hex()}.tmp")
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
        _fsync_dir(path.parent)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise CatalogFileError(f"could not write catalog file {path}: {exc.strerror or exc}; "
                               "the file was left as it was.", code="catalog-unwritable") from None


# --- mutations ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    before: CatalogFile
    after: CatalogFile
    changes: list[Change]
    dry_run: bool
    warnings: list[str]
    extra: dict[str, object]


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
        data = shipped_path(DEFAULT_CATALOG).read_bytes()
        f, _ = decode_toml(data, f"{DEFAULT_CATALOG} (shipped)")
        return f, data, []
    data = read_bytes(loc.path)
    from .formats import detect
    fmt = detect.sniff(data)
    if fmt not in ("toml", None):
        raise CatalogFileError(f"{loc.path} is {fmt} text, not a sporder catalog file; commands "
                               f"that change a catalog edit TOML: run 'sporder import "
                               f"{loc.path}' into a catalog first.", code="catalog-not-toml")
    f, warnings = decode_toml(data, str(loc.path))
    return f, data, warnings


def _save_state(loc: Location, serial: int, data: bytes) -> Path | None:
    """Keep the previous file's bytes for undo; returns the state file if it is new."""
    hdir = loc.history_dir
    state = hdir / f"{serial}.toml"
    try:
        hdir.mkdir(exist_ok=True)
        if state.exists():
            return None
        atomic_write(state, data)
        return state
    except OSError as exc:
        raise CatalogFileError(f"cannot keep the previous state in {hdir}: {exc.strerror or exc}; "
                               "nothing was written.", code="catalog-unwritable") from None


def _prune_states(loc: Location) -> None:
    try:
        states = sorted((p for p in loc.history_dir.glob("*.toml") if p.stem.isdigit()),
                        key=lambda p: int(p.stem))
        for old in states[:-KEEP_STATES]:
            old.unlink()
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
        try:     # validate exactly as a load will, without re-parsing the TOML text
            catalog_toml.from_dict(catalog_toml.to_dict(final), str(loc.path))
        except CatalogFileError as exc:   # the operation's result, not the input, is refused
            raise OperationRefused("the result would not be a valid catalog, so nothing was "
                                   f"written: {exc.message}", code="invalid-result") from None
        text = catalog_toml.dumps(final)
        if not dry_run:
            saved = _save_state(loc, before.serial, raw) if raw is not None else None
            try:
                atomic_write(loc.path, text.encode("utf-8"))
            except CatalogFileError:
                if saved is not None:           # the write failed: leave history as it was
                    saved.unlink(missing_ok=True)
                raise
            _prune_states(loc)
        return Outcome(before, final, changes, dry_run, warnings, extra)

    check_path(loc.path)
    if os.path.islink(loc.path):
        # Write through a link: the real catalog (and its lock and history) is the target's.
        loc = Location(Path(os.path.realpath(loc.path)), loc.origin)

    def current() -> tuple[CatalogFile, bytes | None, list[str]]:
        if create is not None and not _exists(loc.path):
            return create, None, []
        return _read_for_write(loc)

    if create is None and loc.origin != "default" and not _exists(loc.path):
        read_bytes(loc.path)        # says the file does not exist, before anything is created
    if dry_run:
        return run(*current())
    try:
        loc.path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CatalogFileError(f"cannot create directory {loc.path.parent}: "
                               f"{exc.strerror or exc}.", code="catalog-unwritable") from None
    if loc.path.is_dir():
        raise CatalogFileError(f"catalog path {loc.path} is a directory, not a file.",
                               code="catalog-unreadable")
    with exclusive_lock(loc.lock_path, lock_timeout):
        clean_stale_temps(loc.path.parent, _temp_prefix(loc.path))
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
    path = loc.history_dir / f"{serial}.toml"
    if not path.is_file():
        raise OperationRefused(f"the state of serial {serial} is no longer kept (only the last "
                               f"{KEEP_STATES} states are); cannot undo that far.",
                               code="state-not-kept")
    return decode_toml(read_bytes(path), str(path))[0]


def restore(current: CatalogFile, state: CatalogFile) -> CatalogFile:
    """The content of ``state`` with the current serial and history (both only move forward)."""
    return replace(state, serial=current.serial, history=current.history)
