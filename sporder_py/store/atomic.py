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
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import CatalogFileError, ConflictError

DEFAULT_LOCK_TIMEOUT = 30.0      # seconds a writer waits for the lock (--lock-timeout)


@contextmanager
def exclusive_lock(path: str, timeout: float) -> Iterator[None]:
    """An exclusive lock on ``path`` (created if needed), waited for up to ``timeout`` seconds."""
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
            signal.setitimer(signal.ITIMER_REAL, max(timeout, 0.001))
            try:
                _blocking_lock(fd)
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


def fsync_dir(directory: str) -> None:
    if sys.platform == "win32":  # pragma: no cover
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_prefix(path: str) -> str:
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
                       f"{temp_prefix(path)}{os.getpid()}.{os.urandom(4).hex()}.tmp")
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
