"""What a hostile review of issues 12-16 found, each as a test that failed before its fix."""

from __future__ import annotations

import lzma
import os
import shutil
import sys

import pytest

from conftest import CATALOGS, TESTDATA, run_sub

GUID = "{6D3F4E2A-1B5C-4E7D-9A8B-0C1D2E3F4A5B}"


@pytest.fixture
def cat(tmp_path):
    path = tmp_path / "cat.toml"
    shutil.copy(CATALOGS / "windows-11.toml", path)
    return path


# --- export -o replaced whatever was there by rename ------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_export_refuses_a_fifo_a_directory_a_read_only_file_and_a_hive(cli, cat, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    ro = tmp_path / "ro.txt"
    ro.write_text("keep")
    ro.chmod(0o444)
    hive = tmp_path / "SYSTEM"
    hive.write_bytes(b"regf" + bytes(4092))
    for target, needle in ((fifo, "not a regular file"), (tmp_path, "is a directory"),
                           (ro, "is read-only"), (hive, "is a registry hive")):
        r = cli("--catalog", cat, "export", "--format", "json", "-o", target)
        assert r.code == 3 and needle in r.err and r.err.count("\n") == 1, (target, r.err)
    assert ro.read_text() == "keep" and hive.read_bytes()[:4] == b"regf"
    assert fifo.is_fifo()


def test_export_writes_through_a_link_to_a_regular_file(cli, cat, tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    assert cli("--catalog", cat, "export", "--format", "toml", "-o", link).code == 0
    assert link.is_symlink() and target.read_text().startswith("#")


def test_a_reg_export_of_one_catalog_warns_that_it_deletes_the_other(cli, cat, tmp_path):
    one = tmp_path / "one.toml"
    assert cli("--catalog", one, "import", TESTDATA / "netsh" / "win-x86-ifs-lsp.txt").code == 0
    r = cli("--catalog", one, "export", "--format", "reg", "-o", tmp_path / "x.reg")
    assert r.code == 0 and "deletes the 32-bit catalog's entry keys too" in r.err


# --- install-lsp --exist-ok -------------------------------------------------------------------

def test_exist_ok_notices_ifs(cli, cat):
    base = ["--catalog", cat, "install-lsp", "--name", "I", "--path", "i.dll", "--provider-id",
            GUID, "--over", "1004"]
    assert cli(*base, "--ifs").code == 0
    r = cli(*base, "--exist-ok")
    assert r.code == 1 and "IFS" in r.err and "in both catalogs" in r.err


def test_exist_ok_needs_a_provider_id(cli, cat):
    before = cat.read_bytes()
    r = cli("--catalog", cat, "install-lsp", "--name", "I", "--path", "i.dll", "--over", "1004",
            "--exist-ok")
    assert r.code == 2 and "exist_ok needs" in r.err
    assert cat.read_bytes() == before


# --- --control-set with a TOML catalog -------------------------------------------------------

@pytest.mark.skipif(shutil.which("hivexregedit") is None, reason="hivexregedit is not installed")
def test_export_hive_control_set_with_a_toml_catalog(cli, tmp_path):
    hive = tmp_path / "SYSTEM"
    hive.write_bytes(lzma.decompress((TESTDATA / "hives" / "SYSTEM-win7-x86.xz").read_bytes()))
    image = tmp_path / "image.toml"
    assert cli("--catalog", image, "import", hive, "--control-set", "2").code == 0
    r = cli("--catalog", image, "export", "--format", "hive", "-o", hive, "--control-set", "2")
    assert r.code == 0, r.err
    assert "ControlSet002" in r.err


# --- reports and live ---------------------------------------------------------------------------

def test_a_report_without_a_catalog_says_so(cli, cat, tmp_path):
    assert cli("--catalog", cat, "install-lsp", "--name", "Two\nLines", "--path", "x.dll",
               "--over", "1004").code == 0
    report = tmp_path / "r.md"
    report.write_text(cli("--catalog", cat, "report").out)
    r = cli("--catalog", tmp_path / "new.toml", "import", report)
    assert r.code == 3 and str(report) in r.err and "carries no netsh catalog" in r.err


@pytest.mark.skipif(sys.platform == "win32", reason="this machine has a live catalog")
def test_a_write_to_live_elsewhere_gives_the_platform_sentence(cli):
    r = cli("--catalog", "live", "move", "1004", "--top")
    assert r.code == 3 and "can be read only on Windows" in r.err and "reg import" not in r.err


# --- entry references -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a,b,c", " padded "])
def test_names_with_commas_or_spaces_can_be_named(cli, cat, name):
    assert cli("--catalog", cat, "install-lsp", "--name", name, "--path", "x.dll", "--over",
               "1004").code == 0
    r = cli("--catalog", cat, "show", name, "--json", "--bitness", "64")
    assert r.code == 0 and r.json["data"]["entry"]["name"] == name


@pytest.mark.parametrize("text", ["+1004", "\u0661\u0660\u0660\u0664"])
def test_only_plain_digits_are_ids(cli, cat, text):
    r = cli("--catalog", cat, "show", text)
    assert r.code == 1 and "names no entry" in r.err


def test_show_says_how_the_two_catalogs_entries_differ(cli, cat):
    assert cli("--catalog", cat, "install-lsp", "--name", "I", "--path", "i64.dll", "--path32",
               "i32.dll", "--over", "1004").code == 0
    r = cli("--catalog", cat, "show", "1015")
    assert r.code == 1 and "they differ in path" in r.err


# --- the library and apply ----------------------------------------------------------------------

@pytest.mark.parametrize("args", [(True, 1, 6), (2.0, 1, 6), (None, 1, 6), (2, 1, 6, "both")])
def test_layered_over_refuses_odd_arguments_in_one_sentence(args):
    import sporder_py
    f = sporder_py.load(CATALOGS / "windows-11.toml")
    with pytest.raises(sporder_py.SporderError):
        sporder_py.layered_over(f, *args)


def test_layered_over_takes_an_integer_bitness():
    import sporder_py
    f = sporder_py.load(CATALOGS / "windows-11.toml")
    assert sporder_py.layered_over(f, 2, 1, 6, 64) == []       # type: ignore[arg-type]


@pytest.mark.parametrize("bitness", ['"BOTH"', "64", '"32"'])
def test_apply_bitness_as_the_command_line_takes_it(cli, cat, tmp_path, bitness):
    ops = tmp_path / "ops.toml"
    ops.write_text(f'[[operation]]\ncommand = "move"\nid = 1004\ntop = true\nbitness = {bitness}\n')
    r = run_sub("--catalog", cat, "apply", ops)
    assert r.code in (0, 1) and "Traceback" not in r.err, r.err
    assert "no BOTH-bit catalog" not in r.err and "must be a string" not in r.err
