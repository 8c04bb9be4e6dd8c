"""Mutating commands through the CLI (issue 3): the Windows 11 scenario, every refusal with its exit
code, message and an untouched file, --dry-run, --if-serial, history, undo and apply."""

import hashlib
import os

import pytest

from conftest import load_shipped
from sporder_py.formats import catalog_toml


def state(path):
    return hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns


def loaded(path):
    return catalog_toml.loads(path.read_text(), str(path))[0]


@pytest.fixture
def cat(cli, tmp_path):
    path = tmp_path / "c.toml"
    assert cli("--catalog", path, "init").code == 0

    def run(*args):
        return cli("--catalog", path, *args)
    run.path = path
    return run


def test_issue3_scenario_on_windows_11_and_undo_twice(cat):
    shipped = load_shipped("windows-11")
    r = cat("install-lsp", "--name", "Inspector", "--path", r"C:\lsp\insp.dll", "--over", "1004",
            "--over", "1005", "--categories", "LSP_INSPECTOR", "--json")
    assert r.code == 0, r.err
    inspector = r.json["data"]["lsp_id"]
    r = cat("install-lsp", "--name", "Crypto", "--path", r"C:\lsp\crypto.dll", "--over", "1001",
            "--categories", "LSP_CRYPTO_COMPRESS", "--json")
    crypto = r.json["data"]["lsp_id"]
    after_two = loaded(cat.path)
    # chain-insert --auto of the crypto LSP into the inspector's chains puts it below the inspector
    r = cat("chain-insert", crypto, "--all-over", inspector, "--auto", "--json")
    assert r.code == 0, r.err
    chains = [e.chain for e in loaded(cat.path).catalog("64").protocols if e.kind == "chain"
              and e.chain[0] == inspector]
    assert chains and all(c[:2] == (inspector, crypto) for c in chains)
    # --over-all stacks a third LSP on top of what each triple resolves to today
    r = cat("install-lsp", "--name", "Third", "--path", r"C:\lsp\third.dll", "--over-all", "--json")
    third = r.json["data"]["lsp_id"]
    res = cat("resolve", "AF_INET", "SOCK_STREAM", "IPPROTO_TCP", "--json").json["data"]
    assert [x["id"] for x in res["layers"]][:3] == [third, inspector, crypto]
    assert res["layers"][-1]["id"] == 1004
    # uninstalling the inspector keeps the crypto layer covering TCP/IPv4, nothing dangling
    assert cat("uninstall", inspector).code == 0
    res = cat("resolve", "AF_INET", "SOCK_STREAM", "IPPROTO_TCP", "--json").json["data"]
    assert crypto in [x["id"] for x in res["layers"]] and res["layers"][-1]["id"] == 1004
    doctor = cat("doctor", "--json")
    assert doctor.code == 0 and doctor.json["data"]["errors"] == 0
    # undo twice: the uninstall and the third LSP are gone; undo again: the chain-insert too,
    # which leaves exactly the state after the two installs; only serial and history move on
    assert cat("undo").code == 0 and cat("undo").code == 0
    res = cat("resolve", "AF_INET", "SOCK_STREAM", "IPPROTO_TCP", "--json").json["data"]
    assert [x["id"] for x in res["layers"]] == [inspector, crypto, 1004]
    assert cat("undo").code == 0
    back = loaded(cat.path)
    assert back.catalogs == after_two.catalogs and back.next_entry_id == after_two.next_entry_id
    assert cat("undo", "--steps", "2").code == 0
    final = loaded(cat.path)
    assert final.catalogs == shipped.catalogs and final.next_entry_id == shipped.next_entry_id
    assert final.serial > back.serial and len(final.history) == final.serial   # init wrote #1


REFUSALS = [
    (["install", "--name", "dup", "--path", "x.dll", "--family", "inet", "--type", "stream",
      "--protocol", "tcp", "--provider-id", "{E70F1AA0-AB8B-11CF-8CA3-00805F48A192}"], 1, "11003"),
    (["install", "--name", "N" * 256, "--path", "x.dll", "--family", "inet", "--type", "stream"],
     1, "255"),
    (["install", "--name", "n", "--path", "p" * 260, "--family", "inet", "--type", "stream"],
     1, "259"),
    (["install-lsp", "--name", "L", "--path", "l.dll", "--over", "4242"], 1, "4242"),
    (["reorder", "1001", "1002"], 1, "missing"),
    (["reorder", *map(str, range(1001, 1015)), "1001"], 1, "1001"),
    (["reorder", *map(str, range(1001, 1014)), "9999"], 1, "9999"),
    (["move", "4242", "--top"], 1, "4242"),
    (["uninstall", "4242"], 1, "10022"),
    (["uninstall", "1004"], 0, ""),                 # a base nothing depends on may go
    (["chain-insert", "1004", "1001", "--position", "0"], 1, "1004"),
    (["namespace", "install", "--name", "dup", "--path", "x.dll", "--namespace", "NS_DNS",
      "--provider-id", "{22059D40-7E9E-11CF-AE5A-00AA00A7112B}"], 1, "11003"),
    (["namespace", "uninstall", "{00000000-0000-0000-0000-000000000001}"], 1, "10022"),
    (["namespace", "reorder", "{22059D40-7E9E-11CF-AE5A-00AA00A7112B}"], 1, "missing"),
    (["categories", "set", "1001", "LSP_INSPECTOR"], 1, "10022"),
    (["app-category", "remove", r"C:\nope.exe"], 1, "10108"),
    (["reset", "--to", "windows-99"], 3, "windows-99"),
    (["install", "--name", "n", "--path", "x.dll", "--family", "inet", "--type", "stream",
      "--provider-id", "not-a-guid"], 2, "GUID"),
    (["install", "--from", "/nonexistent/entries.toml"], 3, "does not exist"),
    (["apply", "/nonexistent/ops.toml"], 3, "does not exist"),
]


@pytest.mark.parametrize("args,code,text", REFUSALS, ids=[" ".join(a[:2]) + f"-{i}"
                                                          for i, (a, _, _) in enumerate(REFUSALS)])
def test_refusals_exit_code_message_and_untouched_file(cat, args, code, text):
    before = state(cat.path)
    r = cat(*args)
    assert r.code == code, r.err
    if code:
        assert text in r.err and "Traceback" not in r.err
        assert state(cat.path) == before
        j = cat(*args, "--json")
        assert j.code == code and j.json["ok"] is False and state(cat.path) == before


def test_uninstall_base_with_dependants_is_refused_unless_cascade(cat):
    cat("install-lsp", "--name", "L", "--path", "l.dll", "--over", "1004")
    before = state(cat.path)
    r = cat("uninstall", "1004")
    assert r.code == 1 and "1016" in r.err and state(cat.path) == before
    assert cat("uninstall", "1004", "--cascade").code == 0
    assert 1004 not in loaded(cat.path).catalog("64")


@pytest.mark.parametrize("args", [
    ["install-lsp", "--name", "L", "--path", "l.dll", "--over-all"],
    ["move", "1012", "--top"], ["reorder", *map(str, reversed(range(1001, 1015)))],
    ["uninstall", "1004"], ["reset"],
    ["namespace", "disable", "{22059D40-7E9E-11CF-AE5A-00AA00A7112B}"],
    ["app-category", "set", r"C:\app.exe", "LSP_SYSTEM"], ["undo"],
    ["install-lsp", "--name", "L", "--path", "l.dll", "--over", "4242"],
])
def test_dry_run_same_exit_code_and_byte_identical_file(cat, args):
    cat("move", "1014", "--top")            # something to undo, and a non-default state
    before = state(cat.path)
    dry = cat(*args, "--dry-run", "--json")
    assert state(cat.path) == before
    if dry.code == 0:
        assert dry.json["data"]["dry_run"] is True
    real = cat(*args)
    assert real.code == dry.code


def test_if_serial_mismatch_exits_4(cat):
    before = state(cat.path)
    r = cat("move", "1012", "--top", "--if-serial", "7")
    assert r.code == 4 and "serial is 1" in r.err and state(cat.path) == before
    assert cat("move", "1012", "--top", "--if-serial", "1").code == 0


def test_install_exist_ok_is_a_no_op_for_ci_reruns(cat):
    args = ["install", "--name", "Vendor", "--path", r"C:\v.dll", "--family", "inet", "--type",
            "stream", "--protocol", "tcp",
            "--provider-id", "{11111111-2222-3333-4444-555555555555}"]
    assert cat(*args).code == 0
    before = state(cat.path)
    again = cat(*args, "--exist-ok", "--json")
    assert again.code == 0 and again.json["data"]["changes"] == [] and state(cat.path) == before
    assert cat(*args).code == 1


def test_log_records_every_write_and_undo_itself_is_a_write(cat):
    cat("move", "1012", "--top")
    cat("move", "1013", "--top")
    log = cat("log", "--json").json["data"]
    assert [r["serial_after"] for r in log["records"]] == [1, 2, 3]
    last_command = log["records"][-1]["command"]
    assert last_command.startswith("sporder ") and "move" in last_command
    cat("undo")
    log = cat("log", "--json").json["data"]
    assert len(log["records"]) == 4 and log["records"][-1]["summary"].startswith("undo")
    assert cat("undo", "--steps", "9").code == 1


def test_apply_is_all_or_nothing_with_one_record(cat, tmp_path):
    good = tmp_path / "ops.toml"
    good.write_text('''
[[operation]]
command = "install-lsp"
name = "Batch LSP"
path = 'C:\\b.dll'
over = [1004, 1005]
categories = ["LSP_INSPECTOR"]

[[operation]]
command = "move"
id = 1012
top = true

[[operation]]
command = "namespace-disable"
provider_id = "{22059D40-7E9E-11CF-AE5A-00AA00A7112B}"
''')
    r = cat("apply", good, "--json")
    assert r.code == 0, r.err
    f = loaded(cat.path)
    assert f.serial == 2 and len(f.history) == 2 and f.catalog("64").protocols[0].id == 1012
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace("Batch LSP", "Other").replace("1012", "4242"))
    before = state(cat.path)
    r = cat("apply", bad)
    assert r.code == 1 and "operation #2" in r.err and state(cat.path) == before
    typo = tmp_path / "typo.toml"
    typo.write_text('[[operation]]\ncommand = "move"\nid = 1012\ntopp = true\n')
    r = cat("apply", typo)
    assert r.code == 2 and "topp" in r.err and state(cat.path) == before


def test_reset_restores_default_protocols_and_keeps_namespaces(cat):
    cat("install-lsp", "--name", "L", "--path", "l.dll", "--over-all")
    cat("namespace", "install", "--name", "Extra", "--path", "x.dll", "--namespace", "NS_DNS")
    r = cat("reset", "--json")
    assert r.code == 0 and any(c["action"] == "remove" for c in r.json["data"]["changes"])
    f = loaded(cat.path)
    shipped = load_shipped("windows-11")
    assert f.catalog("64").protocols == shipped.catalog("64").protocols
    assert "Extra" in [n.name for n in f.catalog("64").namespaces]


def test_resolve_app_reports_which_layers_load(cat):
    cat("install-lsp", "--name", "Sys", "--path", "s.dll", "--over", "1004",
        "--categories", "LSP_SYSTEM")
    cat("app-category", "set", r"C:\Windows\svc.exe", "LSP_FIREWALL")
    cat("app-category", "set", r"c:\windows\SVC.exe", "LSP_SYSTEM")     # ORs, same identity
    apps = cat("app-category", "list", "--json").json["data"]["applications"]
    assert len(apps) == 1 and apps[0]["categories"] == 0x80000008
    r = cat("resolve", "inet", "stream", "tcp", "--app", r"C:\Windows\svc.exe", "--json")
    layers = r.json["data"]["app"]["layers"]
    assert layers[0]["loads"] is True
    cat("app-category", "set", r"C:\other.exe", "LSP_FIREWALL")
    r = cat("resolve", "inet", "stream", "tcp", "--app", r"C:\other.exe")
    assert "NOT loaded" in r.out


def test_mutating_a_non_toml_catalog_is_refused_with_a_hint(cli, tmp_path):
    f = tmp_path / "cat.txt"
    r = cli("--catalog", f, "export", "--format", "netsh", "-o", f)
    assert r.code == 3      # no catalog yet
    cli("--catalog", tmp_path / "c.toml", "init")
    cli("--catalog", tmp_path / "c.toml", "export", "--format", "netsh", "-o", f)
    before = state(f)
    r = cli("--catalog", f, "move", "1012", "--top")
    assert r.code == 3 and "sporder import" in r.err and state(f) == before
    assert cli("--catalog", f, "resolve", "inet", "stream", "tcp").code == 0


# --- issue 13: plans that show the effect, chain-insert positions, --path32 ---------------------

def test_move_dry_run_lists_the_socket_calls_that_change(cat):
    """The issue's example: with an LSP over TCP/IP, 'move <base TCP/IP> --top --dry-run' lists
    (AF_INET, SOCK_STREAM, IPPROTO_TCP) with the LSP in "before" and not in "after"."""
    lsp = cat("install-lsp", "--name", "L", "--path", "l.dll", "--over", "1004",
              "--json").json["data"]["lsp_id"]
    before = state(cat.path)
    r = cat("move", "1004", "--top", "--dry-run", "--json")
    assert r.code == 0 and state(cat.path) == before
    rc = r.json["data"]["resolution_changes"]
    tcp = [c for c in rc if c["triple"] == [2, 1, 6]]
    assert tcp == [{"bitness": "64", "triple": [2, 1, 6], "before": [lsp, 1004],
                    "after": [1004]}]
    assert {c["bitness"] for c in rc} == {"64"}
    human = cat("move", "1004", "--top", "--dry-run")
    lines = human.out.splitlines()
    at = lines.index("socket() calls that change:")
    assert at == len(lines) - 3                       # the plan ends with it
    assert "(catalog 64) AF_INET, SOCK_STREAM, IPPROTO_TCP: " \
        f"{lsp} 'L' > 1004 'MSAFD Tcpip [TCP/IP]' -> 1004 'MSAFD Tcpip [TCP/IP]'" in human.out


def test_every_mutation_json_has_resolution_changes(cat):
    r = cat("namespace", "disable", "{22059D40-7E9E-11CF-AE5A-00AA00A7112B}", "--json")
    assert r.code == 0 and r.json["data"]["resolution_changes"] == []
    assert cat("namespace", "enable", "{22059D40-7E9E-11CF-AE5A-00AA00A7112B}").out.endswith(
        "no socket() call changes\n")
    r = cat("uninstall", "1012", "--json")                       # AF_UNIX goes away
    unix = [c for c in r.json["data"]["resolution_changes"] if c["triple"] == [1, 1, 0]]
    assert unix == [{"bitness": b, "triple": [1, 1, 0], "before": [1012], "after": None,
                     "winsock_error": 10047} for b in ("64", "32")]
    r = cat("undo", "--json")
    assert [c["after"] for c in r.json["data"]["resolution_changes"]
            if c["triple"] == [1, 1, 0]] == [[1012], [1012]]


def test_chain_insert_position_is_one_based_and_the_top_is_refused(cat):
    a = cat("install-lsp", "--name", "A", "--path", "a.dll", "--over", "1004",
            "--json").json["data"]["lsp_id"]
    b = cat("install-lsp", "--name", "B", "--path", "b.dll", "--over", "1001",
            "--json").json["data"]["lsp_id"]
    before = state(cat.path)
    r = cat("chain-insert", b, a + 1, "--position", "1", "--json")
    assert r.code == 1 and state(cat.path) == before
    err = r.json["error"]
    assert err["code"] == "wsaeinval" and err["winsock_error"] == 10022
    assert f"install-lsp --over {a + 1}" in err["message"] and "top layer" in err["message"]
    r = cat("chain-insert", b, a + 1, "--above", a)
    assert r.code == 1 and "Traceback" not in r.err and state(cat.path) == before
    r = cat("chain-insert", b, a + 1, "--position", "2", "--json")
    assert r.code == 0, r.err
    assert loaded(cat.path).catalog("64").get(a + 1).chain == (a, b, 1004)
    change = r.json["data"]["changes"][0]
    assert change["detail"] == "placed at position 2"
    assert [c["after"] for c in r.json["data"]["resolution_changes"]
            if c["triple"] == [2, 1, 6]] == [[a, b, 1004]] * 2      # both catalogs


def test_install_lsp_path32_and_the_same_path_note(cat, tmp_path):
    r = cat("install-lsp", "--name", "L", "--path", r"C:\x64\l.dll", "--path32",
            r"C:\x86\l.dll", "--over", "1004", "--json")
    assert r.code == 0, r.err
    hid = r.json["data"]["lsp_id"]
    f = loaded(cat.path)
    assert f.catalog("64").get(hid + 1).path == r"C:\x64\l.dll"
    assert f.catalog("32").get(hid + 1).path == r"C:\x86\l.dll"
    r = cat("install-lsp", "--name", "M", "--path", r"C:\m.dll", "--over", "1005", "--dry-run")
    assert "no separate 32-bit path given" in r.out
    ops = tmp_path / "p32.toml"
    ops.write_text('[[operation]]\ncommand = "install"\nname = "V"\npath = \'C:\\v64.dll\'\n'
                   'path32 = \'C:\\v32.dll\'\nfamily = "inet"\ntype = "stream"\n'
                   'provider_id = "{0D0D0D0D-1111-2222-3333-444444444444}"\n')
    assert cat("apply", ops).code == 0
    f = loaded(cat.path)
    new = f.next_entry_id - 1
    assert (f.catalog("64").get(new).path, f.catalog("32").get(new).path) == (
        r"C:\v64.dll", r"C:\v32.dll")


def test_a_created_file_lists_every_call_and_ranges_share_a_line(cli, tmp_path):
    """A catalog created by init (or import) had no catalog before: every call changes, and a
    RAW range that changes alike is one line (0..255), not 256."""
    new = tmp_path / "new.toml"
    r = cli("--catalog", new, "init", "--from", "windows-7", "--json")
    changes = r.json["data"]["resolution_changes"]
    assert any(c["triple"] == [2, 1, 6] and c["after"] == [1001] for c in changes)
    human = cli("--catalog", tmp_path / "other.toml", "init", "--from", "windows-7").out
    assert "(catalog 64) AF_INET, SOCK_RAW, 0..255: fails -> 1003 'MSAFD Tcpip [RAW/IP]'" in human
    assert "SOCK_RAW, 17:" not in human
