"""A validated parse cache for catalog files (issue 7: reads at the speed of a hash).

Parsing a catalog is tomllib (pure Python: ~1.7 s for a 10,000-entry, 7 MB file) plus validation
(~0.3 s).  The cache keeps, per distinct file *content*, the already validated ``CatalogFile`` as
plain tuples in ``marshal`` format, so a later read of the same bytes costs reading the file,
hashing it and rebuilding the objects (~0.05 s at 10,000 entries).

Why it is never stale:
- The key is a BLAKE2b digest of the file's exact bytes, salted with the cache layout version,
  sporder's version, the Python version and the model's field names.  Nothing about the file's
  name, mtime or inode is trusted: any change of content is a different key, and a file changed
  back to earlier content maps to that content's (still correct) entry.
- Only a successful, warning-free parse is stored, and a catalog is stored only after it passed
  the same validation a load applies; on a hit, the object is the one that validation produced.
- A cache file carries a digest of its own payload and is checked on every read; anything that
  does not check out (truncated, corrupted, another layout) is ignored and the file parsed.
- Writes are atomic (temp file + ``os.replace``); a cache that cannot be created, read or written
  only costs speed, never an error message.
- The salt also covers the source of the modules that decide validation (a checkout or patched
  build with an unchanged version number still gets fresh entries after a rule changes).
- Entries are believed without validation, so they are only read from a directory that this
  user owns and nobody else can write, never through a link, and only from a regular file.

Location: ``$SPORDER_CACHE_DIR``, else ``$XDG_CACHE_HOME/sporder`` (``~/.cache/sporder``), or
``%LOCALAPPDATA%\\sporder\\cache`` on Windows.  ``SPORDER_NO_CACHE=1`` turns it off.  At most
``KEEP`` (64) entries are kept; the least recently written go first; files in that directory that
are not named like an entry are never touched.
"""

from __future__ import annotations

import marshal
import os
import re
import stat
import sys
from typing import Any

from . import __version__
from .model import (
    AppCategory,
    Catalog,
    CatalogFile,
    HistoryRecord,
    NamespaceEntry,
    ProtocolEntry,
    WskRange,
)

try:                                   # the C module, without hashlib's ~8 ms OpenSSL import
    from _blake2 import blake2b
except ImportError:                    # pragma: no cover - CPython builds without _blake2
    from hashlib import blake2b

LAYOUT = 1
KEEP = 64
_MAGIC = b"sporder-cache\x00"
_SUFFIX = ".bin"
_OURS = re.compile(r"^(?:[0-9a-f]{40}\.bin|\.[0-9]+\.[0-9a-f]{8}\.tmp)$")   # nothing else is pruned
_MAX_BYTES = 1 << 30


def _code_digest() -> bytes:
    """The code that decides what a catalog's bytes validate to: a changed rule (in a checkout,
    an editable install or a patched build that keeps the version) is a different salt."""
    from . import model, names, winsock
    from .formats import catalog_toml
    h = blake2b(digest_size=32)
    for mod in (sys.modules[__name__], model, winsock, names, catalog_toml):
        try:
            with open(mod.__file__ or "", "rb") as fh:
                h.update(fh.read())
        except OSError:
            h.update(repr(mod).encode())
    return h.digest()


_salt: bytes | None = None


def _salt_key() -> bytes:
    """Everything that shapes an entry, computed on first use (not when the cache is off)."""
    global _salt
    if _salt is None:
        _salt = blake2b(repr((LAYOUT, __version__, sys.version_info[:2], marshal.version,
                              ProtocolEntry._names, NamespaceEntry._names, Catalog._names,
                              CatalogFile._names, AppCategory._names, HistoryRecord._names,
                              WskRange._names)).encode() + _code_digest(),
                        digest_size=32).digest()
    return _salt


def directory() -> str | None:
    """The cache directory, or None when caching is off."""
    if os.environ.get("SPORDER_NO_CACHE", "") not in ("", "0"):
        return None
    explicit = os.environ.get("SPORDER_CACHE_DIR")
    if explicit:
        return explicit
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return os.path.join(base, "sporder", "cache") if base else None
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        home = os.path.expanduser("~")
        if home.startswith("~"):          # no home directory at all: no cache
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "sporder")


def _trusted(where: str) -> bool:
    """Only a directory of this user's that nobody else can write (POSIX): entries are
    believed without validation, so nobody else may be able to plant one."""
    if not hasattr(os, "geteuid"):
        return True
    try:
        st = os.lstat(where)
    except OSError:
        return False
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()
            and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def key(data: bytes) -> str:
    """The entry name for a file's bytes: their digest, keyed with everything that shapes one."""
    return blake2b(data, digest_size=20, key=_salt_key()).hexdigest()


# --- the plain form: tuples of field values in field order ------------------------------------

def to_plain(f: CatalogFile) -> tuple[Any, ...]:
    return (
        tuple((b, tuple(ProtocolEntry._values(e) for e in c.protocols),
               tuple(NamespaceEntry._values(n) for n in c.namespaces))
              for b, c in f.catalogs.items()),
        f.next_entry_id, f.serial, f.description, f.format,
        tuple(AppCategory._values(a) for a in f.app_categories),
        f.lsp_ranking,
        None if f.wsk is None else WskRange._values(f.wsk),
        tuple(HistoryRecord._values(h) for h in f.history),
    )


def from_plain(p: tuple[Any, ...]) -> CatalogFile:
    cats, next_id, serial, description, fmt, apps, ranking, wsk, history = p
    P, N = ProtocolEntry, NamespaceEntry
    return CatalogFile(
        {b: Catalog(b, tuple([P(*e) for e in protos]), tuple([N(*n) for n in names]))
         for b, protos, names in cats},
        next_id, serial, description, fmt,
        tuple([AppCategory(*a) for a in apps]), ranking,
        None if wsk is None else WskRange(*wsk),
        tuple([HistoryRecord(*h) for h in history]))


# --- lookup and store --------------------------------------------------------------------------

def get(data: bytes) -> CatalogFile | None:
    """The validated catalog for exactly these bytes, or None."""
    where = directory()
    if where is None or not _trusted(where):
        return None
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | \
        getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(os.path.join(where, key(data) + _SUFFIX), flags)
    except (OSError, ValueError):
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_BYTES:
            return None               # a FIFO, a device or a giant: not an entry of ours
        with os.fdopen(fd, "rb", closefd=False) as fh:
            blob = fh.read()
    except (OSError, ValueError, MemoryError):
        return None
    finally:
        os.close(fd)
    head = len(_MAGIC) + 32
    if len(blob) < head or not blob.startswith(_MAGIC):
        return None
    payload = memoryview(blob)[head:]
    if blake2b(payload, digest_size=32).digest() != blob[len(_MAGIC):head]:
        return None
    try:
        return from_plain(marshal.loads(payload))
    except Exception:  # noqa: BLE001 - a cache entry that does not rebuild is just a miss
        return None


def put(data: bytes, f: CatalogFile) -> None:
    """Remember ``f`` as the validated content of ``data`` (best effort, never raises)."""
    where = directory()
    if where is None:
        return
    try:
        payload = marshal.dumps(to_plain(f))
        os.makedirs(where, mode=0o700, exist_ok=True)
        if not _trusted(where):
            return
        final = os.path.join(where, key(data) + _SUFFIX)
        tmp = os.path.join(where, f".{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            with open(tmp, "xb") as fh:
                fh.write(_MAGIC + blake2b(payload, digest_size=32).digest() + payload)
            os.replace(tmp, final)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        _prune(where)
    except Exception:  # noqa: BLE001 - the catalog is already written; a cache only costs speed
        pass


def _prune(where: str) -> None:
    names = [n for n in os.listdir(where) if _OURS.match(n)]
    if len(names) <= KEEP:
        return
    aged = []
    for n in names:
        try:
            aged.append((os.stat(os.path.join(where, n)).st_mtime_ns, n))
        except OSError:
            pass
    aged.sort()
    for _, n in aged[:len(aged) - KEEP]:
        try:
            os.unlink(os.path.join(where, n))
        except OSError:
            pass
