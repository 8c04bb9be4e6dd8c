r"""The running Windows machine's own catalog, read (never written) from the live registry.

``HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters`` is read through the
standard library's ``winreg`` into a :class:`~sporder_py.formats.registry.RegTree` — the whole
subtree, as the offline hive reader copies it: ``Protocol_Catalog9`` with its counters,
``Catalog_Entries`` and ``Catalog_Entries64``, ``NameSpace_Catalog5``, ``AppId_Catalog`` — and
mapped to the model by :func:`~sporder_py.formats.registry.catalog_from_tree`, the one decoder that
.reg exports and offline hives also use.  So the three sources decode identically.

* Every key is opened with ``KEY_READ | KEY_WOW64_64KEY``: a 32-bit Python on 64-bit Windows
  still sees the native catalog (the WinSock2 key is shared, not redirected, but the flag makes
  that explicit and harmless).
* All ``winreg`` calls sit in :func:`registry_tree`, which takes the module as a parameter (tests
  pass a stand-in that serves a real hive).  Values are mapped as winreg returns them:
  REG_SZ / REG_EXPAND_SZ ``str`` -> str, REG_DWORD / REG_QWORD ``int`` -> int, REG_BINARY ``bytes``
  -> bytes and an empty one (winreg gives ``None``) -> ``b""``, REG_MULTI_SZ ``list[str]`` -> its
  registry encoding (UTF-16LE, NUL-terminated strings, a final NUL) as bytes; any other type is
  kept as bytes ("anything else as bytes", as for .reg files).
* A consistent snapshot (winsock-semantics §4.8): the catalogs' ``Serial_Access_Num`` values are
  read again after the subtree; when they moved, a writer's lock key (``%08X`` of the serial) was
  present, or a key vanished between being listed and being opened, the read is repeated (three
  attempts, then ConflictError).
* Without ``winreg`` (any system but Windows) :func:`read_live` raises CatalogFileError; so does
  an ``OSError`` from the registry (access denied, a missing key), naming the key.
"""

from __future__ import annotations

import importlib
import os
import platform
import time
from typing import Any

from ..errors import CatalogFileError, ConflictError
from ..model import CatalogFile
from .registry import NAMESPACE_CATALOG, PROTOCOL_CATALOG, RegTree, RegValue, catalog_from_tree

SOURCE = "live registry"
HKLM_NAME = "HKEY_LOCAL_MACHINE"
PARAMETERS = r"SYSTEM\CurrentControlSet\Services\WinSock2\Parameters"
ATTEMPTS = 3
RETRY_DELAY = 0.05              # seconds before a repeated read (times the attempt number)

# Value types (winnt.h), as winreg reports them.
REG_SZ, REG_EXPAND_SZ, REG_BINARY, REG_DWORD, REG_MULTI_SZ, REG_QWORD = 1, 2, 3, 4, 7, 11
# Windows error codes that winreg raises as OSError.winerror.
ERROR_FILE_NOT_FOUND, ERROR_ACCESS_DENIED, ERROR_NO_MORE_ITEMS = 2, 5, 259


class CatalogChanged(Exception):
    """The registry changed under a read (a listed key vanished); the read should be repeated.

    ``error`` is what to report when the read cannot be repeated any more."""

    def __init__(self, error: CatalogFileError) -> None:
        super().__init__(error.message)
        self.error = error


def computer_name() -> str:
    """This computer's name, for the header "live (<computer name>)"."""
    return os.environ.get("COMPUTERNAME") or platform.node() or "this computer"


def registry_value(data: object, reg_type: int) -> RegValue:
    """A value as winreg returns it (data, type) -> what a RegTree holds (str, int or bytes)."""
    if data is None:                          # winreg's empty REG_BINARY (or other raw type)
        return b""
    if isinstance(data, str):                 # REG_SZ, REG_EXPAND_SZ (up to the first NUL)
        return data
    if isinstance(data, int):                 # REG_DWORD, REG_QWORD (unsigned)
        return data
    if isinstance(data, bytes):               # REG_BINARY and every other type
        return data
    if isinstance(data, list) and all(isinstance(s, str) for s in data):    # REG_MULTI_SZ
        return ("".join(f"{s}\0" for s in data) + "\0").encode("utf-16-le", "surrogatepass")
    raise TypeError(f"winreg returned a {type(data).__name__} for registry type {reg_type}")


def _oserror_sentence(exc: OSError, key: str) -> CatalogFileError:
    winerror = getattr(exc, "winerror", None)
    if isinstance(exc, FileNotFoundError) or winerror == ERROR_FILE_NOT_FOUND:
        return CatalogFileError(f"{SOURCE}: the key {key} does not exist.", code="live-missing")
    if isinstance(exc, PermissionError) or winerror == ERROR_ACCESS_DENIED:
        return CatalogFileError(f"{SOURCE}: access to the key {key} was denied.",
                                code="live-denied")
    reason = exc.strerror or str(exc) or type(exc).__name__
    if winerror is not None:
        reason = f"{reason}, error {winerror}"
    return CatalogFileError(f"{SOURCE}: the key {key} cannot be read ({reason}).",
                            code="live-unreadable")


def registry_tree(winreg: Any, root_path: str, depth: int | None = None) -> RegTree:
    r"""``HKEY_LOCAL_MACHINE\<root_path>`` and its subkeys (down to ``depth`` levels; None = all)
    as a RegTree, through the given winreg module.  The only function that calls winreg.

    A key that cannot be opened or read raises CatalogFileError naming it; a subkey that was
    listed but has gone when opened (or a listing that shrank while read) raises CatalogChanged.
    """
    access = winreg.KEY_READ | winreg.KEY_WOW64_64KEY
    tree = RegTree()

    def full(rel: str) -> str:
        return "\\".join(p for p in (HKLM_NAME, root_path, rel) if p)

    def read(parent: Any, name: str, rel: str, level: int) -> None:
        try:
            handle = winreg.OpenKeyEx(parent, name, 0, access)
        except OSError as exc:
            error = _oserror_sentence(exc, full(rel))
            if rel and isinstance(exc, FileNotFoundError):      # listed a moment ago
                raise CatalogChanged(error) from None
            raise error from None
        try:
            try:
                subkeys, values, _ = winreg.QueryInfoKey(handle)
                tree.add(rel)
                for i in range(values):
                    vname, data, vtype = winreg.EnumValue(handle, i)
                    tree.set(rel, vname, registry_value(data, vtype))
                names = [winreg.EnumKey(handle, i) for i in range(subkeys)]
            except OSError as exc:
                error = _oserror_sentence(exc, full(rel))
                if getattr(exc, "winerror", None) == ERROR_NO_MORE_ITEMS:    # shrank meanwhile
                    raise CatalogChanged(error) from None
                raise error from None
            if depth is None or level < depth:
                for sub in names:
                    read(handle, sub, f"{rel}\\{sub}" if rel else sub, level + 1)
        finally:
            winreg.CloseKey(handle)

    read(winreg.HKEY_LOCAL_MACHINE, root_path, "", 0)
    return tree


def _serials(tree: RegTree) -> list[tuple[str, object]]:
    """(catalog key, its Serial_Access_Num) for the protocol and the namespace catalog."""
    params = tree.values("")
    out: list[tuple[str, object]] = []
    for value, default in (("current_protocol_catalog", PROTOCOL_CATALOG),
                           ("current_namespace_catalog", NAMESPACE_CATALOG)):
        name = params.get(value)
        key = name if isinstance(name, str) and name else default
        out.append((key, tree.values(key).get("serial_access_num")))
    return out


def _consistent(winreg: Any, tree: RegTree) -> bool:
    """No writer held a catalog (its ``%08X``-of-serial lock subkey, §4.8) and both serials are
    still what the subtree read saw."""
    for key, serial in _serials(tree):
        if not tree.has(key):
            continue
        if isinstance(serial, int) and tree.has(f"{key}\\{serial:08X}"):
            return False
        now = registry_tree(winreg, f"{PARAMETERS}\\{key}", depth=0)
        if now.values("").get("serial_access_num") != serial:
            return False
    return True


def _snapshot(winreg: Any) -> RegTree:
    """The Parameters subtree, read again (up to ATTEMPTS times) while it changes."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            tree = registry_tree(winreg, PARAMETERS)
            if _consistent(winreg, tree):
                return tree
        except CatalogChanged as changed:
            if attempt == ATTEMPTS:
                raise changed.error from None
        if attempt < ATTEMPTS:
            time.sleep(RETRY_DELAY * attempt)
    raise ConflictError(f"{SOURCE}: the Winsock catalog kept changing while it was read "
                        f"({ATTEMPTS} attempts); try again.", code="live-changing")


def load_winreg() -> Any:
    """The standard library's winreg module, or CatalogFileError off Windows."""
    try:
        return importlib.import_module("winreg")
    except ImportError:
        raise CatalogFileError(f"{SOURCE}: the live catalog can be read only on Windows; elsewhere "
                               "read a catalog file, a .reg export or an offline SYSTEM hive.",
                               code="live-unsupported") from None


def read_live(winreg_module: Any = None) -> tuple[CatalogFile, list[str]]:
    """This machine's Winsock catalog -> (CatalogFile, warnings), or CatalogFileError.

    ``winreg_module`` replaces the standard library's winreg (tests pass a stand-in)."""
    winreg = winreg_module if winreg_module is not None else load_winreg()
    return catalog_from_tree(_snapshot(winreg), SOURCE)
