"""Issue 12: the holes an attacker and a bad day found, each reproduced with real files and (for
items 3, 4 and 5) real concurrent processes.  Every test here failed on the code before the fix.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import CATALOGS, ROOT, Run, run_sub, sporder_cmd

POSIX = hasattr(os, "fork")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def files(directory: Path) -> dict[str, bytes | str]:
    """Every file under ``directory`` with its bytes (links as their target)."""
    out: dict[str, bytes | str] = {}
    for p in sorted(directory.rglob("*")):
        key = str(p.relative_to(directory))
        if p.is_symlink():
            out[key] = "-> " + os.readlink(p)
        elif p.is_file():
            out[key] = p.read_bytes()
    return out


def one_sentence(r: Run, code: int, needle: str) -> None:
    assert r.code == code, (r.code, r.err)
    assert "Traceback" not in r.err
    lines = [x for x in r.err.splitlines() if x.startswith("sporder: error:")]
    assert len(lines) == 1, r.err
    assert needle in lines[0], lines[0]


# --- 1. undo restores only the state its history record describes --------------------------

def test_undo_after_the_catalog_was_recreated_restores_this_lifes_state(cli, tmp_path):
    """The issue's reproduction: init; two installs; rm; init --from windows-7; two installs;
    undo -> the windows-7 state after one install, never the old windows-11 one."""
    cat = tmp_path / "cat.toml"

    def install(name: str) -> None:
        r = cli("--catalog", cat, "install", "--name", name, "--path", "x.dll",
                "--family", "inet", "--type", "stream", "--protocol", "tcp")
        assert r.code == 0, r.err

    assert cli("--catalog", cat, "init").code == 0
    install("first life 1")
    install("first life 2")
    cat.unlink()
    assert cli("--catalog", cat, "init", "--from", "windows-7").code == 0
    install("second life 1")
    wanted = cat.read_bytes()
    install("second life 2")
    r = cli("--catalog", cat, "undo")
    assert r.code == 0, r.err
    now = cli("--catalog", cat, "list", "--json").json["data"]
    names = [e["name"] for e in now["entries"]]
    assert "second life 1" in names and "second life 2" not in names
    assert not any(n.startswith("first life") for n in names)
    again = cli("--catalog", cat, "export", "--format", "toml").out
    assert again.count("[[catalog32.protocol]]") == wanted.decode().count(
        "[[catalog32.protocol]]")


def test_undo_refuses_a_saved_state_edited_by_hand(cli, catalog_path):
    assert cli("--catalog", catalog_path, "move", "1001", "--bottom").code == 0
    state = catalog_path.with_name(catalog_path.name + ".history") / "1.toml"
    text = state.read_text()
    state.write_text(text.replace("MSAFD Tcpip [TCP/IP]", "Hand edited", 1))
    before = files(catalog_path.parent)
    r = cli("--catalog", catalog_path, "undo")
    one_sentence(r, 1, "is not the one its history record describes")
    assert files(catalog_path.parent) == before


def test_a_stale_state_file_is_replaced_when_the_state_is_saved(cli, catalog_path):
    hdir = catalog_path.with_name(catalog_path.name + ".history")
    hdir.mkdir()
    (hdir / "1.toml").write_text("stale bytes from another life\n")
    assert cli("--catalog", catalog_path, "move", "1001", "--bottom").code == 0
    assert (hdir / "1.toml").read_bytes() != b"stale bytes from another life\n"
    assert cli("--catalog", catalog_path, "undo").code == 0


def test_undo_refuses_a_state_that_is_a_link_to_another_catalog(cli, catalog_path, tmp_path):
    assert cli("--catalog", catalog_path, "move", "1001", "--bottom").code == 0
    state = catalog_path.with_name(catalog_path.name + ".history") / "1.toml"
    other = tmp_path / "other.toml"
    shutil.copy(CATALOGS / "windows-7.toml", other)
    state.unlink()
    state.symlink_to(other)
    before = files(tmp_path)
    r = cli("--catalog", catalog_path, "undo")
    one_sentence(r, 1, "is not a regular file")
    assert files(tmp_path) == before


# --- 2. a symlinked catalog path: one lock, one history ---------------------------------------

def test_undo_through_a_symlinked_catalog_path(cli, tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "cat.toml"
    shutil.copy(CATALOGS / "windows-11.toml", target)
    link = tmp_path / "link.toml"
    link.symlink_to(target)
    planted = tmp_path / "link.toml.history"          # beside the link: never used
    planted.mkdir()
    shutil.copy(CATALOGS / "windows-7.toml", planted / "1.toml")
    original = target.read_bytes()
    assert cli("--catalog", link, "move", "1001", "--bottom").code == 0
    assert (tmp_path / "real" / "cat.toml.history" / "1.toml").read_bytes() == original
    r = cli("--catalog", link, "undo")
    assert r.code == 0, r.err
    ids = [e["id"] for e in cli("--catalog", link, "list", "--json").json["data"]["entries"]]
    assert ids[0] == 1001 and link.is_symlink()
    assert (planted / "1.toml").read_bytes() == (CATALOGS / "windows-7.toml").read_bytes()
    assert not (tmp_path / "link.toml.lock").exists()


# --- 3. a lock file deleted while a writer holds it loses no update ---------------------------

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from sporder_py.ops import batch
    from sporder_py.store import location, shipped, transaction
    path, flag = sys.argv[1], Path(sys.argv[2])
    loc = location.Location(path, "option")
    spec = {"command": "install", "name": "held while the lock was deleted", "path": "h.dll",
            "family": "inet", "type": "stream", "protocol": "tcp"}

    def op(f):
        out = batch.run_one(f, spec, ctx=batch.Ctx(load_default=shipped.load_shipped))
        flag.write_text("holding")
        time.sleep(1.5)                          # the lock is deleted and W runs meanwhile
        return out
    transaction.mutate(loc, op, command="holder", summary=lambda c: "holder")
    print("holder done")
""")


@pytest.mark.skipif(not POSIX, reason="POSIX file locks and unlink of an open file")
@pytest.mark.parametrize("trial", range(2))
def test_a_deleted_lock_file_loses_no_update(catalog_path, tmp_path, trial):
    flag = tmp_path / "flag"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(catalog_path), str(flag)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 30
    while not flag.exists():
        assert holder.poll() is None, holder.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    lock = catalog_path.with_name(catalog_path.name + ".lock")
    lock.unlink()                                # removed while the holder holds it
    w = run_sub("--catalog", catalog_path, "install", "--name", "written meanwhile", "--path",
                "w.dll", "--family", "inet", "--type", "dgram", "--protocol", "udp",
                timeout=60)
    out, err = holder.communicate(timeout=60)
    assert holder.returncode == 0, err.decode()
    assert w.code == 0, w.err
    data = run_sub("--catalog", catalog_path, "list", "--json").json["data"]
    names = {e["name"] for e in data["entries"]}
    assert {"held while the lock was deleted", "written meanwhile"} <= names
    assert data["serial"] == 3                 # 1 -> 2 -> 3: two writes, two serials


# --- 4. concurrent init without --force: exactly one wins ------------------------------------

@pytest.mark.parametrize("trial", range(3))
def test_concurrent_inits_without_force_create_the_file_once(tmp_path, trial):
    cat = tmp_path / "new.toml"
    procs = [subprocess.Popen([*sporder_cmd(), "--catalog", str(cat), "init", "--from",
                               name], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for name in ["windows-11", "windows-7", "windows-10"] * 2]
    results = [(p.wait(timeout=60), p.stderr.read().decode()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1, 1, 1, 1, 1], results
    assert all("already exists" in err for code, err in results if code == 1)
    assert run_sub("--catalog", cat, "log", "--json").json["data"]["records"][0][
        "serial_before"] == 0
    assert len(run_sub("--catalog", cat, "log", "--json").json["data"]["records"]) == 1


# --- 5. stale-temp cleanup touches only this catalog's stale temps -----------------------------

def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temp_cleanup_spares_other_files_and_live_writers(cli, catalog_path):
    d = catalog_path.parent
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        dead = _dead_pid()
        keep = [f".{catalog_path.name}.x.{dead}.0123abcd.tmp",       # cat.toml.x's temp
                f".{catalog_path.name}.bak.{dead}.0123abcd.tmp",     # an export -o in flight
                f".{catalog_path.name}.{live.pid}.0123abcd.tmp",     # a live writer's
                f".{catalog_path.name}.notapid.0123abcd.tmp"]
        gone = f".{catalog_path.name}.{dead}.89abcdef.tmp"          # a killed writer's
        for name in [*keep, gone]:
            (d / name).write_text("in flight")
        assert cli("--catalog", catalog_path, "move", "1001", "--bottom").code == 0
        assert all((d / name).exists() for name in keep)
        assert not (d / gone).exists()
    finally:
        live.kill()
        live.wait()


WRITER = textwrap.dedent("""
    import sys
    from sporder_py.cli.app import main
    path, n = sys.argv[1], int(sys.argv[2])
    bad = 0
    for i in range(n):
        code = main(["--catalog", path, "move", "1001", "--bottom" if i % 2 else "--top"])
        bad += code != 0
    print(bad)
""")


@pytest.mark.skipif(not POSIX, reason="concurrent POSIX processes")
def test_writes_to_a_sibling_catalog_survive_this_catalogs_cleanup(tmp_path):
    """Item 5 with real processes: two writers, cat.toml and cat.toml.x, side by side; every
    write of both succeeds (one of 121 writes to cat.toml.x used to fail)."""
    a, b = tmp_path / "cat.toml", tmp_path / "cat.toml.x"
    shutil.copy(CATALOGS / "windows-11.toml", a)
    shutil.copy(CATALOGS / "windows-11.toml", b)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(p), "40"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for p in (a, b)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [o.decode().split()[-1] for o, _ in outs] == ["0", "0"], [e.decode()[-2000:]
                                                                 for _, e in outs]


# --- 6. export -o never writes the catalog's own files -----------------------------------------

@pytest.mark.parametrize("target", ["catalog", "lock", "state", "history", "temp", "link"])
def test_export_onto_the_catalog_or_its_files_is_refused(cli, catalog_path, target):
    assert cli("--catalog", catalog_path, "move", "1001", "--bottom").code == 0
    d = catalog_path.parent
    out = {"catalog": catalog_path, "lock": d / (catalog_path.name + ".lock"),
           "state": d / (catalog_path.name + ".history") / "1.toml",
           "history": d / (catalog_path.name + ".history"),
           "temp": d / f".{catalog_path.name}.123.0123abcd.tmp", "link": d / "alias.toml"}[target]
    if target == "link":
        out.symlink_to(catalog_path)
    before = files(d)
    for fmt in ("netsh", "toml"):
        r = cli("--catalog", catalog_path, "export", "--format", fmt, "-o", out)
        one_sentence(r, 3, "export does not write there")
    assert files(d) == before


# --- 7. text that is not UTF-8 -------------------------------------------------------------

@pytest.mark.parametrize("args", [
    [b"install", b"--name", b"caf\xe9", b"--path", b"x.dll", b"--family", b"inet", b"--type",
     b"stream"],
    [b"install-lsp", b"--name", b"L", b"--path", b"\xff.dll", b"--over", b"1004"],
    [b"app-category", b"set", b"C:\\caf\xe9.exe", b"LSP_SYSTEM"],
    [b"--catalog", b"caf\xe9.toml", b"list"],
])
def test_arguments_that_are_not_utf8_get_one_sentence(catalog_path, args):
    argv = [os.fsencode(a) for a in sporder_cmd()]
    if args[0] != b"--catalog":
        argv += [b"--catalog", os.fsencode(catalog_path)]
    before = catalog_path.read_bytes()
    proc = subprocess.run([*argv, *args], capture_output=True, timeout=60,
                          cwd=catalog_path.parent)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2 and "Traceback" not in err, err
    assert "is not valid UTF-8 text" in err and err.count("\n") == 1
    assert catalog_path.read_bytes() == before


def test_a_user_name_that_is_not_utf8_is_recorded_escaped(catalog_path):
    env = {**os.environb, b"USER": b"caf\xe9", b"LOGNAME": b"caf\xe9"}
    argv = [os.fsencode(a) for a in sporder_cmd()]
    proc = subprocess.run([*argv, b"--catalog", os.fsencode(catalog_path), b"move", b"1001",
                           b"--bottom"], capture_output=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    records = run_sub("--catalog", catalog_path, "log", "--json").json["data"]["records"]
    assert records[-1]["user"] == "caf\\udce9"


def test_json_with_a_lone_surrogate_is_refused_naming_the_field(cli, catalog_path, tmp_path):
    doc = cli("--catalog", catalog_path, "list", "--json").out
    bad = tmp_path / "bad.json"
    bad.write_text(doc.replace('"MSAFD Tcpip [TCP/IP]"', '"\\ud800"', 1))
    before = catalog_path.read_bytes()
    r = cli("--catalog", catalog_path, "import", bad)
    one_sentence(r, 3, "is not valid Unicode text")
    assert "'name'" in r.err
    assert catalog_path.read_bytes() == before


# --- 8. special files and huge inputs --------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("how", ["catalog-list", "catalog-move", "import", "apply",
                                 "install-from", "init-from", "dev-zero", "dev-urandom"])
def test_special_files_are_refused_quickly(catalog_path, tmp_path, how):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    special = {"dev-zero": "/dev/zero", "dev-urandom": "/dev/urandom"}.get(how, str(fifo))
    args = {"catalog-list": ["--catalog", special, "list"],
            "catalog-move": ["--catalog", special, "move", "1001", "--top"],
            "import": ["--catalog", catalog_path, "import", special],
            "apply": ["--catalog", catalog_path, "apply", special],
            "install-from": ["--catalog", catalog_path, "install", "--from", special],
            "init-from": ["--catalog", tmp_path / "new.toml", "init", "--from", special],
            "dev-zero": ["--catalog", catalog_path, "import", special],
            "dev-urandom": ["--catalog", special, "list"]}[how]
    before = catalog_path.read_bytes()
    t = time.monotonic()
    r = run_sub(*args, timeout=20)
    assert time.monotonic() - t < 15
    one_sentence(r, 3, "is not a regular file")
    assert catalog_path.read_bytes() == before


def test_the_input_size_limit_is_documented_and_enforced(monkeypatch, tmp_path):
    from sporder_py.errors import CatalogFileError
    from sporder_py.store import reading
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * 4097)
    monkeypatch.setattr(reading, "MAX_INPUT_BYTES", 4096)
    with pytest.raises(CatalogFileError, match="is larger than"):
        reading.read_bytes(big)
    man = (ROOT / "man" / "sporder.1").read_text()
    assert "1 GiB" in man


# --- 9. a tampered history cannot make undo spin -------------------------------------------

def test_a_history_cycle_is_refused_on_load_quickly(catalog_path):
    assert run_sub("--catalog", catalog_path, "move", "1001", "--bottom").code == 0
    text = catalog_path.read_text()
    catalog_path.write_text(re.sub(r"^undo_target = \d+$", "undo_target = 2", text, flags=re.M))
    t = time.monotonic()
    r = run_sub("--catalog", catalog_path, "undo", "--steps", "1000000000", timeout=20)
    assert time.monotonic() - t < 15
    one_sentence(r, 3, "undo_target 2 is not below serial_after 2")


def test_undo_steps_beyond_the_history_stops_at_once(cli, catalog_path):
    assert cli("--catalog", catalog_path, "move", "1001", "--bottom").code == 0
    t = time.monotonic()
    r = cli("--catalog", catalog_path, "undo", "--steps", str(10 ** 12))
    assert time.monotonic() - t < 5
    one_sentence(r, 1, "no recorded write to undo")


# --- 10. --lock-timeout beyond the platform's timers ----------------------------------------

@pytest.mark.parametrize("value", ["1e10", "1e300", "604801"])
def test_a_huge_lock_timeout_is_refused(catalog_path, value):
    r = run_sub("--catalog", catalog_path, "--lock-timeout", value, "move", "1001", "--top")
    assert r.code == 2 and "Traceback" not in r.err
    assert "--lock-timeout" in r.err and "0<=x<=604800" in r.err


def test_a_large_lock_timeout_under_contention_works(catalog_path):
    from sporder_py.store import atomic
    with atomic.exclusive_lock(str(catalog_path) + ".lock", 1):
        r = run_sub("--catalog", catalog_path, "--lock-timeout", "604800", "move", "1001",
                    "--top", "--dry-run")
    assert r.code == 0, r.err                  # a dry run takes no lock


# --- 11. untrusted text never reaches the terminal raw ----------------------------------------

HOSTILE_NAME = "Evil\x1b]0;pwned\x07\x1b[2J\r\nFORGED LINE\u202eexe.txt"


@pytest.fixture
def hostile_catalog(cli, catalog_path):
    r = cli("--catalog", catalog_path, "install-lsp", "--name", HOSTILE_NAME, "--path",
            "C:\\evil\x1b[31m.dll", "--over", "1004")
    assert r.code == 0, r.err
    assert CONTROL.search(r.out) is None and "\nFORGED LINE" not in r.out
    return catalog_path


@pytest.mark.parametrize("args", [["list"], ["show", "1015"], ["show", "1016"], ["log"],
                                  ["resolve", "inet", "stream", "tcp"], ["doctor"],
                                  ["namespace", "list"], ["export", "--format", "netsh"]])
def test_hostile_names_are_escaped_in_every_human_output(cli, hostile_catalog, args):
    r = cli("--catalog", hostile_catalog, *args)
    assert r.code in (0, 1), r.err
    if args[0] == "export":
        return       # netsh text is data, written as the catalog holds it (exact bytes)
    assert CONTROL.search(r.out) is None, r.out
    assert CONTROL.search(r.err) is None, r.err
    assert not any(line.startswith("FORGED LINE") for line in r.out.splitlines())
    if args[0] in ("list", "show", "resolve", "log"):
        assert "\\x1b" in r.out or "\\u202e" in r.out


def test_hostile_names_stay_exact_in_json(cli, hostile_catalog):
    data = cli("--catalog", hostile_catalog, "show", "1015", "--json").out
    assert CONTROL.search(data) is None           # escaped as \\uXXXX, still JSON
    assert json.loads(data)["data"]["entry"]["name"] == HOSTILE_NAME


# --- 12. links at the lock and history paths are refused, not followed -----------------------

def test_a_dangling_link_at_the_lock_path_is_refused(cli, catalog_path, tmp_path):
    victim = tmp_path / "victim-created-by-sporder"
    lock = catalog_path.with_name(catalog_path.name + ".lock")
    lock.symlink_to(victim)
    before = files(tmp_path)
    r = cli("--catalog", catalog_path, "move", "1001", "--bottom")
    one_sentence(r, 3, "is a symbolic link")
    assert not victim.exists() and files(tmp_path) == before


def test_a_link_at_the_history_path_is_refused(cli, catalog_path, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    catalog_path.with_name(catalog_path.name + ".history").symlink_to(elsewhere)
    before = files(tmp_path)
    r = cli("--catalog", catalog_path, "move", "1001", "--bottom")
    one_sentence(r, 3, "is a symbolic link")
    assert files(tmp_path) == before and not list(elsewhere.iterdir())


# --- 14. small ones ----------------------------------------------------------------------------

def test_a_damaged_hive_gives_only_sporders_sentence(tmp_path):
    import lzma
    data = lzma.decompress((ROOT / "tests" / "data" / "hives" /
                            "SYSTEM-win7-x86.xz").read_bytes())
    hive = tmp_path / "SYSTEM"
    hive.write_bytes(data[: len(data) // 3])
    r = run_sub("--catalog", hive, "list")
    assert r.code == 3 and r.err.count("\n") == 1, r.err


def test_the_man_page_documents_hard_links_and_comments():
    man = (ROOT / "man" / "sporder.1").read_text()
    assert "hard link" in man and "comments" in man
