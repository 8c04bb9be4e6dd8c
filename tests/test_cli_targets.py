"""Issue 14: wherever an entry is a target, a triple (or a name, a hex id, a GUID) names it, so one
script serves Windows 10 (TCP/IP is 1006) and Windows 11 (1004); and install-lsp is re-runnable."""

from __future__ import annotations

import shutil

import pytest

from conftest import CATALOGS

GUID = "{6D3F4E2A-1B5C-4E7D-9A8B-0C1D2E3F4A5B}"
TCP = {"windows-10": 1006, "windows-11": 1004}


@pytest.fixture(params=sorted(TCP))
def cat(request, tmp_path):
    path = tmp_path / "cat.toml"
    shutil.copy(CATALOGS / f"{request.param}.toml", path)
    return path, TCP[request.param]


def lsp(cli, path, *more):
    return cli("--catalog", path, "install-lsp", "--name", "Inspector", "--path", "insp.dll",
               "--provider-id", GUID, *more)


def test_install_lsp_over_a_triple_layers_over_that_versions_tcp(cli, cat):
    path, tcp = cat
    r = lsp(cli, path, "--over", "inet,stream,tcp", "--json")
    assert r.code == 0, r.err
    chains = [c for c in r.json["data"]["changes"] if c["action"] == "add" and c["id"] != 0]
    res = cli("--catalog", path, "resolve", "inet", "stream", "tcp", "--json").json["data"]
    assert [x["id"] for x in res["layers"]][-1] == tcp
    assert res["layers"][0]["name"] == "Inspector" and chains


def test_a_second_identical_run_with_exist_ok_changes_nothing(cli, cat):
    path, _ = cat
    args = ["--over", "inet,stream,tcp", "--over", "inet6,stream,tcp", "--exist-ok"]
    assert lsp(cli, path, *args).code == 0
    before = path.read_bytes()
    r = lsp(cli, path, *args, "--json")
    assert r.code == 0 and r.json["data"]["changes"] == []
    assert path.read_bytes() == before


def test_without_exist_ok_already_installed_has_its_own_code(cli, cat):
    path, _ = cat
    assert lsp(cli, path, "--over", "inet,stream,tcp").code == 0
    before = path.read_bytes()
    r = lsp(cli, path, "--over", "inet,stream,tcp", "--json")
    assert r.code == 1 and r.json["error"]["code"] == "already-installed"
    assert path.read_bytes() == before


@pytest.mark.parametrize("change,needle", [
    (["--name", "Other"], "name is 'Inspector', not 'Other'"),
    (["--path", "other.dll"], "path is 'insp.dll', not 'other.dll'"),
    (["--categories", "LSP_FIREWALL"], "categories are 0x0, not 0x8"),
    (["--over", "inet6,stream,tcp"], "does not layer over (AF_INET6, SOCK_STREAM, IPPROTO_TCP)"),
])
def test_installed_differently_says_what_differs(cli, cat, change, needle):
    path, _ = cat
    assert lsp(cli, path, "--over", "inet,stream,tcp").code == 0
    before = path.read_bytes()
    args = ["--over", "inet,stream,tcp", *change] if change[0] != "--over" else change
    r = cli("--catalog", path, "install-lsp", "--name",
            "Other" if "Other" in change else "Inspector", "--path",
            "other.dll" if "other.dll" in change else "insp.dll", "--provider-id", GUID,
            *[a for a in args if a not in ("--name", "Other", "--path", "other.dll")],
            "--exist-ok", "--json")
    assert r.code == 1, r.err
    assert r.json["error"]["code"] == "installed-differently"
    assert needle in r.json["error"]["message"]
    assert path.read_bytes() == before


@pytest.mark.parametrize("args", [["move", "inet,stream,tcp", "--top"],
                                  ["move", "MSAFD Tcpip [TCP/IP]", "--after", "inet6,dgram,udp"],
                                  ["uninstall", "inet,stream,tcp", "--cascade"]])
def test_move_and_uninstall_take_triples_and_names(cli, cat, args):
    path, tcp = cat
    r = cli("--catalog", path, *args, "--dry-run", "--json")
    assert r.code == 0, r.err
    assert tcp in [c["id"] for c in r.json["data"]["changes"]]


def test_chain_insert_and_categories_take_names_and_guids(cli, cat):
    path, tcp = cat
    assert lsp(cli, path, "--over", "inet,stream,tcp").code == 0
    other = "{6D3F4E2A-1B5C-4E7D-9A8B-0C1D2E3F4A5C}"
    assert cli("--catalog", path, "install-lsp", "--name", "Crypto", "--path", "c.dll",
               "--provider-id", other, "--over", "inet6,stream,tcp").code == 0
    r = cli("--catalog", path, "chain-insert", other, "Inspector over [MSAFD Tcpip [TCP/IP]]",
            "--auto", "--json")
    assert r.code == 0, r.err
    r = cli("--catalog", path, "categories", "set", GUID, "LSP_INSPECTOR", "--json")
    assert r.code == 0, r.err


def test_apply_takes_the_same_strings(cli, cat, tmp_path):
    path, tcp = cat
    ops = tmp_path / "ops.toml"
    ops.write_text(f'''
[[operation]]
command = "install-lsp"
name = "Inspector"
path = "insp.dll"
provider_id = "{GUID}"
over = ["inet,stream,tcp", "inet6,stream,tcp"]
exist_ok = true

[[operation]]
command = "move"
id = "inet,dgram,udp"
top = true
''')
    r = cli("--catalog", path, "apply", ops, "--json")
    assert r.code == 0, r.err
    again = cli("--catalog", path, "apply", ops, "--json")
    assert again.code == 0, again.err


@pytest.mark.parametrize("target,code,needle", [
    ("ipx,dgram,0", 1, "has no base provider"),
    ("nosuchfamily,stream,tcp", 2, "nosuchfamily"),
    ("No Such Provider", 1, "names no entry"),
    ("{E70F1AA0-AB8B-11CF-8CA3-00805F48A192}", 1, "matches 3 entries"),
])
def test_a_target_that_names_nothing_or_several_is_one_sentence(cli, cat, target, code, needle):
    path, _ = cat
    before = path.read_bytes()
    r = lsp(cli, path, "--over", target)
    assert r.code == code, r.err
    assert needle in r.err and r.err.count("\n") == 1
    assert path.read_bytes() == before
