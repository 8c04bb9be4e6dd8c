"""Locks and atomic replacement of files.

A writer locks a sibling lock file (never the file itself, which is replaced), writes a temp file
in the same directory, fsyncs it, ``os.replace``s it over the file and fsyncs the directory, so a
process killed at any instant leaves the old or the new file, never a torn one.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..errors import CatalogFileError, ConflictError
from .limits import MAX_LOCK_TIMEOUT

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


@contextmanager
def exclusive_lock(path: str, timeout: float) -> Iterator[Callable[[], bool]]:
    """An exclusive lock on ``path`` (created if needed), waited for up to ``timeout`` seconds.

    The lock file is opened without following a link (a planted link is refused, never
    followed), and once the lock is held it must still be the file at ``path``: a lock file
    deleted (or replaced) by someone while another writer held it would otherwise let two
    writers in at once, so the writer that finds its file gone starts again (issue 12, item 3).
    The context yields ``held()``, which tells whether the lock file is still the one at
    ``path``; a writer asks it again just before it commits.
    """
    fd = _acquire(path, timeout)
    try:
        yield lambda: _still_at(fd, path)
    finally:
        try:
            _unlock(fd)
        finally:
            os.close(fd)


def _acquire(path: str, timeout: float) -> int:
    """A descriptor of the lock file at ``path``, locked, that is still the file at ``path``."""
    deadline = time.monotonic() + timeout
    while True:
        fd = _open_lock(path)
        try:
            left = max(deadline - time.monotonic(), 0.0)
            if not (_try_lock(fd) or _wait_lock(fd, left)):
                raise ConflictError(f"could not lock {path} within {timeout:g} s; another "
                                    "sporder is writing this catalog.", code="lock-timeout")
        except BaseException:
            os.close(fd)
            raise
        if _still_at(fd, path):
            return fd
        _unlock(fd)            # someone removed or replaced the lock file meanwhile: again
        os.close(fd)


def _open_lock(path: str) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
    except OSError as exc:
        if os.path.islink(path):
            raise CatalogFileError(f"lock file {path} is a symbolic link; sporder does not "
                                   "follow it (remove it if no sporder is running).",
                                   code="lock-unwritable") from None
        raise CatalogFileError(f"cannot create lock file {path}: {exc.strerror or exc}.",
                               code="lock-unwritable") from None


def _still_at(fd: int, path: str) -> bool:
    """Whether the locked file is still the one at ``path`` (same device and inode)."""
    try:
        here = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (here.st_dev, here.st_ino)


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

    def _blocking_lock(fd: int) -> None:
        raise NotImplementedError
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

    def _blocking_lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)


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
            signal.setitimer(signal.ITIMER_REAL, min(max(timeout, 0.001), MAX_LOCK_TIMEOUT))
            try:
                _blocking_lock(fd)
                return True
            except _Expired:
                return False
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous)
    deadline = time.monotonic() + min(timeout, MAX_LOCK_TIMEOUT)
    while time.monotonic() < deadline:
        time.sleep(0.002)
        if _try_lock(fd):
            return True
    return False


def fsync_dir(directory: str) -> None:
    if sys.platform == "win32":  # pragma: no cover
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name(path: str) -> str:
    """``.<name>.<pid>.<8 hex digits>.tmp`` beside ``path``."""
    return os.path.join(os.path.dirname(path) or os.curdir,
                        f".{os.path.basename(path)}.{os.getpid()}.{os.urandom(4).hex()}.tmp")


def _temp_owner(name: str, target: str) -> int | None:
    """The writer's pid when ``name`` is a temp file of ``target`` (a file name), else None."""
    head = f".{target}."
    if not (name.startswith(head) and name.endswith(".tmp")):
        return None
    pid, _, rand = name[len(head):-len(".tmp")].partition(".")
    if not (pid.isdigit() and pid.isascii() and len(rand) == 8
            and all(c in "0123456789abcdef" for c in rand)):
        return None
    return int(pid)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True           # someone else's live process, or cannot tell: leave it alone
    return True


def clean_stale_temps(directory: str, targets: Callable[[str], bool]) -> None:
    """Remove temp files that killed writers left in ``directory``: only temps of the files
    ``targets`` accepts (by name: ``.<target>.<pid>.<hex>.tmp``) whose writer is no longer
    running.  Another file's temp (``cat.toml.x``, an ``export -o`` in flight) is never touched
    (issue 12, item 5).  Names are compared as text, so glob characters are harmless."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(".") and name.endswith(".tmp")):
            continue
        target = name[1:-4].rsplit(".", 2)[0]
        pid = _temp_owner(name, target)
        if pid is None or not targets(target) or _alive(pid):
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Temp file in the same directory, fsync, os.replace, fsync the directory.  The new file
    keeps the old one's mode and (where permitted) owner and group."""
    path = os.fspath(path)
    directory = os.path.dirname(path) or os.curdir
    tmp = temp_name(path)
    try:
        old: os.stat_result | None = os.stat(path)
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
        fsync_dir(directory)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise CatalogFileError(f"could not write catalog file {path}: {exc.strerror or exc}; "
                               "the file was left as it was.", code="catalog-unwritable") from None
