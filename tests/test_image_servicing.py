"""Issue 14: the whole loop on every real hive -- import the SYSTEM hive, install an LSP by triple
with --path32, re-run it as a no-op, write the catalog back into a copy of the hive with
hivexregedit, read the written hive and get exactly the model, resolve through it, and merge the
.reg export into a fresh copy with hivexregedit's own --merge."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import run_sub

pytest.importorskip("regipy")
HIVEX = shutil.which("hivexregedit")
needs_hivex = pytest.mark.skipif(HIVEX is None, reason="hivexregedit is not installed (Debian "
                                 "package libwin-hivex-perl; .ci/run installs it)")

HIVES = ["SYSTEM-win7-x86", "SYSTEM-win8-x64", "SYSTEM-win10-x64", "SYSTEM-win10-1709-x64"]
GUID = "{6D3F4E2A-1B5C-4E7D-9A8B-0C1D2E3F4A5B}"
LSP = ["install-lsp", "--name", "Inspector", "--path", "%SystemRoot%\\system32\\insp.dll",
       "--path32", "%SystemRoot%\\SysWOW64\\insp.dll", "--provider-id", GUID,
       "--over", "inet,stream,tcp", "--over", "inet6,stream,tcp", "--exist-ok"]


@pytest.fixture(scope="module")
def raw(real_hive) -> dict[str, bytes]:
    return {n: real_hive(n).read_bytes() for n in HIVES}


def catalogs(run_result) -> dict:
    data = run_result.json["data"]
    return {c["catalog"]: c["entries"] for c in data.get("catalogs", [data])}


def comparable(entries: list[dict]) -> list[dict]:
    """What a hive carries of an entry (LSP categories and inferred fields are not stored)."""
    drop = {"lsp_categories", "inferred", "display_name"}
    return [{k: v for k, v in e.items() if k not in drop} for e in entries]


@needs_hivex
@pytest.mark.parametrize("name", HIVES)
def test_the_servicing_loop_on_a_real_hive(raw, tmp_path, name):
    system = tmp_path / "SYSTEM"
    system.write_bytes(raw[name])
    image = tmp_path / "image.toml"
    r = run_sub("--catalog", image, "import", system)
    assert r.code == 0, r.err
    first = run_sub("--catalog", image, *LSP)
    assert first.code == 0, first.err
    written = image.read_bytes()
    again = run_sub("--catalog", image, *LSP, "--json")
    assert again.code == 0, again.err
    assert again.json["data"]["changes"] == [] and image.read_bytes() == written

    model = run_sub("--catalog", image, "--bitness", "both", "list", "--json", "--namespaces")
    r = run_sub("--catalog", image, "export", "--format", "hive", "-o", system)
    assert r.code == 0, r.err
    assert Path(str(system) + ".sporder-backup").read_bytes() == raw[name]
    back = run_sub("--catalog", system, "--bitness", "both", "list", "--json", "--namespaces")
    assert back.code == 0, back.err
    mine, theirs = catalogs(model), catalogs(back)
    assert mine.keys() == theirs.keys()
    for b in mine:
        assert comparable(mine[b]) == comparable(theirs[b])
    for bitness in mine:
        res = run_sub("--catalog", system, "--bitness", bitness, "resolve", "inet", "stream",
                      "tcp", "--json")
        assert res.code == 0, res.err
        assert res.json["data"]["layers"][0]["name"] == "Inspector"
        want = "%SystemRoot%\\SysWOW64\\insp.dll" if bitness == "32" else \
            "%SystemRoot%\\system32\\insp.dll"
        if len(mine) == 1:          # a 32-bit system's only catalog is its native one
            want = "%SystemRoot%\\system32\\insp.dll"
        assert res.json["data"]["entry"]["path"] == want

    # The .reg route: merged with hivexregedit into a fresh copy, the same catalog.
    control_set = run_sub("--catalog", system, "list", "--json").json["data"]["control_set"]
    reg = tmp_path / "winsock.reg"
    root = f"HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet{control_set:03d}"
    assert run_sub("--catalog", image, "export", "--format", "reg", "--key-root", root, "-o",
                   reg).code == 0
    fresh = tmp_path / "fresh"
    fresh.write_bytes(raw[name])
    text = reg.read_bytes().decode("utf-16").encode("utf-8")
    subprocess.run([HIVEX, "--merge", "--prefix", "HKEY_LOCAL_MACHINE\\SYSTEM", str(fresh)],
                   input=text, check=True, capture_output=True, env={"PERL_UNICODE": "Ii",
                                                                      "PATH": "/usr/bin:/bin"})
    merged = run_sub("--catalog", fresh, "--bitness", "both", "list", "--json", "--namespaces")
    got = catalogs(merged)
    for b in mine:
        assert comparable(mine[b]) == comparable(got[b])


@needs_hivex
def test_merging_onto_a_hive_with_more_entries_leaves_none_of_them(raw, tmp_path):
    system = tmp_path / "SYSTEM"
    system.write_bytes(raw["SYSTEM-win10-1709-x64"])
    image = tmp_path / "image.toml"
    assert run_sub("--catalog", image, "import", system).code == 0
    before = catalogs(run_sub("--catalog", image, "list", "--json"))["64"]
    r = run_sub("--catalog", image, "uninstall", "1001", "--no-repair")   # the GUID's entries
    assert r.code == 0, r.err
    model = catalogs(run_sub("--catalog", image, "list", "--json"))["64"]
    gone = {e["id"] for e in before} - {e["id"] for e in model}
    assert 1001 in gone
    assert run_sub("--catalog", image, "export", "--format", "hive", "-o", system).code == 0
    after = catalogs(run_sub("--catalog", system, "list", "--json"))["64"]
    assert [e["id"] for e in after] == [e["id"] for e in model]
    assert not gone & {e["id"] for e in after}


def test_import_creates_the_catalog_and_a_dry_run_writes_nothing(raw, tmp_path):
    system = tmp_path / "SYSTEM"
    system.write_bytes(raw["SYSTEM-win8-x64"])
    image = tmp_path / "new" / "image.toml"
    image.parent.mkdir()
    r = run_sub("--catalog", image, "import", system, "--dry-run")
    assert r.code == 0 and not image.exists(), r.err
    r = run_sub("--catalog", image, "import", system, "--json")
    assert r.code == 0 and r.json["data"]["control_set"] == 1
    assert image.exists()


def test_the_control_set_is_chosen_and_reported(raw, tmp_path):
    system = tmp_path / "SYSTEM"
    system.write_bytes(raw["SYSTEM-win7-x86"])
    r = run_sub("--catalog", system, "list", "--json")
    assert r.code == 0 and r.json["data"]["control_set"] == 1
    assert "ControlSet001" in run_sub("--catalog", system, "list").out.splitlines()[0]
    r = run_sub("--catalog", system, "--control-set", "2", "list", "--json")
    assert r.code == 0 and r.json["data"]["control_set"] == 2
    r = run_sub("--catalog", system, "list", "--control-set", "7")
    assert r.code == 3 and "ControlSet007" in r.err and r.err.count("\n") == 1


@pytest.mark.parametrize("case", ["no-winsock", "read-only", "truncated", "bad-key-root",
                                  "no-such-triple", "no-tool"])
def test_bad_input_is_one_sentence_and_changes_nothing(raw, tmp_path, case, monkeypatch):
    system = tmp_path / "SYSTEM"
    system.write_bytes(raw["SYSTEM-win8-x64"])
    image = tmp_path / "image.toml"
    assert run_sub("--catalog", image, "import", system).code == 0
    env = None
    if case == "no-winsock":
        other = tmp_path / "OTHER"
        other.write_bytes(b"regf" + bytes(4092))
        args, code, needle = ["export", "--format", "hive", "-o", other], 3, "OTHER"
    elif case == "read-only":
        system.chmod(0o444)
        args, code, needle = ["export", "--format", "hive", "-o", system], 3, "read-only"
    elif case == "truncated":
        system.write_bytes(raw["SYSTEM-win8-x64"][:100000])
        args, code, needle = ["export", "--format", "hive", "-o", system], 3, "SYSTEM"
    elif case == "bad-key-root":
        args, code, needle = ["export", "--format", "reg", "--key-root", "SYSTEM\\Foo"], 2, \
            "key root"
    elif case == "no-such-triple":
        args, code, needle = ["install-lsp", "--name", "L", "--path", "l.dll", "--over",
                              "ipx,dgram,0"], 1, "has no base provider"
    else:
        args, code, needle = ["export", "--format", "hive", "-o", system], 3, "libwin-hivex-perl"
        env = {"PATH": str(tmp_path)}
    snapshot = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    r = run_sub("--catalog", image, *args, env=env)
    if case == "read-only" and r.code == 0:
        pytest.fail("a read-only hive was written")
    assert r.code == code, (case, r.code, r.err)
    assert needle in r.err and r.err.count("sporder: error:") == 1 and "Traceback" not in r.err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == snapshot
