"""Issue 15, item 6: global options after the command, --json before it, choices in any case."""

from __future__ import annotations

import pytest

from conftest import CATALOGS, run_sub

W7 = str(CATALOGS / "windows-7.toml")
W10 = str(CATALOGS / "windows-10.toml")


def test_catalog_after_the_command(cli):
    r = cli("list", "--catalog", W7, "--json")
    assert r.code == 0, r.err
    assert r.json["data"]["entries"][0]["name"] == "MSAFD Tcpip [TCP/IP]"


def test_json_before_the_command(cli):
    r = cli("--json", "--catalog", W7, "resolve", "inet", "stream", "tcp")
    assert r.code == 0 and r.json["data"]["entry"]["id"] == 1001


def test_json_before_the_command_also_shapes_errors(cli):
    r = cli("--json", "--catalog", W7, "resolve", "0xdead", "stream", "tcp")
    assert r.code == 1 and r.json["ok"] is False


@pytest.mark.parametrize("args", [["--bitness", "32", "show", "1001"],
                                  ["show", "1001", "--bitness", "32"],
                                  ["show", "--bitness", "32", "1001"]])
def test_bitness_before_or_after(cli, args):
    r = cli("--catalog", W10, *args, "--json")
    assert r.code == 0, r.err
    assert r.out and cli("--catalog", W10, *args).out.startswith("Catalog:             32-bit")


def test_the_last_catalog_given_wins(cli):
    r = cli("--catalog", "/nonexistent/x.toml", "list", "--catalog", W7, "--json")
    assert r.code == 0 and r.json["data"]["entries"][0]["id"] == 1001


def test_global_options_after_a_subcommand_of_a_group(cli):
    r = cli("namespace", "list", "--catalog", W7, "--json")
    assert r.code == 0, r.err


def test_a_bad_value_after_the_command_is_a_usage_error(cli):
    r = cli("list", "--lock-timeout", "1e10")
    assert r.code == 2 and "0<=x<=604800" in r.err
    r = cli("list", "--bitness", "16")
    assert r.code == 2 and "--bitness" in r.err


@pytest.mark.parametrize("args", [["--bitness", "BOTH", "list"], ["export", "--format", "REG"],
                                  ["export", "--format", "Netsh"]])
def test_choices_take_any_case(args):
    r = run_sub("--catalog", W10, *args)
    assert r.code == 0, r.err
