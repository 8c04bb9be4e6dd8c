r"""The live Windows catalog reader (formats/live.py), driven through a winreg stand-in that
serves the real SYSTEM hives of tests/data key by key (tests/winreg_standin.py).

Reading a hive "live" must give exactly what the offline hive reader gives: the same decoder
(registry.catalog_from_tree) behind both.  The stand-in is itself checked against the raw hive
bytes, so it cannot drift into agreeing with a wrong reader.
"""

from __future__ import annotations

import errno
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_format_reg import assert_matches_expected, expected

from conftest import TESTDATA
from sporder_py.errors import CatalogFileError, ConflictError
from sporder_py.formats import live
from sporder_py.formats.hive import read_hive
from sporder_py.formats.live import (
    PARAMETERS,
    SOURCE,
    computer_name,
    read_live,
    registry_tree,
    registry_value,
)
from sporder_py.model import CatalogFile

pytest.importorskip("regipy", reason="regipy is not installed (pip install 'sporder[hive]')")

import winreg_standin as ws  # noqa: E402
from winreg_standin import HiveWinreg, winerror  # noqa: E402

HIVES = TESTDATA / "hives"
NAMES = ["SYSTEM-win7-x86", "SYSTEM-win8-x64", "SYSTEM-win10-x64", "SYSTEM-win10-1709-x64"]
HKLM_PARAMETERS = "HKEY_LOCAL_MACHINE\\" + PARAMETERS
P9 = PARAMETERS + r"\Protocol_Catalog9"


@pytest.fixture(scope="module")
def hive(real_hive: Callable[[str], Path]) -> Callable[[str], Path]:
    """A real hive, decompressed once (conftest.real_hive)."""
    return real_hive


@pytest.fixture(scope="module")
def offline(hive: Callable[[str], Path]) -> Callable[[str], tuple[CatalogFile, list[str]]]:
    """The offline hive reader's result, with the live reader's source string."""
    cache: dict[str, tuple[CatalogFile, list[str]]] = {}

    def get(name: str) -> tuple[CatalogFile, list[str]]:
        if name not in cache:
            cache[name] = read_hive(hive(name), SOURCE)
        return cache[name]
    return get


@pytest.fixture(autouse=True)
def no_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "RETRY_DELAY", 0.0)


# ---------------------------------------------------------------------------------------------
# One decoder, three sources: live == hive, for every real hive.

@pytest.mark.parametrize("name", NAMES)
def test_live_read_of_a_real_hive_equals_the_hive_reader(name: str, hive: Callable,
                                                         offline: Callable) -> None:
    standin = HiveWinreg(hive(name))
    got, warnings = read_live(standin)
    want, want_warnings = offline(name)
    assert got == want                       # both catalogs, namespaces, counters, serial
    assert warnings == want_warnings == []
    assert_matches_expected(got, expected(name))
    # every key opened for reading the native view, and every handle closed again
    assert {access for _, access in standin.opened} == {ws.KEY_READ | ws.KEY_WOW64_64KEY}
    assert standin.opened[0][0] == PARAMETERS
    assert standin.open_handles == 0


def test_the_32_bit_only_hive_gives_one_catalog(hive: Callable) -> None:
    standin = HiveWinreg(hive("SYSTEM-win7-x86"))
    f, _ = read_live(standin)
    assert f.bitnesses == ["32"]
    assert [e.id for e in f.catalogs["32"].protocols][:3] == [1001, 1002, 1003]
    assert f.catalogs["32"].namespaces          # the namespace catalog came through too
    assert not any("Catalog_Entries64" in path for path, _ in standin.opened)


def test_a_64_bit_hive_gives_both_catalogs(hive: Callable, offline: Callable) -> None:
    f, _ = read_live(HiveWinreg(hive("SYSTEM-win10-1709-x64")))
    assert f.bitnesses == ["64", "32"]
    for b in ("64", "32"):
        assert f.catalogs[b].protocols == offline("SYSTEM-win10-1709-x64")[0].catalogs[b].protocols


def test_registry_tree_reads_the_values_as_the_tree_holds_them(hive: Callable) -> None:
    tree = registry_tree(HiveWinreg(hive("SYSTEM-win8-x64")), PARAMETERS)
    assert tree.values("")["current_protocol_catalog"] == "Protocol_Catalog9"
    counters = tree.values("Protocol_Catalog9")
    assert isinstance(counters["next_catalog_entry_id"], int)
    ns = tree.values(r"NameSpace_Catalog5\Catalog_Entries64\000000000001")
    assert ns["providerinfo"] == b""          # winreg's None for an empty REG_BINARY
    assert len(ns["providerid"]) == 16      # type: ignore[arg-type]
    shallow = registry_tree(HiveWinreg(hive("SYSTEM-win8-x64")), P9, depth=0)
    assert shallow.children("") == [] and "serial_access_num" in shallow.values("")


def test_registry_value_maps_winreg_types() -> None:
    assert registry_value("x", ws.REG_SZ) == "x"
    assert registry_value("%SystemRoot%", ws.REG_EXPAND_SZ) == "%SystemRoot%"
    assert registry_value(0xFFFFFFFF, ws.REG_DWORD) == 0xFFFFFFFF
    assert registry_value(2**40, ws.REG_QWORD) == 2**40
    assert registry_value(b"\x01", ws.REG_BINARY) == b"\x01"
    assert registry_value(None, ws.REG_BINARY) == b""
    assert registry_value(b"\0\0\0\x01", ws.REG_DWORD_BIG_ENDIAN) == b"\0\0\0\x01"
    assert registry_value(["a", "b"], ws.REG_MULTI_SZ) == "a\0b\0\0".encode("utf-16-le")
    assert registry_value([], ws.REG_MULTI_SZ) == b"\0\0"
    with pytest.raises(TypeError):
        registry_value(1.5, ws.REG_DWORD)


# ---------------------------------------------------------------------------------------------
# Failures: one sentence naming the key.

def _one_sentence(message: str) -> None:
    assert message.endswith(".") and ". " not in message and "\n" not in message


@pytest.mark.parametrize(("key", "mode", "words"), [
    (PARAMETERS, "missing", "does not exist"),
    (PARAMETERS, "denied", "was denied"),
    (P9, "denied", "was denied"),
    (P9 + r"\Catalog_Entries64\000000000003", "denied", "was denied"),
])
def test_a_key_that_cannot_be_opened_is_named(key: str, mode: str, words: str,
                                              hive: Callable) -> None:
    standin = HiveWinreg(hive("SYSTEM-win10-x64"), fail={key: mode})
    with pytest.raises(CatalogFileError) as info:
        read_live(standin)
    err = info.value
    assert err.exit_code == 3 and not isinstance(err, ConflictError)
    assert err.message.startswith(f"{SOURCE}: ")
    assert f"the key HKEY_LOCAL_MACHINE\\{key} {words}" in err.message
    _one_sentence(err.message)
    assert standin.open_handles == 0


def test_a_listed_key_that_stays_missing_is_named(hive: Callable) -> None:
    key = P9 + r"\Catalog_Entries\000000000002"
    standin = HiveWinreg(hive("SYSTEM-win8-x64"), fail={key: "missing"})
    with pytest.raises(CatalogFileError, match="does not exist") as info:
        read_live(standin)
    assert f"HKEY_LOCAL_MACHINE\\{key}" in info.value.message
    assert [p for p, _ in standin.opened].count(key) == live.ATTEMPTS     # retried, then named
    assert standin.open_handles == 0


def test_a_key_that_vanishes_once_is_read_again(hive: Callable, offline: Callable) -> None:
    key = P9 + r"\Catalog_Entries64\000000000005"
    standin = HiveWinreg(hive("SYSTEM-win8-x64"))
    seen: list[str] = []

    def vanish_once(path: str) -> None:
        if path == key and not seen:
            seen.append(path)
            raise winerror(ws.ERROR_FILE_NOT_FOUND)
    standin.on_open = vanish_once
    assert read_live(standin) == offline("SYSTEM-win8-x64")
    assert [p for p, _ in standin.opened].count(key) == 2


class _Bumping(HiveWinreg):
    """Serial_Access_Num of Protocol_Catalog9 moves on its first `moves` reads (a writer)."""

    def __init__(self, path: Path, moves: int) -> None:
        super().__init__(path)
        self.moves = moves

    def EnumValue(self, key: Any, index: int) -> tuple[str, Any, int]:  # noqa: N802
        name, data, code = super().EnumValue(key, index)
        if name == "Serial_Access_Num" and key.shown.endswith("Protocol_Catalog9") and self.moves:
            self.moves -= 1
            data += 1 + self.moves
        return name, data, code


def test_a_catalog_written_during_the_read_is_read_again(hive: Callable,
                                                         offline: Callable) -> None:
    assert read_live(_Bumping(hive("SYSTEM-win10-x64"), moves=2)) == offline("SYSTEM-win10-x64")


def test_a_catalog_that_keeps_changing_is_a_conflict(hive: Callable) -> None:
    with pytest.raises(ConflictError, match="kept changing") as info:
        read_live(_Bumping(hive("SYSTEM-win10-x64"), moves=100))
    assert info.value.exit_code == 4
    _one_sentence(info.value.message)


def test_without_winreg_the_live_catalog_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "winreg", None)      # as on Linux and macOS
    with pytest.raises(CatalogFileError, match="can be read only on Windows") as info:
        read_live()
    assert info.value.exit_code == 3 and info.value.code == "live-unsupported"
    assert info.value.message.startswith(f"{SOURCE}: ")
    _one_sentence(info.value.message)


def test_computer_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPUTERNAME", "BUILD-07")
    assert computer_name() == "BUILD-07"
    monkeypatch.delenv("COMPUTERNAME")
    assert computer_name()


# ---------------------------------------------------------------------------------------------
# The stand-in against the raw hive bytes and winreg's behaviour.

def _raw_vks(raw: bytes, name: str) -> list[tuple[int, int, int]]:
    """(type, data size, data offset) of every vk record named `name` in the hive file."""
    out, encoded, pos = [], name.encode("ascii"), raw.find(b"vk")
    while pos != -1:
        size, dsize, doff, dtype, flags = struct.unpack_from("<HIIIH", raw, pos + 2)
        if size == len(encoded) and flags & 1 and raw[pos + 20:pos + 20 + size] == encoded:
            out.append((dtype, dsize, doff))
        pos = raw.find(b"vk", pos + 2)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_standin_values_are_the_hive_bytes(name: str, hive: Callable) -> None:
    path = hive(name)
    raw = path.read_bytes()
    w = HiveWinreg(path)
    with w.OpenKeyEx(w.HKEY_LOCAL_MACHINE, P9 + r"\Catalog_Entries\000000000001") as k:
        blob, code = w.QueryValueEx(k, "PackedCatalogItem")
        assert code == 3 and isinstance(blob, bytes) and len(blob) >= 888
        assert raw.find(blob) != -1                  # byte for byte what the hive stores
        pname, code = w.QueryValueEx(k, "protocolname")          # names case-insensitive
        assert code == ws.REG_SZ and isinstance(pname, str) and not pname.endswith("\0")
    with w.OpenKeyEx(w.HKEY_LOCAL_MACHINE, P9) as k:
        for value in ("Next_Catalog_Entry_ID", "Serial_Access_Num", "Num_Catalog_Entries"):
            data, code = w.QueryValueEx(k, value)
            assert code == 4 and isinstance(data, int)
            # an inline REG_DWORD: type 4, size 0x80000004, the value in the offset field
            assert (4, 0x80000004, data) in _raw_vks(raw, value)
    with w.OpenKeyEx(w.HKEY_LOCAL_MACHINE, PARAMETERS) as k:
        assert w.QueryValueEx(k, "Current_Protocol_Catalog") == ("Protocol_Catalog9", 1)
        assert w.QueryValueEx(k, "NameSpace_Callout")[1] == ws.REG_EXPAND_SZ
    with w.OpenKeyEx(w.HKEY_LOCAL_MACHINE,
                     PARAMETERS + r"\NameSpace_Catalog5\Catalog_Entries\000000000001") as k:
        assert w.QueryValueEx(k, "ProviderInfo") == (None, 3)     # empty REG_BINARY -> None
        guid, code = w.QueryValueEx(k, "ProviderId")
        assert code == 3 and len(guid) == 16 and raw.find(guid) != -1
    assert w.open_handles == 0


def test_standin_current_control_set_follows_select_current(hive: Callable) -> None:
    path = hive("SYSTEM-win7-x86")              # it has ControlSet001 and ControlSet002
    raw = path.read_bytes()
    w = HiveWinreg(path)
    with w.OpenKeyEx(w.HKEY_LOCAL_MACHINE, r"SYSTEM\Select") as k:
        current, code = w.QueryValueEx(k, "Current")
    assert code == 4 and (4, 0x80000004, current) in _raw_vks(raw, "Current")
    assert w.control_set == f"ControlSet{current:03d}"
    a = w.OpenKeyEx(w.HKEY_LOCAL_MACHINE, P9)
    b = w.OpenKeyEx(w.HKEY_LOCAL_MACHINE, P9.replace("CurrentControlSet", w.control_set))
    c = w.OpenKeyEx(w.HKEY_LOCAL_MACHINE, P9.upper())
    assert a.node is b.node is c.node
    for h in (a, b, c):
        w.CloseKey(h)
    with w.OpenKeyEx(w.HKEY_LOCAL_MACHINE, "SYSTEM") as k:
        n = w.QueryInfoKey(k)[0]
        names = [w.EnumKey(k, i) for i in range(n)]
    assert "ControlSet001" in names and "ControlSet002" in names and "Select" in names


def test_standin_raises_as_winreg_does(hive: Callable) -> None:
    w = HiveWinreg(hive("SYSTEM-win7-x86"))

    def check(exc: BaseException, cls: type, err: int, winerr: int) -> None:
        assert type(exc) is cls and exc.errno == err        # type: ignore[attr-defined]
        assert exc.winerror == winerr                       # type: ignore[attr-defined]

    with pytest.raises(OSError) as info:
        w.OpenKeyEx(w.HKEY_LOCAL_MACHINE, P9 + r"\Catalog_Entries64")   # a 32-bit system
    check(info.value, FileNotFoundError, errno.ENOENT, 2)
    with pytest.raises(OSError) as info:
        w.OpenKeyEx(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft")
    check(info.value, FileNotFoundError, errno.ENOENT, 2)
    k = w.OpenKeyEx(w.HKEY_LOCAL_MACHINE, P9)
    subkeys, values, modified = w.QueryInfoKey(k)
    assert (subkeys, values) == (1, 3) and modified > 0
    assert w.EnumKey(k, 0) == "Catalog_Entries"
    for call in (lambda: w.EnumKey(k, subkeys), lambda: w.EnumValue(k, values)):
        with pytest.raises(OSError) as info:
            call()
        check(info.value, OSError, errno.EINVAL, 259)
    with pytest.raises(OSError) as info:
        w.QueryValueEx(k, "No_Such_Value")
    check(info.value, FileNotFoundError, errno.ENOENT, 2)
    w.CloseKey(k)
    with pytest.raises(OSError) as info:
        w.EnumKey(k, 0)
    check(info.value, OSError, errno.EBADF, 6)
    assert w.open_handles == 0


def test_standin_constants_are_windows_numbers() -> None:
    assert (ws.HKEY_LOCAL_MACHINE, ws.KEY_READ, ws.KEY_WOW64_64KEY, ws.KEY_WOW64_32KEY) == (
        0x80000002, 0x20019, 0x100, 0x200)
    assert [ws.REG_NONE, ws.REG_SZ, ws.REG_EXPAND_SZ, ws.REG_BINARY, ws.REG_DWORD,
            ws.REG_DWORD_BIG_ENDIAN, ws.REG_LINK, ws.REG_MULTI_SZ, ws.REG_RESOURCE_LIST,
            ws.REG_FULL_RESOURCE_DESCRIPTOR, ws.REG_RESOURCE_REQUIREMENTS_LIST,
            ws.REG_QWORD] == list(range(12))
    from regipy.structs import VALUE_TYPE_ENUM  # regipy's names for the same numbers
    for type_name, number in ws.REGIPY_TYPES.items():
        assert VALUE_TYPE_ENUM.build(type_name) == number.to_bytes(4, "little")


@pytest.mark.skipif(sys.platform != "win32", reason="the real winreg exists only on Windows")
def test_standin_matches_the_real_winreg_and_this_machine_reads() -> None:
    import winreg
    for name in ("HKEY_LOCAL_MACHINE", "KEY_READ", "KEY_WOW64_64KEY", "KEY_WOW64_32KEY",
                 *[n for n in dir(ws) if n.startswith("REG_") and hasattr(winreg, n)]):
        assert getattr(ws, name) == getattr(winreg, name), name
    with pytest.raises(OSError) as info:
        winreg.OpenKeyEx(winreg.HKEY_LOCAL_MACHINE, PARAMETERS + r"\No_Such_Key_Here")
    assert type(info.value) is FileNotFoundError and info.value.winerror == 2
    f, _ = read_live()
    assert f.bitnesses and f.catalogs[f.bitnesses[0]].protocols
