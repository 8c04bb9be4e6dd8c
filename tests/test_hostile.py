"""Hostile input corpus (issue 7, part 2): catalog files, imported files and arguments that are
truncated, binary, not UTF-8, huge, deeply nested, out of range, duplicated, looping, of the wrong
length, NUL-laden; catalog paths that are directories, symlinks (valid, dangling, looping), too
long, unreadable or unwritable; lock directories that are read-only; disks that are full.

Every case checks DESIGN §4/§5: the documented exit status, ONE sentence on stderr (a single
``sporder: error: ...`` line; click's own parse errors keep click's "Usage / Try / Error" block,
which python-cli.md adopts for exit 2), no traceback, nothing else on stdout, and every file of
the directory keeps its exact bytes (sha256 of every entry before and after).  The only entries a
refused write may leave behind are an empty ``<catalog>.lock`` (the lock is taken before the
catalog is re-read) and an empty ``<catalog>.history`` directory.

Most cases run the CLI in-process (``cli`` fixture).  Cases that need a real process use one:
``os.fork`` of this interpreter for a privilege drop to uid/gid 65534 (the venv's interpreter
may live under /root, which that user cannot execute; the child re-imports sporder_py from a copy
that user can read, shipped catalogs included, as the checkout may be out of its reach), a
subprocess of the console script for ``RLIMIT_FSIZE`` (SIGXFSZ ignored, so writes fail with
EFBIG) and for the 50 MB inputs (peak RSS measured with ``wait4``), and a 64 KiB tmpfs for a full
disk (skipped when mount is refused).

Bugs found are ``xfail(strict=True)`` tests whose reason starts with "BUG:".
"""

from __future__ import annotations

import codecs
import getpass  # noqa: F401 - loaded before forking: the unprivileged child cannot import it
import hashlib
import importlib
import json
import lzma
import os
import re
import shlex  # noqa: F401 - as getpass
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import tomllib  # noqa: F401 - as getpass
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import CATALOGS, TESTDATA, Run, load_shipped, sporder_cmd
from sporder_py.cli.app import all_commands, main

all_commands()   # every command module loaded before forking: children import nothing

if sys.platform == "win32":  # pragma: no cover - POSIX modes, symlinks, fork, rlimits, mounts
    pytest.skip("the hostile corpus exercises POSIX file systems and processes",
                allow_module_level=True)

DATA = Path(__file__).parent / "data"
HOSTILE = DATA / "hostile"
SHIPPED_PATH = CATALOGS / "windows-11.toml"
SHIPPED = SHIPPED_PATH.read_text(encoding="utf-8")
OTHER_CATALOG = CATALOGS / "windows-7.toml"
EMPTY_SHA = hashlib.sha256(b"").hexdigest()
TCPIP_NSP = "{22059D40-7E9E-11CF-AE5A-00AA00A7112B}"
MB = 1024 * 1024

PRELOADED = ("sporder_py.diff", "sporder_py.integrity", "sporder_py.ops.batch",
             "sporder_py.formats.detect", "sporder_py.formats.netsh",
             "sporder_py.formats.regfile", "sporder_py.formats.jsondoc",
             "sporder_py.formats.firefox", "sporder_py.formats.hive", "tomli_w",
             "encodings.utf_16", "encodings.utf_16_le", "encodings.cp1252")
for _module in PRELOADED:
    importlib.import_module(_module)     # loaded before forking, as above


# --- checks shared by every case --------------------------------------------------------------

def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root``: sha256 of a file, "dir", or "link:<target>" (not followed)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def assert_untouched(before: dict[str, str], after: dict[str, str], *catalogs: str) -> None:
    """Nothing changed or vanished; the only new entries allowed are an empty ``C.lock`` and an
    empty ``C.history`` directory for each catalog name ``C`` (relative to the snapshot root)."""
    changed = sorted(k for k in before if after.get(k) != before[k])
    assert not changed, f"changed or removed: {changed}"
    allowed = {f"{c}.lock": EMPTY_SHA for c in catalogs} | {f"{c}.history": "dir" for c in catalogs}
    added = {k: v for k, v in after.items() if k not in before}
    unexpected = sorted(k for k, v in added.items() if allowed.get(k) != v)
    assert not unexpected, f"new entries: {unexpected}"


def one_error_line(r: Run) -> str:
    assert "Traceback" not in r.err and "Traceback" not in r.out, r.err[-3000:]
    lines = [line for line in r.err.splitlines() if line.strip()]
    if r.code == 2 and any(line.startswith("Usage: ") for line in lines):
        # click's own parse error: "Usage: ...", "Try '... --help' for help.", "Error: ...".
        assert len(lines) == 3 and lines[1].startswith("Try ") and lines[2].startswith("Error: "), \
            r.err[-3000:]
        return lines[2]
    assert len(lines) == 1, r.err[-3000:]
    assert lines[0].startswith("sporder: error: "), lines[0][:3000]
    return lines[0]


def assert_refused(r: Run, code: int, *needles: str, as_json: bool = False) -> str:
    """Exit ``code``, one sentence on stderr containing every needle, no traceback; stdout empty,
    or (with --json) one envelope with ok false."""
    assert r.code == code, f"exit {r.code}, expected {code}: {r.err[-3000:]}"
    line = one_error_line(r)
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line[:3000]!r}"
    if as_json:
        doc = json.loads(r.out)
        assert doc["ok"] is False and doc["error"]["code"], doc
    else:
        assert r.out == "", r.out[:3000]
    return line


@contextmanager
def command(args: list[object]) -> Iterator[None]:
    """Name the command in any assertion raised by the body (cases loop over commands)."""
    try:
        yield
    except AssertionError as exc:
        shown = " ".join(str(a) if len(str(a)) < 80 else str(a)[:77] + "..." for a in args)
        raise AssertionError(f"sporder {shown}: {exc}") from None


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the body runs longer than ``seconds``."""
    def expire(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")
    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def sub1(pattern: str, repl: str, text: str = SHIPPED) -> str:
    """``text`` with the first match of ``pattern`` (multiline) replaced; the pattern must match."""
    new, n = re.subn(pattern, lambda _m: repl, text, count=1, flags=re.M)
    assert n == 1, pattern
    return new


def b(text: str) -> bytes:
    return text.encode("utf-8")


# --- 1. hostile catalog files, read and written through every kind of command --------------------

FIRST_NAME = 'name = "MSAFD Tcpip [TCP/IPv6]"'
FIRST_GUID = "{F9EAB0C0-26D4-11D0-BBBF-00AA006C34E4}"
BASE_KIND = 'kind = "base"'


def _chain_across_catalogs() -> bytes:
    # catalog64 entry 1001 becomes a chain over [1015, 1002]; 1015 exists only in catalog32.
    text = sub1(r"^next_entry_id = 1015$", "next_entry_id = 1016")
    text = text.replace(BASE_KIND, 'kind = "chain"\nchain = [1015, 1002]', 1)
    text += ('\n[[catalog32.protocol]]\nid = 1015\nkind = "layered"\nname = "Hostile LSP"\n'
             'provider_id = "{11111111-2222-3333-4444-555555555555}"\npath = "hostile.dll"\n'
             'family = "AF_INET"\nsocket_type = 0\nprotocol = 0\nprovider_flags = ["PFL_HIDDEN"]\n')
    return b(text)


def _cut_in_string() -> bytes:
    raw = b(SHIPPED)
    at = raw.index(b'name = "MSAFD Tcpip [RAW/IP]"') + len(b'name = "MSAFD Tc')
    return raw[:at]


CATALOG_CASES: list[tuple[str, Callable[[], bytes], str]] = [
    ("nested-arrays-100000", lambda: b("a = " + "[" * 100000 + "]" * 100000 + "\n" + SHIPPED),
     "nested too deeply"),
    ("nested-inline-tables-50000", lambda: b("a = " + "{b=" * 50000 + "1" + "}" * 50000 + "\n"
                                             + SHIPPED), "nested too deeply"),
    ("next-entry-id-27-digits", lambda: b(sub1(r"^next_entry_id = 1015$",
                                               "next_entry_id = " + "9" * 27)),
     "outside the range of a DWORD"),
    ("max-offset-32-digits", lambda: b(SHIPPED.replace("protocol_max_offset = 0",
                                                       "protocol_max_offset = " + "9" * 32, 1)),
     "outside the range of a int"),
    ("negative-id", lambda: b(sub1(r"^id = 1001$", "id = -1001")), "outside the range of a DWORD"),
    ("negative-serial", lambda: b(sub1(r"^serial = 1$", "serial = -1")),
     "outside the range of a DWORD"),
    ("negative-chain-id", lambda: b(SHIPPED.replace(BASE_KIND, 'kind = "chain"\nchain = [-1, 1002]',
                                                    1)), "outside the range of a DWORD"),
    ("chain-id-beyond-dword", lambda: b(SHIPPED.replace(
        BASE_KIND, 'kind = "chain"\nchain = [4294967296, 1002]', 1)),
     "outside the range of a DWORD"),
    ("float-id", lambda: b(sub1(r"^id = 1001$", "id = 1001.0")), "not a float"),
    ("infinite-id", lambda: b(sub1(r"^id = 1001$", "id = inf")), "not a float"),
    ("nan-family", lambda: b(SHIPPED.replace('family = "AF_INET6"', "family = nan", 1)),
     "not a float"),
    ("duplicate-key", lambda: b(sub1(r"^id = 1001$", "id = 1001\nid = 1001")),
     "Cannot overwrite a value"),
    ("duplicate-table", lambda: b(SHIPPED + '\n[wsk]\nlowest = "1.0"\nhighest = "1.0"\n'),
     "Cannot declare"),
    ("duplicate-entry-id", lambda: b(sub1(r"^id = 1002$", "id = 1001")),
     "already used by entry #1"),
    ("guid-35-characters", lambda: b(SHIPPED.replace(FIRST_GUID, FIRST_GUID[:-2] + "}", 1)),
     "is not a GUID"),
    ("guid-37-characters", lambda: b(SHIPPED.replace(FIRST_GUID, FIRST_GUID[:-1] + "0}", 1)),
     "is not a GUID"),
    ("guid-without-dashes", lambda: b(SHIPPED.replace(FIRST_GUID, FIRST_GUID.replace("-", ""), 1)),
     "is not a GUID"),
    ("guid-100000-characters", lambda: b(SHIPPED.replace(FIRST_GUID, "{" + "A" * 100000 + "}", 1)),
     "the limit is 64"),
    ("guid-is-an-integer", lambda: b(SHIPPED.replace(f'"{FIRST_GUID}"', "12345", 1)),
     "must be a string, not an integer"),
    ("nul-escape-in-name", lambda: b(SHIPPED.replace(FIRST_NAME, 'name = "MSAFD\\u0000Tcpip"', 1)),
     "contains a NUL character"),
    ("nul-byte-in-name", lambda: b(SHIPPED).replace(b"MSAFD Tcpip", b"MSAFD\x00Tcpip", 1),
     "contains a NUL byte"),
    ("invalid-utf8-in-name", lambda: b(SHIPPED).replace(b"MSAFD Tcpip", b"MSAFD\xffTcpip", 1),
     "not UTF-8 text"),
    ("truncated-in-a-string", _cut_in_string, "not valid TOML"),
    ("truncated-in-half", lambda: b(SHIPPED)[:len(b(SHIPPED)) // 2], ""),
    ("binary-garbage", lambda: (HOSTILE / "binary-garbage.bin").read_bytes(), "not UTF-8 text"),
    ("utf16-with-bom", lambda: codecs.BOM_UTF16_LE + SHIPPED.encode("utf-16-le"), ""),
    ("empty-file", lambda: b"", "has no 'format' key"),
    ("kind-is-a-list", lambda: b(SHIPPED.replace(BASE_KIND, 'kind = ["base"]', 1)),
     "is not one of layered, base, chain"),
    ("chain-holds-a-table", lambda: b(SHIPPED.replace(
        BASE_KIND, 'kind = "chain"\nchain = [{a = 1}, 1002]', 1)),
     "must be an integer, not a table"),
    ("serial-is-a-datetime", lambda: b(sub1(r"^serial = 1$", "serial = 1979-05-27T07:32:00Z")),
     "not datetime"),
    ("lone-surrogate-escape", lambda: b(SHIPPED.replace(FIRST_NAME, 'name = "\\ud800"', 1)),
     "not valid TOML"),
    ("family-name-1mb", lambda: b(SHIPPED.replace('family = "AF_INET6"',
                                                  f'family = "{"A" * MB}"', 1)),
     "is not a known name or a number"),
]

READS = [["list"], ["list", "--json"], ["resolve", "inet", "stream", "tcp"]]
WRITES = [
    ["move", "1001", "--bottom"],
    ["install", "--name", "Hostile", "--path", "hostile.dll", "--family", "inet",
     "--type", "stream"],
    ["install-lsp", "--name", "Hostile", "--path", "hostile.dll", "--over", "1004"],
    ["uninstall", "1004", "--cascade"],
    ["import", str(OTHER_CATALOG)],
    ["apply", "{apply}"],
    ["undo"],
    ["init", "--force"],
    ["reset"],
    ["doctor", "--fix"],
    ["namespace", "disable", TCPIP_NSP],
    ["categories", "set", "1001", "LSP_INSPECTOR"],
]
OK_APPLY = '[[operation]]\ncommand = "move"\nid = 1001\nbottom = true\n'


def _ids(case: tuple) -> str:
    return case[0]


@pytest.mark.parametrize("make,fmt", [(_chain_across_catalogs, "toml"),
                                      (lambda: (HOSTILE / "netsh-cross-catalog-chain.txt")
                                       .read_bytes(), "netsh")], ids=["toml", "netsh"])
def test_chain_across_catalogs_loads_as_an_orphan_with_a_warning(cli, tmp_path, make, fmt):
    """Issue 13, case 4: the two catalogs are independent, so a chain whose top layer exists only
    in the other catalog (one half of an LSP removed) loads, with a warning, for doctor to report.
    (These two cases used to be refused with exit 3 by the tables below.)"""
    target = tmp_path / f"across.{fmt}"
    target.write_bytes(make())
    before = snapshot(tmp_path)
    r = cli("--catalog", target, "list")
    assert r.code == 0, r.err
    assert "exists only in the other catalog" in r.err and "orphaned" in r.err
    assert "Traceback" not in r.err
    assert_untouched(before, snapshot(tmp_path), target.name)


@pytest.fixture(scope="module")
def hostile_catalog_bytes() -> Callable[[str], bytes]:
    cache: dict[str, bytes] = {}
    makers = {name: make for name, make, _ in CATALOG_CASES}

    def get(name: str) -> bytes:
        if name not in cache:
            cache[name] = makers[name]()
        return cache[name]
    return get


@pytest.mark.parametrize("group", ["reads", "writes"])
@pytest.mark.parametrize("case", CATALOG_CASES, ids=_ids)
def test_hostile_catalog_file_is_refused_and_left_alone(cli, tmp_path, hostile_catalog_bytes,
                                                         case, group):
    name, _, needle = case
    work = tmp_path / "work"
    work.mkdir()
    target = work / "catalog.toml"
    target.write_bytes(hostile_catalog_bytes(name))
    apply_file = tmp_path / "ok-apply.toml"
    apply_file.write_text(OK_APPLY)
    before = snapshot(work)
    for args in READS if group == "reads" else WRITES:
        args = [str(apply_file) if a == "{apply}" else a for a in args]
        with command(args), deadline(60):
            r = cli("--catalog", target, *args)
            line = assert_refused(r, 3, needle, as_json="--json" in args)
            assert str(target) in line
            assert_untouched(before, snapshot(work), "catalog.toml")


def test_hostile_catalog_refusals_are_quick(cli, tmp_path, hostile_catalog_bytes):
    """Deep nesting, 1 MB values and 100000-character GUIDs are refused in bounded time."""
    slowest = (0.0, "")
    for name, _, _ in CATALOG_CASES:
        target = tmp_path / f"{name}.toml"
        target.write_bytes(hostile_catalog_bytes(name))
        start = time.monotonic()
        r = cli("--catalog", target, "list")
        slowest = max(slowest, (time.monotonic() - start, name))
        assert r.code == 3
    assert slowest[0] < 5.0, slowest


# --- 1b. hostile catalogs the tool does not survive (bugs) ---------------------------------------

@pytest.mark.parametrize("args", [["list"], ["move", "1001", "--bottom"]], ids=" ".join)
def test_catalog_with_5000_digit_integer(cli, tmp_path, args):
    target = tmp_path / "catalog.toml"
    target.write_text(sub1(r"^serial = 1$", "serial = " + "9" * 5000))
    before = snapshot(tmp_path)
    r = cli("--catalog", target, *args)
    assert_refused(r, 3, str(target))
    assert_untouched(before, snapshot(tmp_path), "catalog.toml")


@pytest.mark.parametrize("flags", ["service_flags = [[1], ", "service_flags = [1.5, ",
                                   "service_flags = [1979-05-27, "],
                         ids=["nested-list", "float", "date"])
def test_catalog_with_non_string_flag_item(cli, tmp_path, flags):
    target = tmp_path / "catalog.toml"
    target.write_text(SHIPPED.replace("service_flags = [", flags, 1))
    before = snapshot(tmp_path)
    r = cli("--catalog", target, "list")
    assert_refused(r, 3, "service_flags")
    assert_untouched(before, snapshot(tmp_path), "catalog.toml")


def test_entry_name_that_looks_like_netsh_does_not_brick_the_catalog(cli, catalog_path):
    r = cli("--catalog", catalog_path, "install", "--name", "Name Space Provider Entry",
            "--path", "hostile.dll", "--family", "inet", "--type", "stream")
    assert r.code == 0, r.err
    r = cli("--catalog", catalog_path, "list", "--json")
    assert r.code == 0, r.err
    assert r.json["data"]["entries"][-1]["name"] == "Name Space Provider Entry"
    assert cli("--catalog", catalog_path, "undo").code == 0


@pytest.mark.parametrize("variant", ["catalog-family-1mb", "resolve-10k", "install-lsp-name-10k"])
def test_error_sentence_does_not_echo_a_huge_value(cli, catalog_path, variant):
    if variant == "catalog-family-1mb":
        catalog_path.write_text(SHIPPED.replace('family = "AF_INET6"', f'family = "{"A" * MB}"', 1))
        r = cli("--catalog", catalog_path, "list")
        code = 3
    elif variant == "resolve-10k":
        r = cli("--catalog", catalog_path, "resolve", "A" * 10000, "stream", "tcp")
        code = 2
    else:
        r = cli("--catalog", catalog_path, "install-lsp", "--name", "N" * 10000, "--path",
                "hostile.dll", "--over", "1004")
        code = 1
    line = assert_refused(r, code)
    assert len(line) < 1000, len(line)


# --- 2. chains that loop (a valid file: every command must terminate) ----------------------------

def _with_entries(entries: list[str], next_id: int = 1020) -> str:
    text = sub1(r"^next_entry_id = 1015$", f"next_entry_id = {next_id}")
    head, sep, rest = text.partition("[[catalog64.protocol]]")
    return head + "".join(entries) + sep + rest


def _entry(entry_id: int, kind: str, chain: list[int] | None = None) -> str:
    lines = ["[[catalog64.protocol]]", f"id = {entry_id}", f'kind = "{kind}"',
             f'name = "Loop {entry_id}"',
             f'provider_id = "{{11111111-2222-3333-4444-{entry_id:012d}}}"', 'path = "loop.dll"',
             'family = "AF_INET"']
    if kind == "layered":
        lines += ["socket_type = 0", "protocol = 0", 'provider_flags = ["PFL_HIDDEN"]']
    else:
        lines += ['socket_type = "SOCK_STREAM"', 'protocol = "IPPROTO_TCP"',
                  'provider_flags = ["PFL_MATCHES_PROTOCOL_ZERO"]']
    if chain is not None:
        lines.append(f"chain = {chain}")
    return "\n".join(lines) + "\n\n"


LOOPS = {
    # two chain entries whose top layer is each other
    "two-chains-name-each-other": [_entry(1015, "chain", [1016, 1004]),
                                   _entry(1016, "chain", [1015, 1004]), _entry(1017, "layered")],
    # three chain entries in a cycle, none ending in a base provider
    "three-chain-cycle": [_entry(1015, "chain", [1016, 1017]), _entry(1016, "chain", [1017, 1015]),
                          _entry(1017, "chain", [1015, 1016])],
    # a chain whose 'base' is a layered entry
    "chain-ends-in-layered": [_entry(1015, "chain", [1017, 1018]), _entry(1017, "layered"),
                              _entry(1018, "layered")],
}
LOOP_COMMANDS: list[tuple[list[str], tuple[int, ...]]] = [
    (["list"], (0,)), (["show", "1015"], (0,)), (["resolve", "inet", "stream", "tcp"], (0,)),
    (["resolve", "inet", "stream", "tcp", "--explain"], (0,)), (["doctor"], (0, 1)),
    (["doctor", "--fix", "--dry-run"], (0,)), (["export", "--format", "netsh"], (0, 1)),
    (["uninstall", "1015", "--dry-run"], (0,)),
    (["uninstall", "1004", "--cascade", "--dry-run"], (0,)),
    (["move", "1015", "--bottom", "--dry-run"], (0,)),
    (["--bitness", "64", "install-lsp", "--name", "X", "--path", "x.dll", "--over", "1015",
      "--dry-run"], (0, 1)),
    (["install-lsp", "--name", "X", "--path", "x.dll", "--over-all", "--dry-run"], (0, 1)),
]


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_looping_chains_terminate_with_documented_status(cli, tmp_path, loop):
    target = tmp_path / "catalog.toml"
    target.write_text(_with_entries(LOOPS[loop]))
    before = snapshot(tmp_path)
    for args, codes in LOOP_COMMANDS:
        with deadline(20):
            r = cli("--catalog", target, *args)
        assert r.code in codes, (args, r.code, r.err)
        assert "Traceback" not in r.err
        if r.code:
            one_error_line(r)
    assert_untouched(before, snapshot(tmp_path), "catalog.toml")
    # A real repair terminates and leaves a file that loads again.
    with deadline(20):
        r = cli("--catalog", target, "doctor", "--fix")
    assert r.code == 0, r.err
    assert cli("--catalog", target, "list").code == 0


def test_loop_resolves_to_the_first_chain_with_its_named_layers(cli, tmp_path):
    target = tmp_path / "catalog.toml"
    target.write_text(_with_entries(LOOPS["two-chains-name-each-other"]))
    r = cli("--catalog", target, "resolve", "inet", "stream", "tcp", "--json")
    assert r.code == 0, r.err
    assert r.json["data"]["entry"]["id"] == 1015
    assert [x["id"] for x in r.json["data"]["layers"]] == [1016, 1004]


# --- 3. hostile imported files: read through --catalog, and imported ----------------------------

def _netsh() -> str:
    return (DATA / "netsh" / "win10-1607-x64-lsp.txt").read_text(encoding="utf-8")


def _firefox() -> str:
    return (DATA / "firefox" / "win10-x64-proxy-lsp.txt").read_text(encoding="utf-8")


def _reg5() -> str:
    return (DATA / "reg" / "win8-x64-winsock2.reg").read_bytes()[2:].decode("utf-16-le")


def _reg5_bytes(text: str) -> bytes:
    return codecs.BOM_UTF16_LE + text.encode("utf-16-le")


def _reg4() -> bytes:
    return (DATA / "reg" / "win7-x86-winsock2-regedit4.reg").read_bytes()


def _list_json(mutate: Callable[[dict], None] | None = None) -> bytes:
    from sporder_py.formats import jsondoc
    f = load_shipped()
    doc = {"schema": 1, "command": "list", "ok": True,
           "data": {"catalog": "64", "serial": 1,
                    "entries": jsondoc.catalog_entries(f.catalog("64"))}}
    if mutate:
        mutate(doc)
    return b(json.dumps(doc, indent=2))


def _first_entry(**changes: object) -> Callable[[dict], None]:
    return lambda doc: doc["data"]["entries"][0].update(changes)


def _netsh_cut_after_flags() -> bytes:
    text = _netsh()
    return b(text[:text.index("\n", text.index("Service Flags")) + 1])


@pytest.fixture(scope="module")
def real_hive(tmp_path_factory) -> bytes:
    pytest.importorskip("regipy", reason="regipy is not installed (pip install 'sporder[hive]')")
    src = TESTDATA / "hives" / "SYSTEM-win7-x86.xz"
    return lzma.decompress(src.read_bytes())


# (id, bytes maker, --format for import or None, read it through --catalog too, needle)
IMPORT_CASES: list[tuple[str, Callable[[], bytes], str | None, bool, str]] = [
    ("netsh-truncated-mid-block", lambda: b(_netsh())[:len(b(_netsh())) // 2], None, True, "line"),
    ("netsh-block-missing-fields", _netsh_cut_after_flags, None, True,
     "lacks Protocol Chain Length"),
    ("netsh-nul-byte", lambda: (HOSTILE / "netsh-nul-byte.txt").read_bytes(), None, True, "NUL"),
    ("netsh-invalid-utf8", lambda: b(_netsh()).replace(b"Version", b"Ver\xffsion", 1), None, True,
     "not UTF-8"),
    ("netsh-guid-too-short",
     lambda: b(_netsh().replace("8CA3-00805F48A192}", "8CA3-00805F48A1}", 1)),
     None, True, "is not a GUID"),
    ("netsh-negative-id", lambda: b(re.sub(r"(Catalog Entry ID:\s+)(\d+)", r"\1-\2", _netsh(),
                                           count=1)), None, True, "outside 0..4294967295"),
    ("netsh-id-beyond-dword", lambda: b(re.sub(r"(Catalog Entry ID:\s+)(\d+)", r"\g<1>4294967296",
                                               _netsh(), count=1)), None, True, "outside"),
    ("netsh-chain-names-itself", lambda: (HOSTILE / "netsh-chain-names-itself.txt").read_bytes(),
     None, True, "names the entry itself"),
    ("reg-truncated", lambda: _reg5_bytes(_reg5()[:len(_reg5()) // 2]), None, True, ""),
    ("reg-utf16-without-bom", lambda: _reg5().encode("utf-16-le"), None, True, ""),
    ("reg-odd-byte-count", lambda: _reg5_bytes(_reg5()) + b"\x00", None, True, ""),
    ("reg-deletes-a-key", lambda: (HOSTILE / "reg-deletes-key.reg").read_bytes(), None, True,
     "deletes a key"),
    ("reg-dword-too-long", lambda: (HOSTILE / "reg-dword-too-long.reg").read_bytes(), None, True,
     "bad dword"),
    ("reg-continuation-at-eof", lambda: (HOSTILE / "reg-continuation-at-eof.reg").read_bytes(),
     None, True, "continuation"),
    ("reg-namespace-guid-15-bytes", lambda: _reg5_bytes(_reg5().replace(
        '"ProviderId"=hex:a2,cb,4a,96,bc,b2,eb,40,8c,6a,a6,db,40,16,1c,ae',
        '"ProviderId"=hex:a2,cb,4a,96,bc,b2,eb,40,8c,6a,a6,db,40,16,1c', 1)), None, True,
     "is 15 bytes; a GUID is 16"),
    ("regedit4-truncated", lambda: _reg4()[:len(_reg4()) // 3], None, True, ""),
    ("regedit4-bad-dword", lambda: _reg4().replace(b"dword:", b"dword:zz", 1), None, True,
     "bad dword"),
    ("firefox-truncated", lambda: (HOSTILE / "firefox-truncated.txt").read_bytes(), None, True,
     "separated fields"),
    ("firefox-guid-too-short", lambda: (HOSTILE / "firefox-guid-too-short.txt").read_bytes(), None,
     True, "is not a GUID"),
    ("firefox-nul-byte", lambda: b(_firefox()).replace(b" : ", b" :\x00 ", 1), None, True, "NUL"),
    ("firefox-bad-hex", lambda: b(_firefox().replace("0x", "0y", 1)), None, True,
     "is not a 0x hex DWORD"),
    ("firefox-version-14-digits",
     lambda: b(_firefox().replace(" : 2 : ", " : 99999999999999 : ", 1)),
     None, True, "is not a decimal C int"),
    ("json-truncated", lambda: _list_json()[:len(_list_json()) // 2], None, True, "not valid JSON"),
    ("json-id-is-a-string", lambda: (HOSTILE / "json-entry-id-string.json").read_bytes(), None,
     True, "must be an integer, not a string"),
    ("json-family-is-a-list", lambda: _list_json(_first_entry(family=[2, 23])), None, True,
     "must be an integer, not a list"),
    ("json-chain-is-a-string", lambda: _list_json(_first_entry(kind="chain", chain="abc")), None,
     True, "must be a list of catalog ids"),
    ("json-id-1e30", lambda: _list_json(_first_entry(id=10**30)), None, True,
     "outside the range of a DWORD"),
    ("json-id-negative", lambda: _list_json(_first_entry(id=-5)), None, True,
     "outside the range of a DWORD"),
    ("json-id-boolean", lambda: _list_json(_first_entry(id=True)), None, True, "not a boolean"),
    ("json-version-nan", lambda: _list_json().replace(b'"version": 2', b'"version": NaN', 1), None,
     True, "not a float"),
    ("json-catalog-is-a-list",
     lambda: _list_json(lambda d: d["data"].__setitem__("catalog", ["64"])),
     None, True, 'data.catalog must be "64" or "32"'),
    ("json-nested-100000", lambda: b('{"a":' * 100000 + "1" + "}" * 100000), None, True,
     "nested too deeply"),
    ("json-top-level-array", lambda: b"[1, 2, 3]\n", None, True, ""),
    ("hive-signature-only", lambda: b"regf", None, True, "hive"),
    ("hive-random-bytes", lambda: (HOSTILE / "hive-garbage.dat").read_bytes(), None, True, "hive"),
    ("hive-zeros", lambda: b"regf" + bytes(8192), None, True, "hive"),
    ("text-as-hive", lambda: (HOSTILE / "text-not-a-hive.txt").read_bytes(), "hive", False,
     "is not a registry hive"),
    ("text-as-reg", lambda: (HOSTILE / "text-not-a-hive.txt").read_bytes(), "reg", False,
     "not the header"),
    ("text-as-json", lambda: (HOSTILE / "text-not-a-hive.txt").read_bytes(), "json", False,
     "not valid JSON"),
    ("text-as-firefox", lambda: (HOSTILE / "text-not-a-hive.txt").read_bytes(), "firefox", False,
     "separated fields"),
    ("text-as-netsh", lambda: (HOSTILE / "text-not-a-hive.txt").read_bytes(), "netsh", False,
     "block"),
    ("binary-as-netsh", lambda: (HOSTILE / "binary-garbage.bin").read_bytes(), "netsh", False,
     "not UTF-8 or UTF-16 text"),
    ("utf16-lone-surrogate", lambda: codecs.BOM_UTF16_LE + b"\x00\xd8\x00\xd8", None, True, ""),
]


@pytest.mark.parametrize("case", IMPORT_CASES, ids=_ids)
def test_hostile_imported_file_is_refused_and_left_alone(cli, tmp_path, case):
    """Read through --catalog (when the format is detected), and imported plain, as a dry run
    and with --json: exit 3 each time, the imported file and the catalog untouched."""
    name, make, fmt, readable, needle = case
    source = tmp_path / f"{name}.in"
    source.write_bytes(make())
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(SHIPPED)
    before = snapshot(tmp_path)
    extra = ["--format", fmt] if fmt else []
    runs = [["--catalog", source, "list"]] if readable else []
    runs += [["--catalog", catalog, "import", source, *extra, *mode]
             for mode in ([], ["--dry-run"], ["--json"])]
    for args in runs:
        with command(args), deadline(60):
            r = cli(*args)
            line = assert_refused(r, 3, needle, as_json="--json" in args)
            assert str(source) in line
            assert_untouched(before, snapshot(tmp_path), "catalog.toml")


@pytest.mark.parametrize("cut", ["half", "first-4k", "first-12k", "zeroed-after-header"])
def test_damaged_real_hive_is_refused(cli, tmp_path, real_hive, cut):
    data = {"half": real_hive[:len(real_hive) // 2], "first-4k": real_hive[:4096],
            "first-12k": real_hive[:12288],
            "zeroed-after-header": real_hive[:4096] + bytes(len(real_hive) - 4096)}[cut]
    source = tmp_path / "SYSTEM"
    source.write_bytes(data)
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(SHIPPED)
    before = snapshot(tmp_path)
    for args in (["--catalog", source, "list"], ["--catalog", catalog, "import", source]):
        assert_refused(cli(*args), 3, str(source), "hive")
    assert_untouched(before, snapshot(tmp_path), "catalog.toml")


@pytest.mark.parametrize("fmt", ["netsh", "firefox", "json"])
def test_imported_file_with_5000_digit_integer(cli, tmp_path, fmt):
    big = "9" * 5000
    data = {"netsh": b(re.sub(r"(Catalog Entry ID:\s+)\d+", lambda m: m.group(1) + big, _netsh(),
                              count=1)),
            "firefox": b(_firefox().replace(" : 2 : ", f" : {big} : ", 1)),
            "json": _list_json().replace(b'"serial": 1', b'"serial": ' + b(big), 1)}[fmt]
    source = tmp_path / f"big.{fmt}"
    source.write_bytes(data)
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(SHIPPED)
    before = snapshot(tmp_path)
    assert_refused(cli("--catalog", catalog, "import", source), 3, str(source))
    assert_untouched(before, snapshot(tmp_path), "catalog.toml")


def test_json_with_namespaces_not_a_list(cli, tmp_path):
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(SHIPPED)
    source = HOSTILE / "json-namespaces-not-a-list.json"
    before = snapshot(tmp_path)
    assert_refused(cli("--catalog", catalog, "import", source), 3, "namespaces")
    assert_untouched(before, snapshot(tmp_path), "catalog.toml")


def test_json_with_nested_flag_list(cli, tmp_path):
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(SHIPPED)
    before = snapshot(tmp_path)
    assert_refused(cli("--catalog", catalog, "import", HOSTILE / "json-flags-nested-list.json"),
                   3, "service_flags")
    assert_untouched(before, snapshot(tmp_path), "catalog.toml")


# --- 4. 50 MB names: refused with bounded memory and time (real processes) -----------------------

def run_measured(args: list[object], *, cpu_seconds: int = 60,
                 address_space: int = 2 << 30) -> tuple[Run, int, float]:
    """The console script in a subprocess with CPU and address-space limits; returns the run,
    its peak RSS in KiB (wait4) and its wall time."""
    import resource

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen([*sporder_cmd(), *map(str, args)], stdout=out, stderr=err,
                                preexec_fn=limits)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        run = Run(proc.returncode, out.read().decode("utf-8", "replace"),
                  err.read().decode("utf-8", "replace"))
    return run, usage.ru_maxrss, elapsed


def _fifty_mb_toml(path: Path) -> None:
    # A literal string: tomllib reads 50 MB of it in about half a second.
    with path.open("w", encoding="utf-8") as fh:
        fh.write(SHIPPED.replace(FIRST_NAME, "name = '" + "N" * (50 * MB) + "'", 1))


def _fifty_mb_netsh(path: Path) -> None:
    text = _netsh()
    at = text.index("Description:") + len("Description:")
    end = text.index("\n", at)
    with path.open("w", encoding="utf-8") as fh:
        fh.write(text[:at] + "  " + "N" * (50 * MB) + text[end:])


@pytest.mark.parametrize("fmt,limit", [("toml", "the limit is 255"), ("netsh", "the limit is 255")])
def test_50mb_name_is_refused_with_bounded_memory_and_time(tmp_path, fmt, limit):
    source = tmp_path / f"huge.{fmt}"
    (_fifty_mb_toml if fmt == "toml" else _fifty_mb_netsh)(source)
    size = source.stat().st_size
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(SHIPPED)
    before = snapshot(tmp_path)
    for args in (["--catalog", source, "list"], ["--catalog", catalog, "import", source]):
        r, peak_kib, seconds = run_measured(args)
        line = assert_refused(r, 3, "52428800 characters", limit)
        assert len(line) < 500
        # Refusing must not cost more than a few copies of the input, nor take long.
        assert peak_kib * 1024 < 12 * size, f"peak RSS {peak_kib} KiB for a {size}-byte file"
        assert seconds < 30, seconds
    assert_untouched(before, snapshot(tmp_path), "catalog.toml")


# --- 5. hostile arguments ------------------------------------------------------------------------

N10K = "N" * 10000
GUID35 = "{E70F1AA0-AB8B-11CF-8CA3-00805F48A19}"

# (id, args (after --catalog), exit status, needle, also with --dry-run)
ARGUMENT_CASES: list[tuple[str, list[str], int, str, bool]] = [
    ("lsp-name-10k", ["install-lsp", "--name", N10K, "--path", "h.dll", "--over", "1004"], 1,
     "10000 characters", True),
    ("lsp-path-10k", ["install-lsp", "--name", "N", "--path", "P" * 10000, "--over", "1004"], 1,
     "10000 characters", True),
    ("lsp-name-nul", ["install-lsp", "--name", "a\x00b", "--path", "h.dll", "--over", "1004"], 1,
     "NUL", True),
    ("lsp-name-empty", ["install-lsp", "--name", "", "--path", "h.dll", "--over", "1004"], 2,
     "'name' is required", True),
    ("lsp-over-11-digits", ["install-lsp", "--name", "N", "--path", "h.dll", "--over",
                            "99999999999"], 1, "99999999999", True),
    ("lsp-over-dword-max", ["install-lsp", "--name", "N", "--path", "h.dll", "--over",
                            "4294967295"], 1, "4294967295", True),
    ("lsp-over-and-over-all", ["install-lsp", "--name", "N", "--path", "h.dll", "--over", "1004",
                               "--over-all"], 2, "exactly one", True),
    ("lsp-categories-bogus", ["install-lsp", "--name", "N", "--path", "h.dll", "--over", "1004",
                              "--categories", "LSP_BOGUS"], 2, "LSP_BOGUS", True),
    ("lsp-categories-33-bits", ["install-lsp", "--name", "N", "--path", "h.dll", "--over", "1004",
                                "--categories", "0x1ffffffff"], 2, "outside the range of a DWORD",
     True),
    ("lsp-categories-negative", ["install-lsp", "--name", "N", "--path", "h.dll", "--over",
                                 "1004", "--categories", "-1"], 2, "outside the range", True),
    ("lsp-guid-short", ["install-lsp", "--name", "N", "--path", "h.dll", "--over", "1004",
                        "--provider-id", "{1234}"], 2, "GUID", True),
    ("lsp-guid-100k", ["install-lsp", "--name", "N", "--path", "h.dll", "--over", "1004",
                       "--provider-id", "G" * 100000], 2, "GUID", True),
    ("lsp-over-unknown-in-32", ["--bitness", "32", "install-lsp", "--name", "N", "--path", "h.dll",
                             "--over", "99999"], 1, "32-bit", True),
    ("install-name-10k", ["install", "--name", N10K, "--path", "h.dll", "--family", "inet",
                          "--type", "stream"], 1, "10000 characters", True),
    ("install-family-11-digits", ["install", "--name", "N", "--path", "h.dll", "--family",
                                  "99999999999", "--type", "stream"], 2,
     "outside the range of a C int", True),
    ("install-protocol-negative-huge", ["install", "--name", "N", "--path", "h.dll", "--family",
                                        "inet", "--type", "stream", "--protocol", "-99999999999"],
     2, "outside the range of a C int", True),
    ("install-message-size-negative", ["install", "--name", "N", "--path", "h.dll", "--family",
                                       "inet", "--type", "stream", "--message-size", "-1"], 2,
     "DWORD", True),
    ("install-version-11-digits", ["install", "--name", "N", "--path", "h.dll", "--family", "inet",
                                   "--type", "stream", "--version", "99999999999"], 2,
     "outside the range of a int", True),
    ("install-service-flag-bogus", ["install", "--name", "N", "--path", "h.dll", "--family", "inet",
                                    "--type", "stream", "--service-flags", "XP1_BOGUS"], 2,
     "XP1_BOGUS", True),
    ("install-service-flags-commas", ["install", "--name", "N", "--path", "h.dll", "--family",
                                      "inet", "--type", "stream", "--service-flags", ",,,"], 2,
     "service_flags", True),
    ("install-provider-flags-33-bits", ["install", "--name", "N", "--path", "h.dll", "--family",
                                        "inet", "--type", "stream", "--provider-flags",
                                        "0x1ffffffff"], 2, "DWORD", True),
    ("install-chain-beyond-dword", ["install", "--name", "N", "--path", "h.dll", "--family", "inet",
                                    "--type", "stream", "--kind", "chain", "--chain",
                                    "99999999999", "--chain", "1001"], 2, "DWORD", True),
    ("install-chain-repeats", ["install", "--name", "N", "--path", "h.dll", "--family", "inet",
                               "--type", "stream", "--kind", "chain", "--chain", "1001",
                               "--chain", "1001"], 2, "twice", True),
    ("install-chain-empty", ["install", "--name", "N", "--path", "h.dll", "--family", "inet",
                             "--type", "stream", "--kind", "chain"], 2, "0 id(s)", True),
    ("install-chain-on-layered", ["install", "--name", "N", "--path", "h.dll", "--family", "inet",
                                  "--type", "stream", "--kind", "layered", "--chain", "1001"], 2,
     "chain", True),
    ("install-no-family", ["install", "--name", "N", "--path", "h.dll"], 2, "'family' is required",
     True),
    ("install-from-text", ["install", "--from", "{text}"], 3, "not valid TOML", True),
    ("install-from-empty", ["install", "--from", "{empty}"], 3, "'protocol' is missing", True),
    ("install-from-directory", ["install", "--from", "{dir}"], 3, "is a directory", True),
    ("install-from-missing", ["install", "--from", "{missing}"], 3, "does not exist", True),
    ("move-position-11-digits", ["move", "1001", "--position", "99999999999"], 1, "outside 1..14",
     True),
    ("move-position-negative", ["move", "1001", "--position", "-5"], 1, "outside 1..14", True),
    ("move-id-11-digits", ["move", "99999999999", "--top"], 1, "99999999999", True),
    ("move-before-itself", ["move", "1001", "--before", "1001"], 1, "being moved", True),
    ("move-after-26-digits", ["move", "1001", "--after", "9" * 26], 1, "9" * 26, True),
    # an entry may be named by name, triple or GUID (issues 14, 15): "abc" names none of them
    ("move-id-names-nothing", ["move", "abc", "--top"], 1, "'abc' names no entry", True),
    ("uninstall-id-11-digits", ["uninstall", "99999999999"], 1, "99999999999", True),
    ("uninstall-id-negative", ["uninstall", "-1"], 2, "No such option", True),
    ("uninstall-guid-garbage", ["uninstall", "--provider-id", "xyz"], 2, "GUID", True),
    ("uninstall-guid-35", ["uninstall", "--provider-id", GUID35], 2, "GUID", True),
    ("reorder-duplicate", ["reorder", "1001", "1001"], 1, "duplicated 1001", True),
    ("reorder-unknown", ["reorder", "99999999999"], 1, "unknown 99999999999", True),
    ("chain-insert-unknown-lsp", ["chain-insert", "99999999999", "1001", "--position", "0"], 1,
     "99999999999", True),
    ("categories-bogus", ["categories", "set", "1001", "LSP_BOGUS"], 2, "LSP_BOGUS", True),
    ("app-category-bogus", ["app-category", "set", "x.exe", "LSP_BOGUS"], 2, "LSP_BOGUS", True),
    ("app-category-path-100k", ["app-category", "set", "x" * 100000, "LSP_SYSTEM"], 1, "32767",
     True),
    ("namespace-bogus", ["namespace", "install", "--name", "N", "--path", "p.dll", "--namespace",
                         "NS_BOGUS"], 2, "NS_BOGUS", True),
    ("namespace-name-10k", ["namespace", "install", "--name", N10K, "--path", "p.dll",
                            "--namespace", "dns"], 1, "10000 characters", True),
    ("namespace-guid-short", ["namespace", "install", "--name", "N", "--path", "p.dll",
                              "--namespace", "dns", "--provider-id", "{1-2-3}"], 2, "GUID", True),
    ("namespace-enable-guid-short", ["namespace", "enable", "{1-2-3}"], 2, "GUID", True),
    ("namespace-reorder-garbage", ["namespace", "reorder", "x"], 2, "GUID", True),
    ("reset-to-a-path", ["reset", "--to", "../../etc/passwd"], 3, "no shipped catalog", True),
    ("undo-11-steps", ["undo", "--steps", "99999999999"], 1, "no recorded write", True),
    ("undo-zero-steps", ["undo", "--steps", "0"], 2, "--steps", True),
    ("init-from-unknown", ["init", "--from", "windows-99"], 3, "windows-99", True),
    ("init-from-text", ["init", "--force", "--from", "{text}"], 3, "not valid TOML", True),
    ("init-if-serial-23-digits", ["init", "--force", "--if-serial", "9" * 23], 4, "serial", True),
    ("move-if-serial-negative", ["move", "1001", "--top", "--if-serial", "-1"], 4, "serial", True),
    ("import-format-bogus", ["import", "{text}", "--format", "bogus"], 2, "bogus", True),
    ("import-directory", ["import", "{dir}"], 3, "is a directory", True),
    ("import-missing", ["import", "{missing}"], 3, "does not exist", True),
    ("apply-text", ["apply", "{text}"], 3, "not valid TOML", True),
    ("apply-empty", ["apply", "{empty}"], 3, "expected only [[operation]] tables", True),
    ("apply-directory", ["apply", "{dir}"], 3, "is a directory", True),
    ("resolve-protocol-11-digits", ["resolve", "inet", "stream", "99999999999"], 2,
     "outside the range of a C int", False),
    ("resolve-family-10k", ["resolve", "A" * 10000, "stream", "tcp"], 2, "not a known name", False),
    ("resolve-info-11-digits", ["resolve", "inet", "stream", "tcp", "--protocol-info",
                                "99999999999"], 1, "WSAEINVAL", False),
    ("show-id-11-digits", ["show", "99999999999"], 1, "99999999999", False),
    ("show-id-names-nothing", ["show", "abc"], 1, "'abc' names no entry", False),
    ("bitness-16", ["--bitness", "16", "list"], 2, "'16'", False),
    ("lock-timeout-negative", ["--lock-timeout", "-1", "move", "1001", "--top"], 2,
     "--lock-timeout", True),
    ("log-limit-zero", ["log", "-n", "0"], 2, "0 is not in the range", False),
    ("doctor-root-missing", ["doctor", "--root", "{missing}"], 2, "is not a directory", False),
    ("export-to-directory", ["export", "--format", "toml", "-o", "{dir}"], 3, "is a directory",
     False),
    ("export-to-missing-directory", ["export", "--format", "toml", "-o", "{missing}/x.toml"], 3,
     "No such file or directory", False),
    ("wsk-version-999", ["wsk", "capture", "--version", "999.999"], 2, "999.999", False),
    ("probe-timeout-zero", ["probe", "inet", "stream", "tcp", "--timeout", "0"], 2, "--timeout",
     False),
]


def _expand(args: list[str], tmp_path: Path) -> list[str]:
    side = tmp_path / "side"
    if not side.exists():
        side.mkdir()
        (side / "text.txt").write_text("hello world\n")
        (side / "empty").write_bytes(b"")
        (side / "a-directory").mkdir()
    subst = {"{text}": str(side / "text.txt"), "{empty}": str(side / "empty"),
             "{dir}": str(side / "a-directory"), "{missing}": str(side / "missing")}
    out = []
    for a in args:
        for k, v in subst.items():
            a = a.replace(k, v)
        out.append(a)
    return out


@pytest.mark.parametrize("case", ARGUMENT_CASES, ids=_ids)
def test_hostile_argument_gets_its_exit_status_and_leaves_files_alone(cli, catalog_path, tmp_path,
                                                                      case):
    """Plain, with --json and (mutating commands) with --dry-run: the same exit status."""
    name, args, code, needle, dry = case
    args = _expand(args, tmp_path)
    before = snapshot(tmp_path)
    for extra in ([], ["--json"], *([["--dry-run"]] if dry else [])):
        with command([*args, *extra]), deadline(60):
            r = cli("--catalog", catalog_path, *args, *extra)
            line = assert_refused(r, code, needle, as_json=extra == ["--json"])
            assert len(line) < 20000
            assert_untouched(before, snapshot(tmp_path), catalog_path.name)


@pytest.mark.parametrize("how", ["cli", "apply"])
def test_move_to_position_zero_is_refused_like_any_bad_position(cli, catalog_path, how):
    if how == "cli":
        r = cli("--catalog", catalog_path, "move", "1001", "--position", "0")
    else:
        r = cli("--catalog", catalog_path, "apply", HOSTILE / "apply-move-position-zero.toml")
    assert_refused(r, 1, "Position 0")


@pytest.mark.parametrize("how", ["cli", "apply"])
def test_namespace_version_out_of_range_is_a_usage_error(cli, catalog_path, how):
    before = snapshot(catalog_path.parent)
    if how == "cli":
        r = cli("--catalog", catalog_path, "namespace", "install", "--name", "N", "--path",
                "p.dll", "--namespace", "dns", "--version", "-1")
    else:
        r = cli("--catalog", catalog_path, "apply",
                HOSTILE / "apply-namespace-version-negative.toml")
    line = assert_refused(r, 2, "version")
    assert str(catalog_path) not in line
    assert_untouched(before, snapshot(catalog_path.parent), catalog_path.name)


def test_lock_timeout_nan_is_a_usage_error(cli, catalog_path):
    before = snapshot(catalog_path.parent)
    r = cli("--catalog", catalog_path, "--lock-timeout", "nan", "move", "1001", "--bottom")
    assert_refused(r, 2, "lock-timeout")
    assert_untouched(before, snapshot(catalog_path.parent), catalog_path.name)


def test_empty_catalog_path_is_a_usage_error(cli, isolation):
    default = isolation / "data" / "sporder" / "catalog.toml"
    r = cli("--catalog", "", "move", "1001", "--bottom")
    assert not default.exists(), "the per-user default catalog was written"
    assert_refused(r, 2, "--catalog")


# --- 6. hostile apply files -----------------------------------------------------------------------

APPLY_CASES: list[tuple[str, int, str]] = [
    ("apply-operation-not-a-table.toml", 2, "an operation must be a table"),
    ("apply-extra-top-level-key.toml", 3, "expected only [[operation]] tables"),
    ("apply-command-not-a-string.toml", 2, "unknown command 5"),
    ("apply-unknown-command.toml", 2, "unknown command 'format-disk'"),
    ("apply-unknown-key.toml", 2, "unknown key 'force'"),
    ("apply-over-not-integers.toml", 2, "'over' must be a list of entry ids, triples"),
    ("apply-id-boolean.toml", 2, "'id' must be an entry id, a triple"),
    ("apply-flag-not-boolean.toml", 2, "'top' must be true or false"),
    ("apply-bitness-bogus-integer.toml", 2, "'bitness' must be \"64\", \"32\" or \"both\""),
    ("apply-family-list.toml", 2, "address family"),
    ("apply-over-huge-id.toml", 1, "99999999999"),
    ("apply-categories-bogus.toml", 2, "LSP_BOGUS"),
    ("apply-second-operation-refused.toml", 1, "operation #2"),
    ("apply-reset-to-a-path.toml", 3, "no shipped catalog"),
    ("apply-from-key.toml", 2, "'from' is resolved by the command line"),
]


@pytest.mark.parametrize("case", APPLY_CASES, ids=_ids)
def test_hostile_apply_file_is_refused_as_one_transaction(cli, catalog_path, case):
    name, code, needle = case
    before = snapshot(catalog_path.parent)
    for extra in ([], ["--dry-run"], ["--json"]):
        with command(["apply", name, *extra]):
            r = cli("--catalog", catalog_path, "apply", HOSTILE / name, *extra)
            line = assert_refused(r, code, needle, as_json=extra == ["--json"])
            assert str(HOSTILE / name) in line
            assert_untouched(before, snapshot(catalog_path.parent), catalog_path.name)


@pytest.mark.parametrize("size", [5000])
def test_apply_file_with_many_operations_is_one_write(cli, catalog_path, tmp_path, size):
    ops = tmp_path / "many.toml"
    ops.write_text(OK_APPLY.replace("bottom", "top") + OK_APPLY * (size - 1))
    with deadline(60):
        r = cli("--catalog", catalog_path, "apply", ops, "--json")
    assert r.code == 0, r.err
    assert r.json["data"]["operations"] == size
    assert len(cli("--catalog", catalog_path, "log", "--json").json["data"]["records"]) == 1


@pytest.mark.parametrize("name", ["apply-categories-nested-list.toml", "apply-categories-date.toml",
                                  "apply-entry-flag-float.toml"])
def test_apply_with_non_string_flag_item(cli, catalog_path, name):
    before = snapshot(catalog_path.parent)
    assert_refused(cli("--catalog", catalog_path, "apply", HOSTILE / name), 2, "operation #1")
    assert_untouched(before, snapshot(catalog_path.parent), catalog_path.name)


def test_apply_with_entries_that_are_not_tables(cli, catalog_path):
    before = snapshot(catalog_path.parent)
    assert_refused(cli("--catalog", catalog_path, "apply",
                       HOSTILE / "apply-entries-not-tables.toml"), 2, "entries")
    assert_untouched(before, snapshot(catalog_path.parent), catalog_path.name)


def test_install_from_file_with_only_a_top_level_provider_id(cli, catalog_path, tmp_path):
    source = tmp_path / "entries.toml"
    source.write_text('provider_id = "{11111111-2222-3333-4444-555555555555}"\n\n'
                      '[[protocol]]\nname = "Hostile"\npath = "hostile.dll"\n'
                      'family = "AF_INET"\nsocket_type = "SOCK_STREAM"\n'
                      'protocol = "IPPROTO_TCP"\n')
    r = cli("--catalog", catalog_path, "install", "--from", source, "--json")
    assert r.code == 0, r.err
    assert r.json["data"]["provider_id"] == "{11111111-2222-3333-4444-555555555555}"


@pytest.mark.parametrize("how", ["apply-nested", "apply-5000-digits", "install-from-nested",
                                 "install-from-5000-digits"])
def test_deep_or_huge_operations_file(cli, catalog_path, tmp_path, how):
    source = tmp_path / "ops.toml"
    if how.endswith("nested"):
        source.write_text("a = " + "[" * 100000 + "]" * 100000 + "\n")
    else:
        source.write_text('[[operation]]\ncommand = "move"\nid = ' + "9" * 5000 + "\ntop = true\n")
    before = snapshot(tmp_path)
    args = ["apply", source] if how.startswith("apply") else ["install", "--from", source]
    assert_refused(cli("--catalog", catalog_path, *args), 3, str(source))
    assert_untouched(before, snapshot(tmp_path), catalog_path.name)


# --- 7. hostile history: undo with damaged saved states -------------------------------------------

def _written_once(cli, catalog: Path) -> Path:
    assert cli("--catalog", catalog, "move", "1001", "--bottom").code == 0
    state = catalog.with_name(catalog.name + ".history") / "1.toml"
    assert state.is_file()
    return state


# A saved state whose bytes are not the ones its history record's digest describes is refused
# before it is parsed (issue 12, item 1); so is one that is not a regular file (item 13).
MISMATCH = "is not the one its history record describes"
UNDO_CASES: list[tuple[str, Callable[[Path], None], int, str]] = [
    ("state-is-garbage", lambda s: s.write_bytes((HOSTILE / "binary-garbage.bin").read_bytes()), 1,
     MISMATCH),
    ("state-is-truncated", lambda s: s.write_bytes(s.read_bytes()[:500]), 1, MISMATCH),
    ("state-is-nested-100000", lambda s: s.write_text("a = " + "[" * 100000 + "]" * 100000), 1,
     MISMATCH),
    ("state-is-netsh-text", lambda s: shutil.copy(DATA / "netsh" / "win10-1607-x64-lsp.txt", s), 1,
     MISMATCH),
    ("state-is-missing", lambda s: s.unlink(), 1, "no longer kept"),
    ("state-is-a-directory", lambda s: (s.unlink(), s.mkdir()), 1, "is not a regular file"),
    ("state-is-a-dangling-link", lambda s: (s.unlink(), s.symlink_to(s.parent / "nowhere")), 1,
     "is not a regular file"),
    ("history-dir-is-a-file", lambda s: (shutil.rmtree(s.parent), s.parent.write_text("x")), 3,
     "is not a directory"),
]


@pytest.mark.parametrize("case", UNDO_CASES, ids=_ids)
def test_undo_with_a_damaged_saved_state(cli, catalog_path, case):
    name, damage, code, needle = case
    damage(_written_once(cli, catalog_path))
    before = snapshot(catalog_path.parent)
    for extra in (["--dry-run"], []):
        with command(["undo", *extra]):
            r = cli("--catalog", catalog_path, "undo", *extra)
            assert_refused(r, code, needle)
            assert_untouched(before, snapshot(catalog_path.parent), catalog_path.name)


@pytest.mark.parametrize("target,needle", [("2", "undo_target 2 is not below serial_after 2"),
                                           ("4294967295", "is not below serial_after")])
def test_undo_record_pointing_nowhere(cli, catalog_path, target, needle):
    """A record whose undo target is not below its own serial is refused on load (issue 12,
    item 9): such a history made undo walk in a circle."""
    _written_once(cli, catalog_path)
    text = catalog_path.read_text()
    catalog_path.write_text(re.sub(r"^undo_target = \d+$", f"undo_target = {target}", text,
                                   flags=re.M))
    before = snapshot(catalog_path.parent)
    assert_refused(cli("--catalog", catalog_path, "undo", "--steps", "5"), 3, needle)
    assert_untouched(before, snapshot(catalog_path.parent), catalog_path.name)


# --- 8. catalog paths: directories, symlinks, impossible paths ----------------------------------

ALL_WRITES = [["move", "1001", "--bottom"], ["import", str(OTHER_CATALOG)], ["undo"],
              ["init", "--force"], ["reset"], ["doctor", "--fix"],
              ["install-lsp", "--name", "N", "--path", "h.dll", "--over", "1004"]]
# the writes that change the shipped catalog (reset and doctor --fix are no-ops on it, undo
# has nothing to undo): they reach the point where files are written
CHANGING_WRITES = [["move", "1001", "--bottom"], ["import", str(OTHER_CATALOG)],
                   ["init", "--force"],
                   ["install-lsp", "--name", "N", "--path", "h.dll", "--over", "1004"]]


def test_catalog_path_is_a_directory(cli, tmp_path):
    target = tmp_path / "catalog.toml"
    target.mkdir()
    before = snapshot(tmp_path)
    for args in [["list"], ["list", "--json"], ["doctor"], *ALL_WRITES]:
        assert_refused(cli("--catalog", target, *args), 3, "is a directory",
                       as_json="--json" in args)
    assert_untouched(before, snapshot(tmp_path))


def test_lock_path_is_a_directory(cli, catalog_path):
    catalog_path.with_name(catalog_path.name + ".lock").mkdir()
    before = snapshot(catalog_path.parent)
    for args in ALL_WRITES:
        assert_refused(cli("--catalog", catalog_path, *args), 3, "cannot create lock file")
    assert_untouched(before, snapshot(catalog_path.parent))


def test_history_path_is_a_file(cli, catalog_path):
    catalog_path.with_name(catalog_path.name + ".history").write_text("not a directory\n")
    before = snapshot(catalog_path.parent)
    assert_refused(cli("--catalog", catalog_path, "move", "1001", "--bottom"), 3,
                   "is not a directory")
    assert_untouched(before, snapshot(catalog_path.parent), catalog_path.name)


def test_parent_of_catalog_is_a_file(cli, catalog_path):
    target = catalog_path / "inner.toml"
    before = snapshot(catalog_path.parent)
    assert_refused(cli("--catalog", target, "list"), 3, "Not a directory")
    assert_refused(cli("--catalog", target, "init"), 3, str(catalog_path))
    assert_untouched(before, snapshot(catalog_path.parent))


@pytest.fixture
def linked(tmp_path: Path) -> tuple[Path, Path]:
    """A catalog in real/ and a symlink to it from links/."""
    (tmp_path / "real").mkdir()
    (tmp_path / "links").mkdir()
    target = tmp_path / "real" / "catalog.toml"
    target.write_text(SHIPPED)
    link = tmp_path / "links" / "catalog.toml"
    link.symlink_to(target)
    return link, target


def test_symlink_to_a_valid_catalog_reads_like_the_catalog(cli, linked):
    link, target = linked
    before = snapshot(link.parent.parent)
    for args in (["list", "--json"], ["show", "1004", "--json"], ["doctor", "--json"],
                 ["resolve", "inet", "stream", "tcp", "--json"], ["log", "--json"]):
        via_link, direct = cli("--catalog", link, *args), cli("--catalog", target, *args)
        assert via_link.code == direct.code == 0, via_link.err
        assert via_link.json == direct.json
    assert_untouched(before, snapshot(link.parent.parent))


def test_refused_write_through_symlink_leaves_link_and_target(cli, linked):
    link, _ = linked
    before = snapshot(link.parent.parent)
    assert_refused(cli("--catalog", link, "move", "99999999999", "--top"), 1, "99999999999")
    assert_refused(cli("--catalog", link, "apply", HOSTILE / "apply-unknown-key.toml"), 2, "force")
    assert_refused(cli("--catalog", link, "init"), 1, "already exists")
    # The lock of a catalog reached through a link sits beside the real file (one catalog, one
    # lock).
    assert_untouched(before, snapshot(link.parent.parent), "real/catalog.toml")


def test_write_through_symlink_updates_the_target_and_keeps_the_link(cli, linked):
    link, target = linked
    r = cli("--catalog", link, "move", "1001", "--bottom")
    assert r.code == 0, r.err
    assert link.is_symlink(), "the symlink was replaced by a regular file"
    assert target.read_text() != SHIPPED, "the real catalog was not updated"
    assert cli("--catalog", target, "list", "--json").json["data"]["entries"][-1]["id"] == 1001


def test_dangling_symlink(cli, tmp_path):
    link = tmp_path / "catalog.toml"
    link.symlink_to(tmp_path / "nowhere" / "catalog.toml")
    before = snapshot(tmp_path)
    for args in [["list"], ["list", "--json"], ["move", "1001", "--bottom"],
                 ["import", str(OTHER_CATALOG)], ["undo"], ["reset"]]:
        assert_refused(cli("--catalog", link, *args), 3, "does not exist",
                       as_json="--json" in args)
    assert link.is_symlink()
    assert_untouched(before, snapshot(tmp_path), "catalog.toml")


def test_symlink_loop(cli, tmp_path):
    one, two = tmp_path / "one.toml", tmp_path / "two.toml"
    one.symlink_to(two)
    two.symlink_to(one)
    before = snapshot(tmp_path)
    # init without --force must not clobber the loop either
    for args in [["list"], ["move", "1001", "--bottom"], ["import", str(OTHER_CATALOG)],
                 ["init"]]:
        assert_refused(cli("--catalog", one, *args), 3, "Too many levels of symbolic links")
    assert_untouched(before, snapshot(tmp_path), "one.toml")


def test_path_component_too_long_for_reads(cli, tmp_path):
    target = tmp_path / ("x" * 300)
    assert_refused(cli("--catalog", target, "list"), 3, "File name too long")


@pytest.mark.parametrize("args", [["move", "1001", "--bottom", "--dry-run"], ["init"],
                                  ["import", str(OTHER_CATALOG)]], ids=lambda a: a[0])
def test_path_component_too_long_for_writes(cli, tmp_path, args):
    target = tmp_path / ("x" * 300)
    before = snapshot(tmp_path)
    assert_refused(cli("--catalog", target, *args), 3, "File name too long")
    assert_untouched(before, snapshot(tmp_path))


# --- 9. permissions: a real unprivileged process --------------------------------------------------

@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A directory user 65534 can reach (pytest's own tmp dirs are mode 0700 under root)."""
    path = Path(tempfile.mkdtemp(prefix="sporder-hostile-", dir="/tmp" if os.path.isdir("/tmp")
                                 else None))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        for dirpath, dirnames, _ in os.walk(path):
            for d in dirnames:
                os.chmod(Path(dirpath, d), 0o755)
        shutil.rmtree(path, ignore_errors=True)


def package_for_nobody(world: Path) -> Path:
    """A copy of the sporder_py package, shipped catalogs included (where the wheel puts them:
    ``sporder_py/catalogs``), in ``world/lib``, readable by uid 65534.

    The package this test imported may live under a directory only its owner can enter (a clone
    under a mode-0700 home, a venv under /root); the unprivileged child could then neither
    import the command modules it loads lazily nor read the shipped catalogs that ``init`` and
    ``reset`` start from, and would fail for that reason instead of the one under test."""
    import sporder_py
    lib = world / "lib"
    if not lib.exists():
        package = lib / "sporder_py"
        shutil.copytree(Path(sporder_py.__file__).resolve().parent, package)
        if not (package / "catalogs").is_dir():     # source checkout: catalogs/ at the root
            shutil.copytree(CATALOGS, package / "catalogs")
        os.chmod(lib, 0o755)
        for dirpath, dirnames, filenames in os.walk(lib):
            for d in dirnames:
                os.chmod(Path(dirpath, d), 0o755)
            for f in filenames:
                os.chmod(Path(dirpath, f), 0o644)
    return lib


def for_nobody(args: list[object], lib: Path | None) -> list[object]:
    """``args`` with the shipped catalog files they name replaced by their copies in ``lib``."""
    if lib is None:
        return args
    copies = {str(CATALOGS / p.name): str(lib / "sporder_py" / "catalogs" / p.name)
              for p in CATALOGS.glob("*.toml")}
    return [copies.get(str(a), a) for a in args]


def run_forked(argv: list[object], *, drop: Path | None = None, fsize: int | None = None,
               timeout: float = 60) -> Run:
    """``sporder ARGV`` in a forked child of this interpreter; with ``drop`` (a directory from
    ``package_for_nobody``) the child first re-imports sporder_py from that copy, then runs as
    uid/gid 65534.  A fork, not a new interpreter: the interpreter and the standard library may
    be out of that user's reach too (they are loaded before forking)."""
    import resource
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 99
        try:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            sys.argv = ["sporder", *map(str, argv)]
            if fsize is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
            entry = main
            if drop is not None:
                for name in [m for m in sys.modules
                             if m == "sporder_py" or m.startswith("sporder_py.")]:
                    del sys.modules[name]
                sys.path.insert(0, str(drop))
                app = importlib.import_module("sporder_py.cli.app")
                assert Path(app.__file__).is_relative_to(drop), app.__file__
                app.all_commands()
                for module in PRELOADED:
                    importlib.import_module(module)
                entry = app.main
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            code = entry([str(a) for a in argv])
        except BaseException:  # noqa: BLE001 - reported to the parent as text
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    end = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > end:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"sporder {argv} did not finish within {timeout} s")
        time.sleep(0.01)
    out.seek(0)
    err.seek(0)
    return Run(os.waitstatus_to_exitcode(status), out.read().decode("utf-8", "replace"),
               err.read().decode("utf-8", "replace"))


def need_unprivileged(world: Path) -> Path | None:
    """When the child must drop privileges (root ignores file modes): the package copy it runs
    (``package_for_nobody``), else None.  Skips when a child cannot become uid/gid 65534 or
    cannot reach ``world`` as that user."""
    if os.getuid() != 0:
        return None
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            os.listdir(world)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        pytest.skip(f"cannot drop privileges to uid/gid 65534 and reach {world} (root ignores "
                    "file modes, so this case cannot be exercised)")
    return package_for_nobody(world)


def _ro_dir(world: Path, *, lock: bool = False, history: bool = False) -> Path:
    d = world / "ro"
    d.mkdir()
    (d / "catalog.toml").write_text(SHIPPED)
    if lock:
        (d / "catalog.toml.lock").touch()
        os.chmod(d / "catalog.toml.lock", 0o666)
    if history:
        (d / "catalog.toml.history").mkdir()
        os.chmod(d / "catalog.toml.history", 0o777)
    os.chmod(d, 0o555)
    return d


def test_unwritable_directory_refuses_writes_and_allows_reads(world_dir):
    drop = need_unprivileged(world_dir)
    d = _ro_dir(world_dir)
    catalog = d / "catalog.toml"
    before = snapshot(d)
    r = run_forked(["--catalog", catalog, "list", "--json"], drop=drop)
    assert r.code == 0, r.err
    for args in ALL_WRITES:
        assert_refused(run_forked(["--catalog", catalog, *for_nobody(args, drop)], drop=drop), 3,
                       "cannot create lock file", "Permission denied")
    assert snapshot(d) == before


def test_read_only_lock_directory_with_existing_lock(world_dir):
    drop = need_unprivileged(world_dir)
    d = _ro_dir(world_dir, lock=True)
    before = snapshot(d)
    for args in CHANGING_WRITES:
        assert_refused(run_forked(["--catalog", d / "catalog.toml", *for_nobody(args, drop)],
                                  drop=drop), 3, "Permission denied")
    assert snapshot(d) == before


def _world_catalog(world_dir, mode):
    """A world-writable directory holding a copy of the shipped catalog with ``mode``."""
    d = world_dir / "d"
    d.mkdir()
    os.chmod(d, 0o777)
    (d / "catalog.toml").write_text(SHIPPED)
    os.chmod(d / "catalog.toml", mode)
    return d


def test_read_only_lock_file(world_dir):
    drop = need_unprivileged(world_dir)
    d = _world_catalog(world_dir, 0o666)
    (d / "catalog.toml.lock").touch()
    os.chmod(d / "catalog.toml.lock", 0o444)
    before = snapshot(d)
    assert_refused(run_forked(["--catalog", d / "catalog.toml", "move", "1001", "--bottom"],
                              drop=drop), 3, "lock file", "Permission denied")
    assert snapshot(d) == before


def test_unreadable_catalog(world_dir):
    drop = need_unprivileged(world_dir)
    d = _world_catalog(world_dir, 0o000)
    before = snapshot(d)
    for args in (["list"], ["resolve", "inet", "stream", "tcp"], ["move", "1001", "--bottom"],
                 ["undo"], ["init", "--force"]):
        assert_refused(run_forked(["--catalog", d / "catalog.toml", *args], drop=drop), 3,
                       "cannot read catalog file", "Permission denied")
    assert_untouched(before, snapshot(d), "catalog.toml")


def test_refused_write_in_read_only_directory_leaves_no_history_state(world_dir):
    drop = need_unprivileged(world_dir)
    d = _ro_dir(world_dir, lock=True, history=True)
    before = snapshot(d)
    r = run_forked(["--catalog", d / "catalog.toml", "move", "1001", "--bottom"], drop=drop)
    assert_refused(r, 3, "could not write catalog file", "Permission denied")
    assert_untouched(before, snapshot(d), "catalog.toml")


@pytest.mark.parametrize("mode", [0o600, 0o640])
def test_write_keeps_the_catalog_permissions(cli, catalog_path, mode):
    os.chmod(catalog_path, mode)
    assert cli("--catalog", catalog_path, "move", "1001", "--bottom").code == 0
    assert stat.S_IMODE(catalog_path.stat().st_mode) == mode


# --- 10. full disks: RLIMIT_FSIZE (EFBIG) and a 64 KiB tmpfs (ENOSPC) -----------------------------

def run_with_fsize(args: list[object], limit: int) -> Run:
    """The console script in a subprocess whose writes fail with EFBIG beyond ``limit`` bytes."""
    import resource

    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([*sporder_cmd(), *map(str, args)], capture_output=True, timeout=60,
                          preexec_fn=preexec, env=env)
    return Run(proc.returncode, proc.stdout.decode("utf-8", "replace"),
               proc.stderr.decode("utf-8", "replace"))


@pytest.mark.parametrize("args", [["move", "1001", "--bottom"], ["import", str(OTHER_CATALOG)],
                                  ["init", "--force"]], ids=lambda a: a[0])
def test_efbig_on_the_first_byte_leaves_everything(tmp_path, args):
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(SHIPPED)
    before = snapshot(tmp_path)
    r = run_with_fsize(["--catalog", catalog, *args], 1000)
    assert_refused(r, 3, "File too large", "left as it was")
    assert_untouched(before, snapshot(tmp_path), "catalog.toml")
    assert not list(tmp_path.rglob("*.tmp"))


def _canonical_catalog_with_states(cli, catalog: Path, states: int) -> None:
    """A catalog at serial ``states + 1`` whose history dir keeps ``states`` saved states."""
    catalog.write_text(SHIPPED)
    assert cli("--catalog", catalog, "move", "1001", "--bottom").code == 0
    hdir = catalog.with_name(catalog.name + ".history")
    state = (hdir / "1.toml").read_bytes()
    catalog.write_text(re.sub(r"^serial = 2$", f"serial = {states + 1}", catalog.read_text(),
                              count=1, flags=re.M))
    for serial in range(2, states + 1):
        (hdir / f"{serial}.toml").write_bytes(state)


def test_efbig_on_the_catalog_write_keeps_every_undo_state(cli, tmp_path):
    catalog = tmp_path / "catalog.toml"
    _canonical_catalog_with_states(cli, catalog, 50)
    before = snapshot(tmp_path)
    # The saved state (the old bytes) fits under the limit; the new catalog (one more history
    # record) does not.
    r = run_with_fsize(["--catalog", catalog, "move", "1001", "--top"],
                       catalog.stat().st_size + 16)
    assert_refused(r, 3, "File too large")
    assert_untouched(before, snapshot(tmp_path), "catalog.toml")


PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# What the saved state of the shipped catalog occupies on a tmpfs (whole pages).
STATE_BYTES = -(-len(SHIPPED.encode()) // PAGE) * PAGE


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs mounted on a fresh directory (skipped when mounting is not permitted)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    size = max(64 * 1024, 16 * PAGE)
    try:
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                               str(mnt)], capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot run mount: {exc}")
    if proc.returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted here: "
                    + proc.stderr.decode(errors="replace").strip())
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True, timeout=30).returncode:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)


def _fill(fs: Path, leave: int) -> None:
    st = os.statvfs(fs)
    free = st.f_bavail * st.f_frsize
    assert free > leave, (free, leave)
    (fs / "filler").write_bytes(b"\0" * (free - leave))


def test_full_disk_before_the_saved_state_leaves_everything(cli, tiny_fs):
    catalog = tiny_fs / "catalog.toml"
    catalog.write_text(SHIPPED)
    _fill(tiny_fs, STATE_BYTES - PAGE)        # no room for the saved state
    before = snapshot(tiny_fs)
    for args in CHANGING_WRITES:
        assert_refused(cli("--catalog", catalog, *args), 3, "No space left on device")
    assert_untouched(before, snapshot(tiny_fs), "catalog.toml")
    (tiny_fs / "filler").unlink()
    assert cli("--catalog", catalog, "move", "1001", "--bottom").code == 0


def test_full_disk_at_the_catalog_write_leaves_no_saved_state(cli, tiny_fs):
    catalog = tiny_fs / "catalog.toml"
    catalog.write_text(SHIPPED)
    _fill(tiny_fs, STATE_BYTES)               # room for the saved state, none for the new catalog
    before = snapshot(tiny_fs)
    assert_refused(cli("--catalog", catalog, "move", "1001", "--bottom"), 3,
                   "No space left on device")
    assert_untouched(before, snapshot(tiny_fs), "catalog.toml")


# --- 11. init --force and reset cannot bypass a hostile file -------------------------------------

@pytest.mark.parametrize("content", ["garbage", "nested", "netsh"])
@pytest.mark.parametrize("args", [["init", "--force"], ["reset"], ["import", str(OTHER_CATALOG)]],
                         ids=lambda a: a[0])
def test_recovery_commands_refuse_a_hostile_catalog(cli, tmp_path, content, args):
    data = {"garbage": (HOSTILE / "binary-garbage.bin").read_bytes(),
            "nested": b("a = " + "[" * 100000 + "]" * 100000 + "\n"),
            "netsh": (DATA / "netsh" / "win10-1607-x64-lsp.txt").read_bytes()}[content]
    target = tmp_path / "catalog.toml"
    target.write_bytes(data)
    before = snapshot(tmp_path)
    line = assert_refused(cli("--catalog", target, *args), 3, str(target))
    if content == "netsh":
        assert "is netsh text, not a sporder catalog file" in line
    assert_untouched(before, snapshot(tmp_path), "catalog.toml")
