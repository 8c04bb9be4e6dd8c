"""A corpus of malformed catalog files (tests/data/malformed, each naming the message it must
produce in its first line): exit 3, one sentence naming the place, no traceback, file untouched."""

import hashlib
from pathlib import Path

import pytest

from conftest import run_sub

CORPUS = sorted((Path(__file__).parent / "data" / "malformed").iterdir())


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
