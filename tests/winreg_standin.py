r"""A stand-in for the standard library's ``winreg`` that serves a real SYSTEM hive, key by key.

``HiveWinreg(path)`` exposes the names ``sporder_py.formats.live`` uses, with Windows' numeric
constants and winreg's behaviour:

* ``HKEY_LOCAL_MACHINE\SYSTEM`` is the hive's root; ``SYSTEM\CurrentControlSet`` is the control
  set named by the hive's ``Select\Current`` (an offline hive has no link key).  Other HKLM keys
  do not exist.  Key names are case-insensitive; subkeys are listed in the hive's (sorted) order,
  values in the hive's order; the unnamed value is "".
* Values come back as winreg's ``Reg2Py`` gives them: REG_SZ / REG_EXPAND_SZ -> str up to the
  first NUL, REG_DWORD / REG_QWORD -> int, REG_MULTI_SZ -> list[str], REG_BINARY, REG_NONE and
  every other type -> bytes, or None when the data is empty.  The type code is Windows' number.
  They are read with regipy (``iter_values(trim_values=False)``), whose ``value_type`` is a *name*
  (``"REG_SZ"``, ``"REG_EXPAND_SZ"``...; an unnamed type is its number as a string) mapped back to
  the number here.  regipy decodes strings itself (UTF-16LE, trailing NULs stripped), so a string
  is cut at its first NUL as winreg does; types regipy does not return as raw bytes (DWORD big
  endian, link, FILETIME) are refused rather than guessed; regipy reports a DEVPROP type
  (0xFFFF00xx) by its low bits.  None of these occurs under WinSock2.
* Errors are winreg's: a missing key or value -> FileNotFoundError (errno ENOENT, winerror 2), an
  index past the end of EnumKey / EnumValue -> OSError (errno EINVAL, winerror 259 "No more data
  is available"), a closed handle -> OSError (errno EBADF, winerror 6).  ``fail`` makes chosen keys
  fail to open: ``{r"SYSTEM\CurrentControlSet\...": "denied" | "missing"}`` -> PermissionError
  (errno EACCES, winerror 5) or FileNotFoundError.  (Off Windows, OSError ignores its winerror
  argument, so the attribute is set on the exception explicitly.)
* ``opened`` records (key path, access mask) of every OpenKeyEx; ``open_handles`` counts handles
  not yet closed.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Predefined keys, access rights and value types: winreg's (= Windows') numeric values.
HKEY_CLASSES_ROOT = 0x80000000
HKEY_CURRENT_USER = 0x80000001
HKEY_LOCAL_MACHINE = 0x80000002
HKEY_USERS = 0x80000003
KEY_QUERY_VALUE = 0x0001
KEY_ENUMERATE_SUB_KEYS = 0x0008
KEY_NOTIFY = 0x0010
KEY_READ = 0x20019
KEY_WOW64_64KEY = 0x0100
KEY_WOW64_32KEY = 0x0200
REG_NONE = 0
REG_SZ = 1
REG_EXPAND_SZ = 2
REG_BINARY = 3
REG_DWORD = 4
REG_DWORD_LITTLE_ENDIAN = 4
REG_DWORD_BIG_ENDIAN = 5
REG_LINK = 6
REG_MULTI_SZ = 7
REG_RESOURCE_LIST = 8
REG_FULL_RESOURCE_DESCRIPTOR = 9
REG_RESOURCE_REQUIREMENTS_LIST = 10
REG_QWORD = 11
REG_QWORD_LITTLE_ENDIAN = 11

# regipy's value_type names (regipy.structs.VALUE_TYPE_ENUM) -> Windows' numbers.
REGIPY_TYPES = {
    "REG_NONE": REG_NONE, "REG_SZ": REG_SZ, "REG_EXPAND_SZ": REG_EXPAND_SZ,
    "REG_BINARY": REG_BINARY, "REG_DWORD": REG_DWORD, "REG_DWORD_BIG_ENDIAN": REG_DWORD_BIG_ENDIAN,
    "REG_LINK": REG_LINK, "REG_MULTI_SZ": REG_MULTI_SZ, "REG_RESOURCE_LIST": REG_RESOURCE_LIST,
    "REG_FULL_RESOURCE_DESCRIPTOR": REG_FULL_RESOURCE_DESCRIPTOR,
    "REG_RESOURCE_REQUIREMENTS_LIST": REG_RESOURCE_REQUIREMENTS_LIST, "REG_QWORD": REG_QWORD,
}
_RAW_TYPES = {REG_NONE, REG_BINARY, REG_RESOURCE_LIST, REG_FULL_RESOURCE_DESCRIPTOR,
              REG_RESOURCE_REQUIREMENTS_LIST}

ERROR_FILE_NOT_FOUND = 2
ERROR_ACCESS_DENIED = 5
ERROR_INVALID_HANDLE = 6
ERROR_NO_MORE_ITEMS = 259
_ERRORS: dict[int, tuple[type[OSError], int, str]] = {
    ERROR_FILE_NOT_FOUND: (FileNotFoundError, errno.ENOENT,
                           "The system cannot find the file specified"),
    ERROR_ACCESS_DENIED: (PermissionError, errno.EACCES, "Access is denied"),
    ERROR_INVALID_HANDLE: (OSError, errno.EBADF, "The handle is invalid"),
    ERROR_NO_MORE_ITEMS: (OSError, errno.EINVAL, "No more data is available"),
}

error = OSError          # winreg.error is an alias of OSError


def winerror(code: int) -> OSError:
    """The exception winreg raises for a Windows error code (PyErr_SetFromWindowsErr)."""
    cls, err, text = _ERRORS[code]
    exc = cls(err, text)
    exc.winerror = code          # type: ignore[attr-defined]   (Windows sets it from the 4th arg)
    return exc


def winreg_value(value_type: str, value: Any) -> tuple[Any, int]:
    """A regipy Value's (value_type, value) -> (data, type) exactly as winreg's EnumValue gives."""
    code = REGIPY_TYPES.get(value_type)
    if code is None and value_type.isdigit():
        code = int(value_type)
    if code in (REG_SZ, REG_EXPAND_SZ):
        if isinstance(value, bytes):          # regipy could not decode it as UTF-16LE
            value = value[:len(value) // 2 * 2].decode("utf-16-le", "surrogatepass")
        return value.split("\0", 1)[0], code
    if code in (REG_DWORD, REG_QWORD) and isinstance(value, int):
        return value, code
    if code == REG_MULTI_SZ and isinstance(value, list):
        return [str(s) for s in value], code
    if code is not None and (code in _RAW_TYPES or code > REG_QWORD) and isinstance(value, bytes):
        return (value or None), code
    raise NotImplementedError(f"the winreg stand-in cannot serve a {value_type} value "
                              f"({type(value).__name__} from regipy)")


@dataclass
class _Node:
    path: str                      # canonical hive path below HKLM, e.g. SYSTEM\ControlSet001
    nk: Any                        # regipy NKRecord
    _subkeys: list[tuple[str, Any]] | None = None
    _values: list[tuple[str, Any, int]] | None = None
    children: dict[str, _Node] = field(default_factory=dict)

    def subkeys(self) -> list[tuple[str, Any]]:
        if self._subkeys is None:       # materialised at once: regipy shares one stream
            self._subkeys = [(s.name, s) for s in list(self.nk.iter_subkeys() or ())]
        return self._subkeys

    def values(self) -> list[tuple[str, Any, int]]:
        if self._values is None:
            out = []
            for v in list(self.nk.iter_values(trim_values=False) or ()):
                data, code = winreg_value(v.value_type, v.value)
                out.append(("" if v.name == "(default)" else v.name, data, code))
            self._values = out
        return self._values

    def child(self, name: str) -> _Node | None:
        low = name.lower()
        if low not in self.children:
            match = [nk for sub, nk in self.subkeys() if sub.lower() == low]
            if not match:
                return None
            self.children[low] = _Node(f"{self.path}\\{match[0].name}", match[0])
        return self.children[low]


class HKEYType:
    """A key handle (winreg.HKEYType): Close(), Detach(), context manager, int()."""

    _next = 0x100

    def __init__(self, owner: HiveWinreg, node: _Node, shown: str) -> None:
        HKEYType._next += 4
        self.handle = HKEYType._next
        self.node: _Node | None = node
        self.shown = shown            # the path as opened (CurrentControlSet kept)
        self._owner = owner
        owner.open_handles += 1

    def Close(self) -> None:        # noqa: N802  (winreg's name)
        if self.node is not None:
            self.node = None
            self._owner.open_handles -= 1

    def Detach(self) -> int:        # noqa: N802
        handle, self.handle = self.handle, 0
        self.Close()
        return handle

    def __int__(self) -> int:
        return self.handle if self.node is not None else 0

    def __enter__(self) -> HKEYType:
        return self

    def __exit__(self, *exc: object) -> None:
        self.Close()


class HiveWinreg:
    """A winreg module serving ``HKEY_LOCAL_MACHINE\\SYSTEM`` from an offline SYSTEM hive."""

    HKEY_CLASSES_ROOT = HKEY_CLASSES_ROOT
    HKEY_CURRENT_USER = HKEY_CURRENT_USER
    HKEY_LOCAL_MACHINE = HKEY_LOCAL_MACHINE
    HKEY_USERS = HKEY_USERS
    KEY_QUERY_VALUE = KEY_QUERY_VALUE
    KEY_ENUMERATE_SUB_KEYS = KEY_ENUMERATE_SUB_KEYS
    KEY_NOTIFY = KEY_NOTIFY
    KEY_READ = KEY_READ
    KEY_WOW64_64KEY = KEY_WOW64_64KEY
    KEY_WOW64_32KEY = KEY_WOW64_32KEY
    REG_NONE = REG_NONE
    REG_SZ = REG_SZ
    REG_EXPAND_SZ = REG_EXPAND_SZ
    REG_BINARY = REG_BINARY
    REG_DWORD = REG_DWORD
    REG_DWORD_LITTLE_ENDIAN = REG_DWORD_LITTLE_ENDIAN
    REG_DWORD_BIG_ENDIAN = REG_DWORD_BIG_ENDIAN
    REG_LINK = REG_LINK
    REG_MULTI_SZ = REG_MULTI_SZ
    REG_RESOURCE_LIST = REG_RESOURCE_LIST
    REG_FULL_RESOURCE_DESCRIPTOR = REG_FULL_RESOURCE_DESCRIPTOR
    REG_RESOURCE_REQUIREMENTS_LIST = REG_RESOURCE_REQUIREMENTS_LIST
    REG_QWORD = REG_QWORD
    REG_QWORD_LITTLE_ENDIAN = REG_QWORD_LITTLE_ENDIAN
    HKEYType = HKEYType
    error = OSError

    def __init__(self, hive_path: str | Path, fail: dict[str, str] | None = None) -> None:
        from regipy.registry import RegistryHive
        self.hive = RegistryHive(str(hive_path))
        current = self.hive.get_key("\\Select").get_value("Current")
        self.control_set = f"ControlSet{current:03d}"
        self.root = _Node("SYSTEM", self.hive.get_key("\\"))
        self.fail = {k.lower(): v for k, v in (fail or {}).items()}
        self.opened: list[tuple[str, int]] = []
        self.open_handles = 0
        self.on_open: Callable[[str], None] | None = None     # hook for tests

    # -- key handles -------------------------------------------------------------------------

    def _node(self, key: Any) -> tuple[_Node | None, str]:
        """(node, shown path) of an open handle or predefined key; None for other hives."""
        if isinstance(key, HKEYType):
            if key.node is None:
                raise winerror(ERROR_INVALID_HANDLE)
            return key.node, key.shown
        if key == HKEY_LOCAL_MACHINE:
            return None, ""
        if isinstance(key, int) and key in (HKEY_CLASSES_ROOT, HKEY_CURRENT_USER, HKEY_USERS):
            return None, "?"
        raise TypeError("The object is not a PyHKEY object")

    def OpenKeyEx(self, key: Any, sub_key: str | None, reserved: int = 0,  # noqa: N802
                  access: int = KEY_READ) -> HKEYType:
        node, shown = self._node(key)
        parts = sub_key.split("\\") if sub_key else []
        if shown == "?" or any(not p for p in parts):
            raise winerror(ERROR_FILE_NOT_FOUND)
        if node is None:                       # HKEY_LOCAL_MACHINE
            if not parts or parts[0].lower() != "system":
                raise winerror(ERROR_FILE_NOT_FOUND)
            node, shown, parts = self.root, "SYSTEM", parts[1:]
        for part in parts:
            name = self.control_set if (node is self.root and
                                        part.lower() == "currentcontrolset") else part
            found = node.child(name)
            if found is None:
                raise winerror(ERROR_FILE_NOT_FOUND)
            node, shown = found, f"{shown}\\{part}"
        self.opened.append((shown, access))
        if self.on_open is not None:
            self.on_open(shown)
        mode = self.fail.get(shown.lower())
        if mode == "denied":
            raise winerror(ERROR_ACCESS_DENIED)
        if mode == "missing":
            raise winerror(ERROR_FILE_NOT_FOUND)
        return HKEYType(self, node, shown)

    OpenKey = OpenKeyEx

    def CloseKey(self, hkey: Any) -> None:  # noqa: N802
        if isinstance(hkey, HKEYType):
            hkey.Close()

    # -- enumeration and values --------------------------------------------------------------

    def _open(self, key: Any) -> _Node:
        node, _ = self._node(key)
        if node is None:
            raise NotImplementedError("the stand-in serves keys below HKEY_LOCAL_MACHINE\\SYSTEM")
        return node

    def QueryInfoKey(self, key: Any) -> tuple[int, int, int]:  # noqa: N802
        node = self._open(key)
        return len(node.subkeys()), len(node.values()), int(node.nk.header.last_modified)

    def EnumKey(self, key: Any, index: int) -> str:  # noqa: N802
        subkeys = self._open(key).subkeys()
        if not 0 <= index < len(subkeys):
            raise winerror(ERROR_NO_MORE_ITEMS)
        return str(subkeys[index][0])

    def EnumValue(self, key: Any, index: int) -> tuple[str, Any, int]:  # noqa: N802
        values = self._open(key).values()
        if not 0 <= index < len(values):
            raise winerror(ERROR_NO_MORE_ITEMS)
        return values[index]

    def QueryValueEx(self, key: Any, name: str | None) -> tuple[Any, int]:  # noqa: N802
        low = (name or "").lower()
        for vname, data, code in self._open(key).values():
            if vname.lower() == low:
                return data, code
        raise winerror(ERROR_FILE_NOT_FOUND)
