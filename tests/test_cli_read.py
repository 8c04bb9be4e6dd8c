"""The read commands and init/defaults through the real CLI: output shapes, exit codes
(DESIGN §4)."""

import json

import pytest

from conftest import CATALOGS, run_sub

ENTRY_KEYS = ["position", "id", "kind", "name", "provider_id", "path", "version", "family",
              "family_name", "socket_type", "socket_type_name", "protocol",
              "protocol_max_offset", "min_address_length", "max_address_length", "service_flags",
              "provider_flags", "byte_order", "security_scheme", "message_size",
              "provider_reserved", "chain", "lsp_categories"]


def test_list_uses_the_shipped_default_when_the_user_file_is_absent(cli, isolation):
    r = cli("list")
    assert r.code == 0
    assert "shipped windows-11" in r.err
    lines = r.out.splitlines()
    assert lines[1].split()[:4] == ["POS", "ID", "KIND", "NAME"]
    assert lines[2].split()[:3] == ["1", "1001", "base"] and "MSAFD Tcpip [TCP/IPv6]" in lines[2]
    assert not (isolation / "data" / "sporder" / "catalog.toml").exists()   # reads never write


def test_list_json_envelope_and_entry_shape(cli):
    r = cli("list", "--json", "--namespaces")
    assert r.code == 0
    doc = r.json
    assert doc["schema"] == 1 and doc["command"] == "list" and doc["ok"] is True
    data = doc["data"]
    assert data["catalog"] == "64" and data["serial"] == 1
    assert list(data["entries"][0]) == ENTRY_KEYS
    first = data["entries"][0]
    assert first["id"] == 1001 and first["chain"] == [1001] and first["family"] == 23
    assert first["family_name"] == "AF_INET6" and first["service_flags"] == 0x20066
    assert [n["name"] for n in data["namespaces"]][:3] == ["E-mail Naming Shim Provider",
                                                          "Tcpip", "NTDS"]
    assert "error" not in doc


def test_list_both_catalogs(cli):
    r = cli("--bitness", "both", "list", "--json")
    assert [c["catalog"] for c in r.json["data"]["catalogs"]] == ["64", "32"]


def test_list_32_of_a_file_without_one_is_refused(cli, tmp_path):
    from dataclasses import replace

    from conftest import load_shipped
    from sporder_py.formats import catalog_toml
    f = load_shipped("windows-7")
    only64 = replace(f, catalogs={"64": f.catalogs["64"]})
    p = tmp_path / "c.toml"
    p.write_text(catalog_toml.dumps(only64))
    r = cli("--catalog", p, "--bitness", "32", "list")
    assert r.code == 1 and "no 32-bit catalog" in r.err


def test_show_every_field_and_the_expanded_chain(cli):
    r = cli("--catalog", CATALOGS / "windows-10.toml", "show", "1008")
    assert r.code == 0
    assert "MSAFD Tcpip [RAW/IP]" in r.out and "PFL_HIDDEN|PFL_MATCHES_PROTOCOL_ZERO" in r.out
    assert "Protocol max offset: 255" in r.out
    j = cli("--catalog", CATALOGS / "windows-10.toml", "show", "1008", "--json").json["data"]
    assert j["entry"]["id"] == 1008 and [c["id"] for c in j["chain"]] == [1008]


def test_show_unknown_id_exits_1(cli):
    r = cli("show", "4242")
    assert r.code == 1 and "no entry with id 4242 in the 64-bit or 32-bit catalog" in r.err
    r = cli("show", "abc")
    assert r.code == 1 and "'abc' names no entry" in r.err and "Traceback" not in r.err


def test_resolve_success_prints_stack_top_to_base(cli):
    r = cli("resolve", "AF_INET", "SOCK_STREAM", "IPPROTO_TCP")
    assert r.code == 0
    assert "-> 1004 MSAFD Tcpip [TCP/IP]" in r.out
    assert "%SystemRoot%\\system32\\mswsock.dll" in r.out


def test_resolve_json_shape(cli):
    d = cli("resolve", "inet6", "dgram", "0", "--json").json["data"]
    assert d["request"] == {"family": 23, "socket_type": 2, "protocol": 0}
    assert d["entry"]["id"] == 1002 and [x["id"] for x in d["layers"]] == [1002]
    assert d["socket"] == {"family": 23, "socket_type": 2, "protocol": 17}


@pytest.mark.parametrize("args,code,err", [
    (("0xdead", "stream", "tcp"), 10047, "WSAEAFNOSUPPORT"),
    (("inet", "0xdead", "tcp"), 10044, "WSAESOCKTNOSUPPORT"),
    (("inet", "stream", "0xdead"), 10043, "WSAEPROTONOSUPPORT"),
    (("0", "stream", "0"), 10022, "WSAEINVAL"),
])
def test_resolve_failure_prints_wsae_and_exits_1(cli, args, code, err):
    r = cli("resolve", *args)
    assert r.code == 1 and err in r.err and f"({code})" in r.err and r.out == ""
    j = cli("resolve", *args, "--json")
    assert j.code == 1 and j.json["ok"] is False
    assert j.json["error"]["winsock_error"] == code


def test_resolve_explain_lists_every_entry_verdict(cli):
    r = cli("resolve", "inet", "raw", "icmp", "--explain", "--json")
    explain = r.json["data"]["explain"]
    verdicts = [e["verdict"] for e in explain]
    assert len(explain) == 14 and [e["position"] for e in explain] == list(range(1, 15))
    assert verdicts.count("chosen") == 1 and explain[verdicts.index("chosen")]["id"] == 1006
    after = explain[verdicts.index("chosen") + 1:]       # every entry, as the man page says
    assert after and {e["verdict"] for e in after} == {"not-reached"}
    failed = cli("resolve", "bth", "dgram", "rfcomm", "--explain")
    assert failed.code == 1 and "VERDICT" in failed.out


def test_resolve_protocol_info(cli):
    r = cli("resolve", "-1", "-1", "-1", "--protocol-info", "1005", "--json")
    assert r.code == 0 and r.json["data"]["socket"] == {"family": 2, "socket_type": 2,
                                                        "protocol": 17}
    assert cli("resolve", "0", "0", "0", "--protocol-info", "999").code == 1


@pytest.mark.parametrize("args", [
    ["resolve", "inet", "stream"], ["resolve", "AF_MARS", "stream", "tcp"],
    ["resolve", "inet", "stream", "99999999999"], ["show"], ["show", "af_mars,stream,tcp"],
    ["list", "--bogus"], ["frobnicate"], ["--bitness", "16", "list"],
    ["list", "--columns", "id,colour"], ["init", "--from"], ["move", "1001"],
    ["install-lsp", "--name", "x", "--path", "y"], ["chain-insert", "1", "2"],
    ["uninstall"], ["undo", "--steps", "0"], ["probe"], ["wsk", "capture"],
    ["--lock-timeout", "-1", "list"],
])
def test_every_misuse_exits_2(cli, args):
    r = cli(*args)
    assert r.code == 2, (args, r.err)
    assert "Traceback" not in r.err and r.err.strip()


def test_defaults_lists_the_shipped_catalogs(cli):
    r = cli("defaults", "--json")
    names = [c["name"] for c in r.json["data"]["catalogs"]]
    assert {"windows-11", "windows-10", "windows-7"} <= set(names)
    assert [c["name"] for c in r.json["data"]["catalogs"] if c["default"]] == ["windows-11"]


def test_init_writes_a_canonical_file_and_refuses_to_overwrite(cli, tmp_path):
    p = tmp_path / "c.toml"
    r = cli("--catalog", p, "init", "--from", "windows-7")
    assert r.code == 0 and p.exists()
    text = p.read_text()
    assert text.startswith("# Winsock 2 catalog managed by sporder")
    before = p.read_bytes()
    again = cli("--catalog", p, "init")
    assert again.code == 1 and "--force" in again.err and p.read_bytes() == before
    forced = cli("--catalog", p, "init", "--from", "windows-11", "--force", "--json")
    assert forced.code == 0 and forced.json["data"]["serial"] == 2
    assert cli("--catalog", p, "list", "--json").json["data"]["entries"][0]["id"] == 1001
    assert cli("--catalog", p, "init", "--from", "windows-99", "--force").code == 3


def test_load_save_is_byte_identical(cli, tmp_path):
    from sporder_py.formats import catalog_toml
    p = tmp_path / "c.toml"
    cli("--catalog", p, "init", "--from", "windows-10")
    text = p.read_text()
    f, _ = catalog_toml.loads(text, "c")
    assert catalog_toml.dumps(f) == text


def test_missing_explicit_catalog_exits_3(cli, tmp_path):
    r = cli("--catalog", tmp_path / "nope.toml", "list")
    assert r.code == 3 and "does not exist" in r.err and "sporder init" in r.err


def test_catalog_path_that_is_a_directory_exits_3(cli, tmp_path):
    assert cli("--catalog", tmp_path, "list").code == 3
    assert cli("--catalog", tmp_path, "move", "1001", "--top").code == 3


def test_env_var_is_used_and_the_option_wins(cli, tmp_path, monkeypatch):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    cli("--catalog", a, "init", "--from", "windows-7")
    cli("--catalog", b, "init", "--from", "windows-10")
    monkeypatch.setenv("SPORDER_CATALOG", str(a))
    assert cli("list", "--json").json["data"]["entries"][0]["name"] == "MSAFD Tcpip [TCP/IP]"
    assert cli("--catalog", b, "list", "--json").json["data"]["entries"][0]["name"] == "Hyper-V RAW"


def test_real_process_json_only_on_stdout_and_module_entry_point(tmp_path):
    r = run_sub("--catalog", CATALOGS / "windows-11.toml", "resolve", "inet", "stream", "tcp",
                "--json")
    assert r.code == 0 and r.err == "" and json.loads(r.out)["data"]["entry"]["id"] == 1004
    import subprocess
    import sys
    p = subprocess.run([sys.executable, "-m", "sporder_py", "--catalog",
                        str(CATALOGS / "windows-11.toml"), "resolve", "0xdead", "stream", "tcp"],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "WSAEAFNOSUPPORT (10047)" in p.stderr
