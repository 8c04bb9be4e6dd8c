"""A corpus of malformed catalog files (tests/data/malformed, each naming the message it must
produce in its first line): exit 3, one sentence naming the place, no traceback, file untouched.

And the broken-but-real states (tests/data/broken): they load with a warning, so that doctor can
report and repair them.  ``19-chain-other-catalog.toml`` moved from the first corpus to the second
(issue 13, case 4: the two catalogs are independent; a chain whose top layer exists only in the
other catalog is an orphan, not an unreadable file)."""

import hashlib
from pathlib import Path

import pytest

from conftest import run_sub

CORPUS = sorted((Path(__file__).parent / "data" / "malformed").iterdir())
BROKEN = sorted(p for p in (Path(__file__).parent / "data" / "broken").iterdir()
                if p.suffix == ".toml")


def expected(path: Path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0].decode()
    assert first.startswith("# expect: ")
    return first[len("# expect: "):]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_corpus_has_at_least_25_files():
    assert len(CORPUS) >= 25


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
@pytest.mark.parametrize("args", [["list"], ["list", "--json"],
                                  ["resolve", "inet", "stream", "tcp"],
                                  ["move", "1001", "--top"], ["log"]])
def test_malformed_catalog_exits_3_with_one_sentence(cli, path, args, tmp_path):
    target = tmp_path / path.name
    target.write_bytes(path.read_bytes())
    before = digest(target)
    r = cli("--catalog", target, *args)
    assert r.code == 3, r.err
    lines = [line for line in r.err.splitlines() if line.startswith("sporder: error:")]
    assert len(lines) == 1 and len(r.err.strip().splitlines()) == 1, r.err
    assert str(target) in lines[0] and expected(path) in lines[0], lines[0]
    assert "Traceback" not in r.err
    if "--json" in args:
        assert r.json["ok"] is False and r.json["error"]["code"].startswith("catalog")
    else:
        assert r.out == ""
    assert digest(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) in ([path.name],
                                                          sorted([path.name, path.name + ".lock"]))


@pytest.mark.parametrize("path", CORPUS[:3] + CORPUS[-3:], ids=lambda p: p.name)
def test_malformed_catalog_in_a_real_process(path, tmp_path):
    target = tmp_path / path.name
    target.write_bytes(path.read_bytes())
    r = run_sub("--catalog", target, "list")
    assert r.code == 3 and "Traceback" not in r.err and r.out == ""


def test_the_refused_corpus_no_longer_holds_the_cross_catalog_chain():
    assert not any("other-catalog" in p.name for p in CORPUS)
    assert [p.name for p in BROKEN] == ["chain-top-only-in-other-catalog.toml"]


@pytest.mark.parametrize("path", BROKEN, ids=[p.name for p in BROKEN])
def test_broken_catalog_loads_with_a_warning(cli, path, tmp_path):
    first = path.read_bytes().split(b"\n", 1)[0].decode()
    assert first.startswith("# expect warning: ")
    needle = first[len("# expect warning: "):]
    target = tmp_path / path.name
    target.write_bytes(path.read_bytes())
    before = digest(target)
    r = cli("--catalog", target, "list", "--json")
    assert r.code == 0, r.err
    assert [e["id"] for e in r.json["data"]["entries"]] == [1001, 1002]
    warnings = [line for line in r.err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and needle in warnings[0] and "orphaned" in warnings[0], r.err
    assert "catalog64 protocol #2 (id 1002)" in warnings[0] and str(target) in warnings[0]
    assert digest(target) == before
    # The chain's top layer 1005 is not in its own catalog: an orphan, which doctor reports.
    from sporder_py.formats import catalog_toml
    from sporder_py.integrity import check
    f, _ = catalog_toml.loads(path.read_text(encoding="utf-8"), path.name)
    found = [(x.code, x.catalog, x.id) for x in check(f)]
    assert ("orphaned-chain", "64", 1002) in found
    r = cli("--catalog", target, "doctor")
    assert r.code == 1 and "1002" in r.out + r.err
