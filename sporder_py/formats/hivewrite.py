r"""Writing the catalog into an offline SYSTEM hive (a Windows image's ``config\SYSTEM``).

:func:`write_hive` puts a :class:`~sporder_py.model.CatalogFile` into the control set that
``Select\Current`` names (or ``control_set=N``) of an existing hive, through ``hivexregedit``
(Debian package ``libwin-hivex-perl``), fed with :func:`~sporder_py.formats.regfile.render_reg`
for ``HKEY_LOCAL_MACHINE\SYSTEM\ControlSet00N`` and ``--prefix 'HKEY_LOCAL_MACHINE\SYSTEM'``
(hivexregedit(1): keys in a hive are stored relative to that prefix).  The file is never
modified in place:

1. the hive is read with sporder's own reader (so a file that is not a hive, a damaged or
   truncated one, a missing control set or WinSock2 key is refused before anything is written);
2. it is copied to a temporary file in its own directory and the .reg is merged into the copy;
3. the copy is read back and must give exactly the model (below), with both
   ``Serial_Access_Num`` values above the original's, and every other key and value of
   ``WinSock2\Parameters`` (``AppId_Catalog``, ``NameSpace_Callout``, ...) as it was;
4. the original is kept as ``<path>.sporder-backup`` (refused when one exists, unless
   ``force``), the copy is fsynced and replaces the original with ``os.replace``, and the
   directory is fsynced.  A failure at any step removes the temporary files and leaves the hive
   byte-identical.

"Exactly the model" compares the decoded catalogs: every catalog the model has (no other), each
protocol entry in order with every ``WSAPROTOCOL_INFOW`` field (ids, chains, paths, flags...),
every namespace provider in order with all its values, and ``next_entry_id``.  Not compared,
because the hive does not carry them: the file's serial (the hive gets its own, see below),
description, history, application categories (``AppId_Catalog`` key names are a hash of unknown
algorithm, winsock-semantics §5.5; the hive's key is left as it was), LSP ranking, WSK range, and
the LSP categories of entries (registry storage unknown, §8); what the model had of these is
listed in the result's ``not_written``.

Choices (cited where Windows' behaviour is the reason):

* ``Serial_Access_Num``: ws2_32 reloads a catalog when the value differs from the one it cached
  (ReactOS dcatalog.c WsTcRefreshFromRegistry, winsock-semantics §4.8).  The protocol catalog
  gets ``max(model serial, old + 1)``, the namespace catalog its own ``old + 1`` (the two
  counters are independent in real hives: 24 and 12 in the Windows 7 one); a value whose
  ``%08X`` name is a subkey of the catalog key (a writer's lock key, §4.8) is skipped, as
  ws2_32 would wait on it for 180 seconds.
* ``PackedCatalogItem`` size: 888 bytes when every item in the target control set has 888 (all
  four real Windows 7-10 hives do; their ws2_32 wrote that form), else 1016 (winsock-semantics
  §5.3).
* The model's catalogs must be the hive's: a 32-bit catalog alone into a 64-bit Windows hive
  (or the reverse) is refused, since ws2_32 would look for entries the file no longer has.
* A hive whose base block sequence numbers differ was not closed cleanly (a copy of a running
  system); hivexregedit ignores transaction logs (``SYSTEM.LOG1/.LOG2``), so the result carries
  a warning saying changes still in them are not in the written hive.

Errors (one sentence each): UsageError (exit 2) for a bad ``control_set``; CatalogFileError
(exit 3) for a hive that cannot be read, written or verified, and when hivexregedit is missing;
OperationRefused (exit 1) when the backup exists or the model's catalogs do not fit the hive.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import winsock as ws
from .._record import replace
from ..errors import CatalogFileError, OperationRefused
from ..model import BITNESSES, Bitness, Catalog, CatalogFile
from .hive import (
    HiveCatalog,
    check_control_set,
    control_set_key,
    looks_like_hive,
    read_hive_catalog,
)
from .packed import PACKED_MIN, PACKED_SIZE
from .regfile import render_reg
from .registry import COUNT_VALUE, ENTRIES_KEY, NAMESPACE_CATALOG, PROTOCOL_CATALOG, RegTree

HIVEX_TOOL = "hivexregedit"
HIVEX_PACKAGE = "libwin-hivex-perl"
HIVE_PREFIX = r"HKEY_LOCAL_MACHINE\SYSTEM"
BACKUP_SUFFIX = ".sporder-backup"
MERGE_TIMEOUT = 300.0            # seconds; a merge of these hives takes about 0.1 s
BASE_BLOCK = 4096                # regf header: sequence numbers at 4 and 8, data size at 0x28


@dataclass(frozen=True)
class HiveWriteResult:
    """What :func:`write_hive` did."""

    path: str                           # the hive written (symbolic links resolved)
    backup: str                         # where the previous file now is
    control_set: int                    # N of ControlSet00N
    chosen_by: str                      # "Select\\Current" or "the caller"
    key: str                            # ControlSet00N\Services\WinSock2\Parameters
    serial_before: int                  # Protocol_Catalog9\Serial_Access_Num
    serial_after: int
    namespace_serial_before: int | None  # NameSpace_Catalog5\Serial_Access_Num
    namespace_serial_after: int
    packed_size: int                    # bytes per PackedCatalogItem written (888 or 1016)
    protocols: dict[Bitness, int]       # entries written per catalog
    namespaces: dict[Bitness, int]
    not_written: tuple[str, ...]        # what the model has that a hive does not carry
    warnings: tuple[str, ...]
    seconds: float

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "backup": self.backup, "control_set": self.control_set,
                "chosen_by": self.chosen_by, "key": self.key,
                "serial_before": self.serial_before, "serial_after": self.serial_after,
                "namespace_serial_before": self.namespace_serial_before,
                "namespace_serial_after": self.namespace_serial_after,
                "packed_size": self.packed_size, "protocols": dict(self.protocols),
                "namespaces": dict(self.namespaces), "not_written": list(self.not_written),
                "warnings": list(self.warnings), "seconds": round(self.seconds, 3)}


def comparable(f: CatalogFile) -> tuple[int, dict[Bitness, Catalog]]:
    """What a hive carries of a catalog file, for "equal" (module docstring)."""
    return f.next_entry_id, {
        b: c.with_protocols([e.with_changes(lsp_categories=0) for e in c.protocols])
        for b, c in f.catalogs.items()}


def first_difference(want: CatalogFile, got: CatalogFile) -> str | None:
    """None when ``got`` carries exactly ``want`` (see :func:`comparable`), else a phrase."""
    (want_next, want_cats), (got_next, got_cats) = comparable(want), comparable(got)
    if sorted(want_cats) != sorted(got_cats):
        return f"catalogs {sorted(got_cats)} instead of {sorted(want_cats)}"
    for b, cat in want_cats.items():
        other = got_cats[b]
        for kind, mine, theirs in (("protocol entry", cat.protocols, other.protocols),
                                   ("namespace provider", cat.namespaces, other.namespaces)):
            if len(mine) != len(theirs):
                return f"{len(theirs)} {kind}s instead of {len(mine)} in catalog {b}"
            for pos, (x, y) in enumerate(zip(mine, theirs, strict=True), 1):
                if x != y:
                    return f"{kind} {pos} of catalog {b} differs"
    if want_next != got_next:
        return f"Next_Catalog_Entry_ID {got_next} instead of {want_next}"
    return None


def _not_written(f: CatalogFile) -> tuple[str, ...]:
    notes = []
    lsp = sum(1 for c in f.catalogs.values() for e in c.protocols if e.lsp_categories)
    if lsp:
        notes.append(f"the LSP categories of {lsp} entries (their registry storage is unknown)")
    if f.app_categories:
        notes.append(f"{len(f.app_categories)} application categories (AppId_Catalog key names "
                     "are a hash of unknown algorithm; the hive's AppId_Catalog is unchanged)")
    if f.lsp_ranking:
        notes.append("the LSP category ranking (sporder's own setting)")
    if f.wsk is not None:
        notes.append("the WSK version range (not part of the Winsock catalog)")
    return tuple(notes)


def _dword(tree: RegTree, key: str, name: str) -> int | None:
    v = tree.values(key).get(name.lower())
    return v if isinstance(v, int) else None


def _free_serial(tree: RegTree, keys: list[str], candidate: int) -> int:
    """The first value >= candidate whose ``%08X`` name is no lock subkey (§4.8)."""
    taken = {name.upper() for key in keys for name in tree.children(key)}
    while f"{candidate:08X}" in taken:
        candidate += 1
    return candidate


def _packed_size(tree: RegTree, catalog_key: str) -> int:
    sizes = {len(v) for b in BITNESSES
             for entry in tree.children(f"{catalog_key}\\{ENTRIES_KEY[b]}")
             for v in [tree.values(f"{catalog_key}\\{ENTRIES_KEY[b]}\\{entry}")
                       .get("packedcatalogitem")] if isinstance(v, bytes)}
    return PACKED_MIN if sizes == {PACKED_MIN} else PACKED_SIZE


def _rewritten(path: str) -> bool:
    r"""True for the keys render_reg deletes and rewrites (the four entry lists and below)."""
    parts = path.lower().split("\\")
    return len(parts) >= 2 and parts[0] in (PROTOCOL_CATALOG.lower(), NAMESPACE_CATALOG.lower()) \
        and parts[1] in ("catalog_entries", "catalog_entries64")


_WRITTEN_VALUES = {
    "": {"winsock_registry_version", "current_namespace_catalog", "current_protocol_catalog"},
    NAMESPACE_CATALOG.lower(): {*(v.lower() for v in COUNT_VALUE.values()), "serial_access_num"},
    PROTOCOL_CATALOG.lower(): {*(v.lower() for v in COUNT_VALUE.values()), "serial_access_num",
                               "next_catalog_entry_id"},
}


def unchanged_elsewhere(before: RegTree, after: RegTree) -> str | None:
    """None when every key and value of ``before`` that render_reg does not write is in
    ``after`` unchanged; else the first key or value that is not, as a phrase."""
    for path in before.paths():
        if _rewritten(path):
            continue
        if not after.has(path):
            return f"the key {path or 'Parameters'} is gone"
        written = _WRITTEN_VALUES.get(path.lower(), set())
        mine, theirs = before.values(path), after.values(path)
        for name, value in mine.items():
            if name not in written and theirs.get(name) != value:
                return f"the value {name} of {path or 'Parameters'} changed"
    return None


def _fail(source: str, detail: str, code: str) -> CatalogFileError:
    return CatalogFileError(f"{source}: {detail}", code=code)


def _header_checks(target: Path, source: str, size: int) -> list[str]:
    """Refuse a truncated hive; warn about one that was not closed cleanly."""
    with open(target, "rb") as fh:
        head = fh.read(BASE_BLOCK)
    if not looks_like_hive(head):
        return []                        # the reader says what it is not
    if len(head) < BASE_BLOCK:
        raise _fail(source, f"the hive is truncated ({size} bytes, less than its "
                            f"{BASE_BLOCK}-byte header).", "hive-truncated")
    seq1, seq2 = struct.unpack_from("<II", head, 4)
    data_size = struct.unpack_from("<I", head, 0x28)[0]
    if size < BASE_BLOCK + data_size:
        raise _fail(source, f"the hive is truncated: its header declares "
                            f"{BASE_BLOCK + data_size} bytes but the file has {size}.",
                    "hive-truncated")
    if seq1 != seq2:
        return [f"{source}: the hive was not closed cleanly (base block sequence numbers {seq1} "
                f"and {seq2} differ); hivexregedit ignores transaction logs, so changes still "
                f"in {target.name}.LOG1/.LOG2, if any, are not in the written hive."]
    return []


def _fsync(path: Path | str, *, directory: bool = False) -> None:
    fd = os.open(path, (os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)) if directory
                 else os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _removing(*paths: Path) -> Iterator[None]:
    """Remove the given temporary files on the way out, whatever happens."""
    try:
        yield
    finally:
        for p in paths:
            try:
                p.unlink()
            except FileNotFoundError:
                pass


def _merge(tool: str, hive: Path, reg: bytes, source: str) -> None:
    r"""``hivexregedit --merge --prefix HKEY_LOCAL_MACHINE\SYSTEM hive`` with the .reg on stdin.

    hivexregedit reads the local encoding, UTF-8 with LF (hivexregedit(1) ENCODING), and
    encodes strings to UTF-16LE itself; PERL_UNICODE=Ii makes Perl decode its stdin as UTF-8
    (without it, a non-ASCII character would be stored as its UTF-8 bytes, each widened).
    """
    text = reg.decode("utf-16-le").removeprefix("\ufeff").replace("\r\n", "\n")
    env = {**os.environ, "PERL_UNICODE": "Ii"}
    try:
        done = subprocess.run([tool, "--merge", "--prefix", HIVE_PREFIX, str(hive)],
                              input=text.encode("utf-8"), capture_output=True, env=env,
                              timeout=MERGE_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise _fail(source, f"{HIVEX_TOOL} did not finish within {MERGE_TIMEOUT:.0f} seconds; "
                            "the hive is unchanged.", "hive-write-failed") from None
    except OSError as exc:
        raise _fail(source, f"{HIVEX_TOOL} could not be run ({exc.strerror or exc}); the hive "
                            "is unchanged.", "hive-write-failed") from None
    if done.returncode != 0:
        lines = [ln.strip() for ln in done.stderr.decode("utf-8", "replace").splitlines()
                 if ln.strip()]
        said = (lines[0] if lines else f"exit status {done.returncode}")[:200]
        said = "".join(c if c.isprintable() else "?" for c in said).rstrip(".")
        raise _fail(source, f"{HIVEX_TOOL} could not merge the catalog into the hive "
                            f"({said}); the hive is unchanged.", "hive-write-failed")


def _keep_backup(target: Path, backup: Path, force: bool, source: str) -> None:
    """Make ``backup`` hold the current file: a hard link when the file system has them (the
    original inode, untouched by the replace that follows), else a copy; never clobbers an
    existing backup unless ``force``."""
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}{BACKUP_SUFFIX}")
    try:
        try:
            os.link(target, tmp)
        except OSError:
            with open(target, "rb") as src, open(tmp, "xb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
                dst.flush()
                os.fsync(dst.fileno())
            shutil.copystat(target, tmp)
        if force:
            os.replace(tmp, backup)
        else:
            try:
                os.link(tmp, backup)           # fails if it exists: no clobbering, no race
            except FileExistsError:
                raise OperationRefused(f"{source}: the backup {backup} already exists; move it "
                                       "away or force the write to replace it.",
                                       code="hive-backup-exists") from None
    except OSError as exc:
        raise _fail(source, f"the backup {backup} could not be written "
                            f"({exc.strerror or exc}); the hive is unchanged.",
                    "hive-write-failed") from None
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass


def write_hive(f: CatalogFile, path: str | os.PathLike[str], *, control_set: int | None = None,
               force: bool = False) -> HiveWriteResult:
    r"""Write ``f`` into the SYSTEM hive at ``path`` (module docstring); returns what was done.

    ``control_set`` None writes the control set ``Select\Current`` names (the one Windows boots),
    N writes ``ControlSet00N`` (which must exist).  ``force`` replaces an existing
    ``<path>.sporder-backup``.  Raises UsageError, CatalogFileError or OperationRefused (one
    sentence each) and then leaves every file as it was.
    """
    started = time.perf_counter()
    control_set = check_control_set(control_set)
    source = os.fspath(path)
    tool = shutil.which(HIVEX_TOOL)
    if tool is None:
        raise _fail(source, f"writing a registry hive needs {HIVEX_TOOL}, which is not on PATH; "
                            f"install the Debian package {HIVEX_PACKAGE} (apt-get install "
                            f"{HIVEX_PACKAGE}).", "hive-tool-missing")
    target = Path(os.path.realpath(source))      # resolved once; a link keeps pointing here
    try:
        st = os.stat(target)
    except OSError as exc:
        raise _fail(source, f"cannot be read ({exc.strerror or exc}).",
                    "catalog-unreadable") from None
    if not stat.S_ISREG(st.st_mode):
        raise _fail(source, "is not a regular file.", "hive-invalid")
    # A file without write permission is refused even for root (who could write it anyway):
    # the mode says the image is not to be changed.
    if not st.st_mode & 0o222 or not os.access(target, os.W_OK):
        raise _fail(source, f"the hive is read-only (mode {stat.S_IMODE(st.st_mode):04o}); make "
                            "it writable to change it.", "hive-read-only")
    directory = target.parent
    if not os.access(directory, os.W_OK | os.X_OK):
        raise _fail(source, f"its directory {directory} is not writable, and the hive is "
                            "replaced through a temporary file there.", "hive-read-only")
    backup = target.with_name(target.name + BACKUP_SUFFIX)
    if os.path.lexists(backup) and not force:
        raise OperationRefused(f"{source}: the backup {backup} already exists; move it away or "
                               "force the write to replace it.", code="hive-backup-exists")
    warnings = _header_checks(target, source, st.st_size)
    before: HiveCatalog = read_hive_catalog(target, source, control_set)
    warnings += before.warnings
    n = before.control_set
    if sorted(f.catalogs) != sorted(before.file.catalogs):
        raise OperationRefused(
            f"{source}: the hive's {control_set_key(n)} has catalogs "
            f"{', '.join(sorted(before.file.catalogs))} but the model has "
            f"{', '.join(sorted(f.catalogs)) or 'none'}; a catalog is neither added to nor "
            "dropped from a Windows image.", code="hive-bitness-mismatch")

    tree = before.tree
    current_proto = tree.values("").get("current_protocol_catalog")
    proto_keys = list(dict.fromkeys([PROTOCOL_CATALOG, *(
        [current_proto] if isinstance(current_proto, str) else [])]))
    olds = [s for k in proto_keys if (s := _dword(tree, k, "Serial_Access_Num")) is not None]
    serial_before = max(olds, default=0)
    serial = _free_serial(tree, proto_keys, max(f.serial, serial_before + 1))
    ns_before = before.namespace_serial
    ns_serial = _free_serial(tree, [NAMESPACE_CATALOG], (ns_before or 0) + 1)
    if max(serial, ns_serial) > ws.DWORD_MAX:
        raise OperationRefused(f"{source}: Serial_Access_Num cannot go above {ws.DWORD_MAX}.",
                               code="hive-serial-overflow")
    size = _packed_size(tree, proto_keys[-1])
    model = replace(f, serial=serial)
    reg = render_reg(model, f"{HIVE_PREFIX}\\{control_set_key(n)}", packed_size=size,
                     namespace_serial=ns_serial)

    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".sporder-tmp",
                                    dir=directory)
    tmp = Path(tmp_name)
    with _removing(tmp):
        try:
            with os.fdopen(fd, "wb") as dst, open(target, "rb") as src:
                shutil.copyfileobj(src, dst, 1 << 20)
        except OSError as exc:
            raise _fail(source, f"could not be copied to a temporary file in {directory} "
                                f"({exc.strerror or exc}); the hive is unchanged.",
                        "hive-write-failed") from None
        _merge(tool, tmp, reg, source)
        try:
            after = read_hive_catalog(tmp, source, n)
        except CatalogFileError as exc:
            raise _fail(source, f"the hive written by {HIVEX_TOOL} cannot be read back "
                                f"({exc.code}); the hive is unchanged.",
                        "hive-verify-failed") from None
        problem = first_difference(model, after.file)
        if problem is None and (after.file.serial, after.namespace_serial) != (serial, ns_serial):
            problem = "Serial_Access_Num was not written"
        if problem is None:
            problem = unchanged_elsewhere(tree, after.tree)
        if problem is not None:
            raise _fail(source, f"the hive written by {HIVEX_TOOL} does not read back as the "
                                f"catalog ({problem}); the hive is unchanged.",
                        "hive-verify-failed")
        try:
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                os.chown(tmp, st.st_uid, st.st_gid)
            _fsync(tmp)
        except OSError as exc:
            raise _fail(source, f"the written hive could not be completed "
                                f"({exc.strerror or exc}); the hive is unchanged.",
                        "hive-write-failed") from None
        now = os.stat(target)
        if (now.st_ino, now.st_size, now.st_mtime_ns) != (st.st_ino, st.st_size, st.st_mtime_ns):
            raise _fail(source, "the hive changed while it was being written; nothing was "
                                "replaced.", "hive-changed")
        _keep_backup(target, backup, force, source)
        try:
            os.replace(tmp, target)
            _fsync(directory, directory=True)
        except OSError as exc:
            raise _fail(source, f"the hive could not be replaced ({exc.strerror or exc}); it is "
                                f"unchanged and {backup} holds the same bytes.",
                        "hive-write-failed") from None
    return HiveWriteResult(
        path=str(target), backup=str(backup), control_set=n, chosen_by=before.chosen_by,
        key=before.key, serial_before=serial_before, serial_after=serial,
        namespace_serial_before=ns_before, namespace_serial_after=ns_serial, packed_size=size,
        protocols={b: len(c.protocols) for b, c in f.catalogs.items()},
        namespaces={b: len(c.namespaces) for b, c in f.catalogs.items()},
        not_written=_not_written(f), warnings=tuple(warnings),
        seconds=time.perf_counter() - started)
