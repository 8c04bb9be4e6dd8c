"""Issue 4 through the CLI: read commands on any format, import/export round trips, doctor."""

import hashlib
import json
import lzma

import pytest

from conftest import CATALOGS, TESTDATA, load_shipped
from sporder_py.formats import catalog_toml

DATA = __import__("pathlib").Path(__file__).parent / "data"
SAMPLES = sorted((DATA / "netsh").glob("*.txt")) + sorted((DATA / "reg").glob("*.reg")) + \
    sorted((DATA / "firefox").glob("*.txt"))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_read_commands_accept_every_sample_format_directly(cli, sample):
    r = cli("--catalog", sample, "list", "--json")
    assert r.code == 0, r.err
    assert r.json["data"]["entries"]
    d = cli("--catalog", sample, "doctor", "--json")
    assert d.code in (0, 1) and "findings" in d.json["data"]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_import_is_a_recorded_undoable_write(cli, tmp_path, sample):
    cat = tmp_path / "c.toml"
    cli("--catalog", cat, "init")
    before = cat.read_bytes()
    dry = cli("--catalog", cat, "import", sample, "--dry-run", "--json")
    assert dry.code == 0 and cat.read_bytes() == before
    r = cli("--catalog", cat, "import", sample, "--json")
    assert r.code == 0, r.err
    assert r.json["data"]["format"] in ("netsh", "reg", "firefox")
    records = cli("--catalog", cat, "log", "--json").json["data"]["records"]
    assert records[-1]["summary"].startswith("import")
    assert cli("--catalog", cat, "undo").code == 0
    assert catalog_toml.loads(cat.read_text(), "c")[0].same_content(
        catalog_toml.loads(before.decode(), "b")[0])


@pytest.mark.parametrize("name", ["windows-11", "windows-10", "windows-7"])
@pytest.mark.parametrize("fmt", ["netsh", "reg", "json", "toml"])
def test_export_then_import_preserves_what_the_format_carries(cli, tmp_path, name, fmt):
    out = tmp_path / f"export.{fmt}"
    r = cli("--catalog", CATALOGS / f"{name}.toml", "export", "--format", fmt, "-o", out)
    assert r.code == 0
    cat = tmp_path / "c.toml"
    cli("--catalog", cat, "init", "--from", "windows-7")
    assert cli("--catalog", cat, "import", out).code == 0
    got = catalog_toml.loads(cat.read_text(), "c")[0]
    want = load_shipped(name)
    carried = ["id", "kind", "name", "provider_id", "path", "version", "family", "socket_type",
               "protocol", "min_address_length", "max_address_length", "service_flags", "chain"]
    if fmt != "netsh":
        carried += ["protocol_max_offset", "provider_flags", "message_size", "byte_order"]
    for b in (["64"] if fmt == "json" else want.bitnesses):
        assert [[getattr(e, k) for k in carried] for e in got.catalog(b).protocols] == \
            [[getattr(e, k) for k in carried] for e in want.catalog(b).protocols], (b, fmt)


def test_export_to_stdout_and_json(cli):
    from conftest import run_sub
    r = run_sub("--catalog", CATALOGS / "windows-11.toml", "export", "--format", "netsh")
    assert r.code == 0 and r.out.count("Winsock Catalog Provider Entry") == 28
    j = cli("--catalog", CATALOGS / "windows-11.toml", "export", "--format", "netsh", "--json")
    assert j.json["data"]["content"].startswith("Winsock Catalog Provider Entry\n" + "-" * 54)


def test_testdata_reg_fragment_and_instlsp_transcript_are_handled(cli, tmp_path):
    # The real hivex fragment is a text dump, not a .reg file: it is refused with one sentence.
    frag = TESTDATA / "reg-hivex-virtio-vsock-packedcatalogitem.txt"
    r = cli("--catalog", frag, "list")
    assert r.code == 3 and "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1


@pytest.mark.parametrize("hive", sorted(TESTDATA.glob("hives/*.xz")), ids=lambda p: p.name)
def test_real_hives_import_through_the_cli(cli, tmp_path, hive):
    pytest.importorskip("regipy")
    raw = tmp_path / hive.stem
    raw.write_bytes(lzma.decompress(hive.read_bytes()))
    expected = json.loads(hive.with_suffix(".expected.json").read_text())
    r = cli("--catalog", raw, "--bitness", "both", "list", "--json")
    assert r.code == 0, r.err
    got = {c["catalog"]: c["entries"] for c in r.json["data"].get("catalogs", [])} or \
        {r.json["data"]["catalog"]: r.json["data"]["entries"]}
    for b, c in expected["catalogs"].items():
        assert [e["id"] for e in got[b]] == [p["id"] for p in c["protocols"]]
        assert [e["protocol"] for e in got[b]] == [p["protocol"] for p in c["protocols"]]
    cat = tmp_path / "c.toml"
    cli("--catalog", cat, "init")
    assert cli("--catalog", cat, "import", raw).code == 0
    assert catalog_toml.loads(cat.read_text(), "c")[0].next_entry_id >= \
        expected["protocol_catalog"]["Next_Catalog_Entry_ID"]


def test_broken_catalog_from_no_repair_is_diagnosed_fixed_and_resolves_to_base_again(cli, tmp_path):
    cat = tmp_path / "c.toml"
    cli("--catalog", cat, "init")
    r = cli("--catalog", cat, "install-lsp", "--name", "Bad LSP", "--path", "bad.dll",
            "--over", "1004", "--over", "1005", "--json")
    hidden = r.json["data"]["lsp_id"]
    assert cli("--catalog", cat, "uninstall", hidden, "--no-repair").code == 0
    d = cli("--catalog", cat, "doctor", "--json")
    assert d.code == 1
    codes = {f["code"] for f in d.json["data"]["findings"]}
    assert {"orphaned-chain", "broken-base-shadowed"} <= codes
    resolved = cli("--catalog", cat, "resolve", "inet", "stream", "tcp", "--json")
    assert resolved.json["data"]["entry"]["kind"] == "chain"
    before = hashlib.sha256(cat.read_bytes()).hexdigest()
    dry = cli("--catalog", cat, "doctor", "--fix", "--dry-run", "--json")
    assert dry.code == 0 and hashlib.sha256(cat.read_bytes()).hexdigest() == before
    fixed = cli("--catalog", cat, "doctor", "--fix", "--json")
    assert fixed.code == 0 and fixed.json["data"]["changes"]
    assert cli("--catalog", cat, "doctor").code == 0
    res = cli("--catalog", cat, "resolve", "inet", "stream", "tcp", "--json").json["data"]
    assert res["entry"]["id"] == 1004 and res["entry"]["kind"] == "base"
    assert cli("--catalog", cat, "undo").code == 0 and cli("--catalog", cat, "doctor").code == 1


def test_doctor_root_reports_missing_dlls(cli, tmp_path):
    root = tmp_path / "win"
    (root / "Windows" / "System32").mkdir(parents=True)
    (root / "Windows" / "SysWOW64").mkdir(parents=True)
    for d in ("System32", "SysWOW64"):
        (root / "Windows" / d / "mswsock.dll").write_bytes(b"MZ")
    r = cli("--catalog", CATALOGS / "windows-11.toml", "doctor", "--root", root, "--json")
    missing = [f for f in r.json["data"]["findings"] if f["code"] == "missing-dll"]
    assert r.code == 1 and missing and all("mswsock" not in f["message"] for f in missing)
    assert cli("doctor", "--root", tmp_path / "nope").code == 2
    assert cli("doctor", "--dry-run").code == 2


def test_doctor_strict_fails_on_warnings(cli, tmp_path):
    cat = tmp_path / "c.toml"
    cli("--catalog", cat, "init")
    cli("--catalog", cat, "install", "--kind", "layered", "--name", "Lonely", "--path", "l.dll",
        "--family", "inet", "--type", "0")
    assert cli("--catalog", cat, "doctor").code == 0
    assert cli("--catalog", cat, "doctor", "--strict").code == 1


def test_list_json_of_both_catalogs_imports_both(cli, tmp_path):
    """list --json carries the WOW64 catalog in data.catalogs; reading it back keeps it."""
    doc = tmp_path / "both.json"
    doc.write_text(cli("--catalog", CATALOGS / "windows-10.toml", "list", "--json").out)
    back = cli("--catalog", doc, "--bitness", "32", "list", "--json")
    assert back.code == 0, back.err
    want = cli("--catalog", CATALOGS / "windows-10.toml", "--bitness", "32", "list", "--json")
    assert [e["id"] for e in back.json["data"]["entries"]] == [
        e["id"] for e in want.json["data"]["entries"]]
