r"""Writing the catalog back into real SYSTEM hives through hivexregedit (formats/hivewrite.py).

Each real hive is decompressed once per module; every test works on its own copy.  Whole-hive
comparisons use ``hivexregedit --export`` (every key and value, byte-exact hex for data).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import CATALOGS
from sporder_py.errors import CatalogFileError, OperationRefused, SporderError, UsageError
from sporder_py.formats.hive import read_hive, read_hive_catalog
from sporder_py.formats.hivewrite import (
    BACKUP_SUFFIX,
    HIVE_PREFIX,
    comparable,
    first_difference,
    write_hive,
)
from sporder_py.formats.regfile import render_reg
from sporder_py.model import Catalog, CatalogFile, NamespaceEntry

NAMES = ["SYSTEM-win7-x86", "SYSTEM-win8-x64", "SYSTEM-win10-x64", "SYSTEM-win10-1709-x64"]
HIVEX = shutil.which("hivexregedit")
needs_hivex = pytest.mark.skipif(HIVEX is None, reason="hivexregedit is not installed "
                                 "(Debian package libwin-hivex-perl)")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
PARAMS = r"\ControlSet001\Services\WinSock2\Parameters"


@pytest.fixture(scope="module")
def originals(real_hive: Callable[[str], Path]) -> Callable[[str], Path]:
    """A real hive decompressed once (conftest.real_hive; read-only: the tests copy it)."""
    return real_hive


@pytest.fixture
def copy(originals: Callable[[str], Path], tmp_path: Path) -> Callable[[str], Path]:
    def get(name: str) -> Path:
        dest = tmp_path / "image" / "SYSTEM"
        dest.parent.mkdir(exist_ok=True)
        shutil.copyfile(originals(name), dest)
        return dest
    return get


def export(hive: Path, key: str = "\\") -> dict[str, list[str]]:
    """``hivexregedit --export``: key path (lower case) -> its value lines."""
    out = subprocess.run([HIVEX or "hivexregedit", "--export", str(hive), key], check=True,
                         capture_output=True).stdout.decode("utf-8", "replace")
    keys: dict[str, list[str]] = {}
    current: list[str] = []
    for line in out.splitlines():
        if line.startswith("["):
            current = keys.setdefault(line[1:-1].lower(), [])
        elif line.strip() and current is not None and not line.startswith("Windows Registry"):
            current.append(line)
    return keys


def outside(keys: dict[str, list[str]], control_set: int = 1) -> dict[str, list[str]]:
    below = f"\\controlset{control_set:03d}\\services\\winsock2\\parameters".lower()
    return {k: v for k, v in keys.items() if k != below and not k.startswith(below + "\\")}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "SYSTEM")


def modified(f: CatalogFile) -> CatalogFile:
    """Reorder, remove, add (an LSP with a chain, non-ASCII text) in every catalog and change
    the namespace providers: what sporder's operations do to a catalog, built by hand."""
    lsp_id, chain_id = f.next_entry_id, f.next_entry_id + 1
    cats: dict = {}
    for b, cat in f.catalogs.items():
        protocols = list(reversed(cat.protocols))
        del protocols[1]                                   # an entry removed
        base = next(e for e in protocols if e.kind == "base" and e.family == 2)
        guid = "{11111111-2222-3333-4444-555555555555}"
        dummy = base.with_changes(id=lsp_id, kind="layered", name="Inspecteur LSP «é»",
                                  path="C:\\Program Files\\Müller\\lsp.dll", provider_id=guid,
                                  socket_type=0, protocol=0, lsp_categories=0x1)
        chain = base.with_changes(id=chain_id, kind="chain", chain=(lsp_id, base.id),
                                  name="Inspecteur LSP «é» over [MSAFD]", path=dummy.path,
                                  provider_id=guid)
        namespaces = list(reversed(cat.namespaces))
        namespaces[0] = replace(namespaces[0], enabled=not namespaces[0].enabled)
        namespaces.append(NamespaceEntry(
            provider_id="{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}", name="Résolveur € ☃",
            namespace=12, path="%ProgramFiles%\\Ünïcode\\nsp.dll", enabled=False, version=3,
            family=23, stores_class_info=True, provider_info="00ff10"))
        cats[b] = Catalog(b, (chain, *protocols, dummy), tuple(namespaces))
    return replace(f, catalogs=cats, next_entry_id=chain_id + 1, serial=f.serial + 5)


# --- writing each real hive ----------------------------------------------------------------

@needs_hivex
@pytest.mark.parametrize("name", NAMES)
def test_write_back_unchanged_then_modified(name: str, originals: Callable[[str], Path],
                                            copy: Callable[[str], Path]) -> None:
    hive = copy(name)
    original = hive.read_bytes()
    before = read_hive_catalog(hive, name)
    with ThreadPoolExecutor(1) as pool:
        exported = pool.submit(export, originals(name))     # runs while we write

        # 1. unchanged: the same catalog, a higher serial, the backup holds the original bytes
        r1 = write_hive(before.file, hive)
        back = read_hive_catalog(hive, name)
        assert first_difference(before.file, back.file) is None
        assert comparable(back.file) == comparable(before.file)
        assert r1.control_set == 1 and r1.chosen_by == "Select\\Current"
        assert back.file.serial == r1.serial_after > r1.serial_before == before.file.serial
        assert back.namespace_serial == r1.namespace_serial_after > (before.namespace_serial or 0)
        assert r1.packed_size == 888              # what these Windows 7-10 hives hold
        backup = Path(r1.backup)
        assert backup == hive.with_name("SYSTEM" + BACKUP_SUFFIX)
        assert backup.read_bytes() == original
        assert leftovers(hive.parent) == ["SYSTEM" + BACKUP_SUFFIX]

        # 2. modified: exactly the new model; the backup is now the first write's result
        first = hive.read_bytes()
        want = modified(back.file)
        with pytest.raises(OperationRefused, match="already exists") as info:
            write_hive(want, hive)
        assert info.value.exit_code == 1 and hive.read_bytes() == first
        r2 = write_hive(want, hive, force=True)
        got = read_hive_catalog(hive, name)
        assert first_difference(want, got.file) is None, first_difference(want, got.file)
        assert got.file.serial == r2.serial_after == want.serial      # the model's is higher
        assert r2.serial_after > r1.serial_after
        assert got.namespace_serial == r2.namespace_serial_after > r1.namespace_serial_after
        assert backup.read_bytes() == first
        assert r2.not_written == ("the LSP categories of "
                                  f"{len(want.catalogs)} entries (their registry storage is "
                                  "unknown)",)
        for b, cat in want.catalogs.items():
            assert got.file.catalogs[b].protocols[0].chain == cat.protocols[0].chain
            assert got.file.catalogs[b].get(cat.protocols[-1].id).path.endswith("Müller\\lsp.dll")
            assert got.file.catalogs[b].namespaces[-1].name == "Résolveur € ☃"

        # 3. nothing outside ControlSet001\Services\WinSock2\Parameters changed, and inside
        # it nothing but the catalog: AppId_Catalog and the other Parameters values are as
        # they were.
        now = export(hive)
        was = exported.result()
    assert outside(now) == outside(was)
    for key in (k for k in was if "\\appid_catalog" in k):
        assert now[key] == was[key]
    params = PARAMS.lower()
    kept = {line.split("=", 1)[0] for line in was[params]} - {
        '"WinSock_Registry_Version"', '"Current_NameSpace_Catalog"', '"Current_Protocol_Catalog"'}
    assert {ln for ln in was[params] if ln.split("=", 1)[0] in kept} <= set(now[params])


@needs_hivex
@pytest.mark.parametrize("name", NAMES)
def test_render_reg_merged_by_hivexregedit_gives_the_catalog_and_no_stale_entries(
        name: str, copy: Callable[[str], Path]) -> None:
    # What a user would do by hand: render for ControlSet001, re-encode for hivexregedit (its
    # input is the local encoding, UTF-8 with LF; PERL_UNICODE=I makes Perl decode stdin as
    # UTF-8) and merge with --prefix.  The model has FEWER entries than the hive: the deletion
    # block at the top of the file leaves none of the extra entry keys behind.
    hive = copy(name)
    f = read_hive(hive, name)[0]
    small = replace(f, catalogs={b: Catalog(b, c.protocols[:2], c.namespaces[:1])
                                 for b, c in f.catalogs.items()})
    reg = render_reg(small, f"{HIVE_PREFIX}\\ControlSet001")
    text = reg.decode("utf-16-le").removeprefix("\ufeff").replace("\r\n", "\n")
    subprocess.run([HIVEX or "", "--merge", "--prefix", HIVE_PREFIX, str(hive)],
                   input=text.encode("utf-8"), check=True,
                   env={**os.environ, "PERL_UNICODE": "I"})
    back, warnings = read_hive(hive, name)
    assert warnings == [] and first_difference(small, back) is None
    keys = export(hive, PARAMS)
    for catalog in ("protocol_catalog9", "namespace_catalog5"):
        for b, suffix in (("32", ""), ("64", "64")):
            entries = sorted(k.rsplit("\\", 1)[1] for k in keys
                             if k.startswith(f"{PARAMS.lower()}\\{catalog}\\catalog_entries"
                                             f"{suffix}\\"))
            want = len(small.catalogs[b].protocols if catalog.startswith("protocol") else
                       small.catalogs[b].namespaces) if b in small.catalogs else 0
            assert entries == [f"{i:012d}" for i in range(1, want + 1)], (catalog, b)


# --- choices ---------------------------------------------------------------------------------

@needs_hivex
def test_a_lock_key_named_by_the_next_serial_is_skipped(copy: Callable[[str], Path]) -> None:
    # ws2_32 waits 180 s while a subkey named %08X of Serial_Access_Num exists (§4.8).
    hive = copy("SYSTEM-win7-x86")                        # Protocol_Catalog9 serial 24
    lock = f"[{HIVE_PREFIX}\\ControlSet001\\Services\\WinSock2\\Parameters\\Protocol_Catalog9\\"
    subprocess.run([HIVEX or "", "--merge", "--prefix", HIVE_PREFIX, str(hive)], check=True,
                   input=f"Windows Registry Editor Version 5.00\n\n{lock}00000019]\n\n".encode())
    f = read_hive(hive, "w7")[0]
    r = write_hive(f, hive)
    assert (r.serial_before, r.serial_after) == (24, 26)


@needs_hivex
def test_explicit_control_set_and_a_link_to_the_hive(copy: Callable[[str], Path]) -> None:
    hive = copy("SYSTEM-win7-x86")                        # has ControlSet001 and 002
    link = hive.with_name("link-to-SYSTEM")
    link.symlink_to(hive.name)
    f2 = read_hive_catalog(hive, "w7", control_set=2)
    assert (f2.control_set, f2.chosen_by, f2.key) == (
        2, "the caller", "ControlSet002\\Services\\WinSock2\\Parameters")
    cs1 = export(hive, "\\ControlSet001")
    r = write_hive(modified(f2.file), link, control_set=2)
    assert r.path == str(hive) and r.control_set == 2 and link.is_symlink()
    assert first_difference(modified(f2.file), read_hive(hive, "w7", 2)[0]) is None
    assert export(hive, "\\ControlSet001") == cs1


# --- bad inputs: one sentence, the documented exit code, every file byte-identical -----------

def _refused(hive: Path, error: type[SporderError], needle: str, call: Callable[[], object],
             exit_code: int) -> SporderError:
    folder = hive.parent
    snapshot = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    with pytest.raises(error) as info:
        call()
    msg = info.value.message
    assert needle in msg, msg
    assert "\n" not in msg and msg.endswith(".") and msg.count(". ") == 0, msg
    assert info.value.exit_code == exit_code
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == snapshot
    return info.value


@needs_hivex
def test_read_only_hive_is_refused(copy: Callable[[str], Path]) -> None:
    # Tests run as root, for whom open(O_WRONLY) and os.access(W_OK) succeed on a 0444 file;
    # write_hive therefore also honours the mode bits: a file nobody may write is refused
    # before anything is created (as `rm -i` asks even root about write-protected files).
    hive = copy("SYSTEM-win8-x64")
    f = read_hive(hive, "w8")[0]
    hive.chmod(0o444)
    _refused(hive, CatalogFileError, "read-only (mode 0444)", lambda: write_hive(f, hive), 3)
    assert stat.S_IMODE(hive.stat().st_mode) == 0o444


@needs_hivex
@pytest.mark.parametrize("cut", ["header-only", "half", "last-bin"])
def test_truncated_hive_is_refused(cut: str, copy: Callable[[str], Path]) -> None:
    hive = copy("SYSTEM-win8-x64")
    f = read_hive(hive, "w8")[0]
    data = hive.read_bytes()
    size = {"header-only": 4096, "half": len(data) // 2,
            "last-bin": len(data) - 4096 - (len(data) - 7634944)}[cut]   # data ends at 7634944
    hive.write_bytes(data[:size])
    _refused(hive, CatalogFileError, "truncated", lambda: write_hive(f, hive), 3)


@needs_hivex
def test_hive_without_winsock2_keys_is_refused(copy: Callable[[str], Path]) -> None:
    hive = copy("SYSTEM-win8-x64")
    f = read_hive(hive, "w8")[0]
    for deletion, needle in (
            ("Services\\WinSock2\\Parameters\\Protocol_Catalog9",
             "(ControlSet001): WinSock2\\Parameters has no Protocol_Catalog9\\Catalog_Entries"),
            ("Services\\WinSock2",
             "has no ControlSet001\\Services\\WinSock2\\Parameters key (control set 1")):
        subprocess.run([HIVEX or "", "--merge", "--prefix", HIVE_PREFIX, str(hive)],
                       check=True, input=("Windows Registry Editor Version 5.00\n\n"
                                          f"[-{HIVE_PREFIX}\\ControlSet001\\{deletion}]\n\n"
                                          ).encode())
        _refused(hive, CatalogFileError, needle, lambda: write_hive(f, hive), 3)


@needs_hivex
def test_missing_control_set_and_bad_control_set_values(copy: Callable[[str], Path]) -> None:
    hive = copy("SYSTEM-win8-x64")
    f = read_hive(hive, "w8")[0]
    _refused(hive, CatalogFileError, "no ControlSet007\\Services\\WinSock2\\Parameters key: "
             "control set 7 (requested) does not exist",
             lambda: write_hive(f, hive, control_set=7), 3)
    for bad in (0, 1000, -1, True, "1", 1.0):
        _refused(hive, UsageError, f"the control set {bad!r} is not valid",
                 lambda bad=bad: write_hive(f, hive, control_set=bad), 2)  # type: ignore


@needs_hivex
def test_not_a_hive_and_a_missing_file(copy: Callable[[str], Path]) -> None:
    hive = copy("SYSTEM-win8-x64")
    f = read_hive(hive, "w8")[0]
    hive.write_bytes((CATALOGS / "windows-11.toml").read_bytes())
    _refused(hive, CatalogFileError, "is not a registry hive", lambda: write_hive(f, hive), 3)
    absent = hive.with_name("absent")
    _refused(hive, CatalogFileError, "cannot be read", lambda: write_hive(f, absent), 3)


@needs_hivex
def test_catalogs_that_do_not_fit_the_hive_are_refused(copy: Callable[[str], Path]) -> None:
    hive = copy("SYSTEM-win8-x64")
    f = read_hive(hive, "w8")[0]
    only64 = replace(f, catalogs={"64": f.catalogs["64"]})
    _refused(hive, OperationRefused, "has catalogs 32, 64 but the model has 64",
             lambda: write_hive(only64, hive), 1)


def test_missing_hivexregedit_names_the_debian_package(
        copy: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hive = copy("SYSTEM-win8-x64")
    f = read_hive(hive, "w8")[0]
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    err = _refused(hive, CatalogFileError, "install the Debian package libwin-hivex-perl",
                   lambda: write_hive(f, hive), 3)
    assert err.code == "hive-tool-missing"


def _fake_tool(folder: Path, script: str) -> None:
    folder.mkdir(exist_ok=True)
    tool = folder / "hivexregedit"
    tool.write_text("#!/bin/sh\n" + script + "\n")
    tool.chmod(0o755)


@pytest.mark.parametrize("script, needle", [
    ("cat >/dev/null; exit 0", "does not read back as the catalog"),      # merged nothing
    ("cat >/dev/null; echo 'reg_import: parse error at line 3' >&2; exit 1",
     "could not merge the catalog into the hive (reg_import: parse error at line 3)"),
    ("cat >/dev/null; truncate -s 8192 \"$4\"; exit 0", "cannot be read back (hive-"),
])
def test_a_failed_or_wrong_merge_leaves_the_hive_untouched(
        script: str, needle: str, copy: Callable[[str], Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    hive = copy("SYSTEM-win8-x64")
    f = read_hive(hive, "w8")[0]
    _fake_tool(tmp_path / "bin", script)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    _refused(hive, CatalogFileError, needle, lambda: write_hive(modified(f), hive), 3)
    assert leftovers(hive.parent) == []
