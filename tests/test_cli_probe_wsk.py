"""Issues 5 and 6 through the CLI: probe exit codes and JSON, wsk info/capture."""

import socket
from dataclasses import replace

import pytest

from conftest import CATALOGS, load_shipped
from sporder_py.formats import catalog_toml


@pytest.mark.parametrize("name", ["windows-11", "windows-11-clean", "windows-10", "windows-7"])
def test_probe_all_passes_on_every_shipped_catalog(cli, name):
    r = cli("--catalog", CATALOGS / f"{name}.toml", "probe", "--all", "--include-errors", "--json")
    assert r.code == 0, r.out
    results = r.json["data"]["results"]
    by = {(x["request"]["family"], x["request"]["socket_type"], x["request"]["protocol"]): x
          for x in results}
    tcp4 = by[(2, 1, 6)]
    assert tcp4["outcome"] == "ok" and tcp4["server_bytes"] >= 65536
    assert by[(2, 2, 17)]["outcome"] == "ok" and by[(2, 2, 17)]["server_bytes"] > 0
    if socket.has_ipv6 and by[(23, 1, 6)]["outcome"] != "ok":
        assert "::1" in by[(23, 1, 6)]["detail"]


def test_probe_one_triple_and_a_host_refusal_exits_1(cli, tmp_path):
    assert cli("probe", "inet", "stream", "tcp").code == 0
    f = load_shipped("windows-11")
    cat = f.catalog("64")
    bad = cat.with_protocols(tuple(replace(e, protocol=6) if e.id == 1005 else e
                                   for e in cat.protocols))          # UDP entry claims TCP
    path = tmp_path / "bad.toml"
    path.write_text(catalog_toml.dumps(f.with_catalog(bad)))
    r = cli("--catalog", path, "probe", "inet", "dgram", "tcp", "--json")
    assert r.code == 1 and r.json["ok"] is False
    assert r.json["data"]["results"][0]["outcome"] == "failed"
    human = cli("--catalog", path, "probe", "inet", "dgram", "tcp")
    assert human.code == 1 and "failed" in human.out and "1 of 1 probe(s) failed" in human.err


def test_probe_winsock_refusal_is_reported_not_failed(cli):
    r = cli("probe", "0xdead", "stream", "tcp", "--json")
    assert r.code == 0
    res = r.json["data"]["results"][0]
    assert res["outcome"] == "winsock-error" and res["winsock_error"] == 10047


def test_probe_help_says_it_stays_on_loopback(cli):
    r = cli("probe", "--help")
    assert "127.0.0.1" in r.out and "::1" in r.out


def test_wsk_info_from_the_catalog(cli):
    r = cli("wsk", "info", "--json")
    assert r.code == 0 and r.json["data"]["lowest"] == "1.0" and r.json["data"]["highest"] == "1.0"
    assert r.json["data"]["documented"] is False
    assert "assumed" in cli("wsk", "info").out


def test_wsk_capture_success_and_noninterface_retry(cli):
    ok = cli("wsk", "capture", "--version", "1.0", "--json")
    assert ok.code == 0 and ok.json["data"]["captured"] is True
    calls = [c["call"] for c in ok.json["data"]["calls"]]
    assert calls == ["WskRegister", "WskCaptureProviderNPI", "WskReleaseProviderNPI",
                     "WskDeregister"]
    retry = cli("wsk", "capture", "--version", "2.0", "--json")
    calls = [(c["call"], c["status_name"]) for c in retry.json["data"]["calls"]]
    assert ("WskCaptureProviderNPI", "STATUS_NOINTERFACE") in calls
    assert ("WskQueryProviderCharacteristics", "STATUS_SUCCESS") in calls
    assert calls[-1] == ("WskDeregister", "STATUS_SUCCESS") and retry.code == 0


def test_wsk_capture_not_ready_in_time_exits_1(cli):
    r = cli("wsk", "capture", "--version", "1.0", "--wait", "50", "--ready-after", "500", "--json")
    assert r.code == 1
    statuses = [c["status_name"] for c in r.json["data"]["calls"]]
    assert "STATUS_DEVICE_NOT_READY" in statuses
    assert cli("wsk", "capture", "--version", "1.0", "--no-wait", "--ready-after", "200").code == 1
    assert cli("wsk", "capture", "--version", "1.0", "--wait", "400",
               "--ready-after", "50").code == 0


@pytest.mark.parametrize("args", [["--version", "one"], ["--version", "1.0", "--no-wait",
                                                         "--wait", "5"], []])
def test_wsk_capture_misuse_exits_2(cli, args):
    assert cli("wsk", "capture", *args).code == 2
