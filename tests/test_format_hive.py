"""Offline SYSTEM hives: four real hives import completely and exactly (testdata/hives)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from test_format_reg import assert_matches_expected, expected

from conftest import CATALOGS, TESTDATA
from sporder_py.errors import CatalogFileError, UsageError
from sporder_py.formats import detect
from sporder_py.formats.hive import looks_like_hive, read_hive, read_hive_catalog
from sporder_py.formats.regfile import parse_reg, render_reg
from sporder_py.model import CatalogFile

HIVES = TESTDATA / "hives"
NAMES = ["SYSTEM-win7-x86", "SYSTEM-win8-x64", "SYSTEM-win10-x64", "SYSTEM-win10-1709-x64"]


@pytest.fixture(scope="module")
def hive(real_hive: Callable[[str], Path]) -> Callable[[str], Path]:
    """A real hive, decompressed once (conftest.real_hive)."""
    return real_hive


@pytest.fixture(scope="module")
def imported(hive: Callable[[str], Path]) -> Callable[[str], tuple[CatalogFile, list[str]]]:
    cache: dict[str, tuple[CatalogFile, list[str]]] = {}

    def get(name: str) -> tuple[CatalogFile, list[str]]:
        if name not in cache:
            cache[name] = read_hive(hive(name), name)
        return cache[name]
    return get


@pytest.mark.parametrize("name", NAMES)
def test_real_hive_imports_completely_and_exactly(name: str, imported: Callable) -> None:
    f, warnings = imported(name)
    assert warnings == []
    assert_matches_expected(f, expected(name))


def test_netbios_entries_with_negative_protocols_come_out_exactly(imported: Callable) -> None:
    f, _ = imported("SYSTEM-win7-x86")
    netbios = [e for e in f.catalogs["32"].protocols if e.family == 17]
    assert [(e.id, e.socket_type, e.protocol) for e in netbios[:4]] == [
        (1061, 5, -6), (1062, 2, -6), (1063, 5, -1), (1064, 2, -1)]
    assert f.catalogs["32"].get(1070).protocol == -2147483648


@pytest.mark.parametrize("name", NAMES)
def test_hive_to_reg_to_parse_gives_the_same_catalog(name: str, imported: Callable) -> None:
    f, _ = imported(name)
    back, warnings = parse_reg(render_reg(f), f"{name}.reg")
    assert warnings == [] and back == f


def test_the_regedit_fixture_and_the_hive_import_identically(imported: Callable) -> None:
    data = (Path(__file__).resolve().parent / "data/reg/win8-x64-winsock2.reg").read_bytes()
    assert parse_reg(data, "win8.reg")[0] == imported("SYSTEM-win8-x64")[0]


def test_select_current_names_the_control_set(hive: Callable, tmp_path: Path) -> None:
    # Point Select\Current (an inline REG_DWORD: its value sits in the vk record's data
    # offset field) at control set 3, which the hive does not have.
    src = hive("SYSTEM-win7-x86")
    vk = b"vk\x07\x00\x04\x00\x00\x80"      # a 7-character name, 4 bytes of inline data
    pos = src.read_bytes().index(vk + b"\x01\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00\x00Current")
    data = bytearray(src.read_bytes())
    data[pos + 8:pos + 12] = (3).to_bytes(4, "little")
    bad = tmp_path / "sel3"
    bad.write_bytes(bytes(data))
    with pytest.raises(CatalogFileError, match=r"no ControlSet003\\Services\\WinSock2\\Parameters"):
        read_hive(bad, "sel3")


def test_a_hive_without_select_is_not_a_system_hive(hive: Callable, tmp_path: Path) -> None:
    src = hive("SYSTEM-win8-x64")
    data = bytearray(src.read_bytes())
    pos = data.find(b"Select")
    while data[pos - 0x4C:pos - 0x4A] != b"nk":     # the key name sits at offset 0x4C of "nk"
        pos = data.find(b"Select", pos + 1)
    data[pos:pos + 6] = b"Selecx"
    bad = tmp_path / "nosel"
    bad.write_bytes(bytes(data))
    with pytest.raises(CatalogFileError, match=r"no Select\\Current value"):
        read_hive(bad, "nosel")


@pytest.mark.parametrize("size", [4096, 8192, 1 << 20])
def test_truncated_hive_is_refused(size: int, hive: Callable, tmp_path: Path) -> None:
    bad = tmp_path / "truncated"
    bad.write_bytes(hive("SYSTEM-win7-x86").read_bytes()[:size])
    with pytest.raises(CatalogFileError, match="^truncated: the registry hive is damaged"):
        read_hive(bad, "truncated")


def test_not_a_hive_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogFileError, match="is not a registry hive"):
        read_hive(CATALOGS / "windows-11.toml", "windows-11.toml")
    with pytest.raises(CatalogFileError, match="cannot be read") as info:
        read_hive(tmp_path / "absent", "absent")
    assert info.value.exit_code == 3


def test_without_regipy_the_error_gives_the_install_hint(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "SYSTEM"
    fake.write_bytes(b"regf" + bytes(4092))
    monkeypatch.setitem(sys.modules, "regipy.registry", None)   # makes the import fail
    with pytest.raises(CatalogFileError, match=r"pip install 'sporder\[hive\]'") as info:
        read_hive(fake, "SYSTEM")
    assert info.value.code == "hive-unsupported"


def test_looks_like_hive() -> None:
    assert looks_like_hive(b"regf\x01\x00\x00\x00")
    assert not looks_like_hive(b"REGEDIT4\r\n")
    assert not looks_like_hive(b"reg")


# --- choosing the control set --------------------------------------------------------------

def test_the_control_set_read_is_reported_and_can_be_chosen(hive: Callable) -> None:
    path = hive("SYSTEM-win7-x86")                  # Select\Current = 1; ControlSet002 exists
    default = read_hive_catalog(path, "w7")
    assert (default.control_set, default.chosen_by) == (1, "Select\\Current")
    assert default.key == "ControlSet001\\Services\\WinSock2\\Parameters"
    assert default.namespace_serial == 12 and default.file.serial == 24
    one = read_hive_catalog(path, "w7", control_set=1)
    assert one.file == default.file and one.chosen_by == "the caller"
    two = read_hive_catalog(path, "w7", control_set=2)
    assert two.control_set == 2 and two.warnings == []
    assert read_hive(path, "w7", 2) == (two.file, two.warnings)
    f, warnings, fmt = detect.parse(path.read_bytes()[:8], "w7", path=path, control_set=2)
    assert (f, fmt) == (two.file, "hive")


def test_a_missing_or_bad_control_set_is_one_sentence(hive: Callable) -> None:
    path = hive("SYSTEM-win8-x64")
    with pytest.raises(CatalogFileError) as info:
        read_hive(path, "w8", control_set=9)
    assert info.value.message == ("w8: the hive has no ControlSet009\\Services\\WinSock2\\"
                                  "Parameters key: control set 9 (requested) does not exist.")
    assert info.value.exit_code == 3
    for bad in (0, 1000, -3, True, "2", 2.0):
        with pytest.raises(UsageError, match="is not valid: it must be a number from 1 to 999"):
            read_hive(path, "w8", control_set=bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="only be chosen for a SYSTEM hive"):
        detect.parse((CATALOGS / "windows-11.toml").read_bytes(), "w11.toml", control_set=1)
