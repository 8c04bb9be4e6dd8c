"""The parse cache (sporder_py/cache.py, issue 7) is never stale and never in the way.

Besides these tests, conftest turns on SPORDER_CACHE_CHECK for the whole suite: every cache hit
in every test (in-process and in subprocesses) is re-parsed and compared, and a difference fails.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from conftest import CATALOGS
from sporder_py import cache, store
from sporder_py.formats import catalog_toml

SHIPPED = sorted(p.name for p in CATALOGS.glob("*.toml"))


def _entries(home: Path) -> list[Path]:
    d = home / ".cache" / "sporder"
    return sorted(d.glob("*.bin")) if d.is_dir() else []


@pytest.fixture
def unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exercise the hit path as users run it (no re-parse behind it)."""
    monkeypatch.delenv("SPORDER_CACHE_CHECK")


@pytest.mark.parametrize("name", SHIPPED)
def test_hit_equals_a_fresh_parse(name, isolation, unchecked):
    data = (CATALOGS / name).read_bytes()
    fresh = catalog_toml.loads(data.decode(), name)
    assert cache.get(data) is None                          # empty cache: a miss
    assert store.decode_toml(data, name) == fresh           # parses and stores
    assert len(_entries(isolation)) == 1
    hit = cache.get(data)
    assert hit is not None and hit == fresh[0]
    assert store.decode_toml(data, name) == fresh


def test_generated_catalog_round_trips_through_the_cache(tmp_path, isolation, unchecked):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    try:
        import gen_catalog
    finally:
        sys.path.pop(0)
    path = tmp_path / "big.toml"
    gen_catalog.write(path, 2000, 3)
    data = path.read_bytes()
    fresh, warnings = catalog_toml.loads(data.decode(), "big")
    assert warnings == []
    store.decode_toml(data, "big")
    assert cache.get(data) == fresh


def test_changed_content_is_never_served_from_the_cache(tmp_path, cli, unchecked):
    """Same path, same size, same mtime, other bytes: the cache keys on content, not on stat."""
    path = tmp_path / "catalog.toml"
    original = (CATALOGS / "windows-11.toml").read_bytes()
    path.write_bytes(original)
    assert "[TCP/IX]" not in cli("--catalog", path, "list", "--json").out
    st = os.stat(path)
    edited = original.replace(b"MSAFD Tcpip [TCP/IP]", b"MSAFD Tcpip [TCP/IX]")
    assert len(edited) == len(original) and edited != original
    path.write_bytes(edited)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == st.st_mtime_ns and os.stat(path).st_size == st.st_size
    assert "MSAFD Tcpip [TCP/IX]" in cli("--catalog", path, "list", "--json").out
    path.write_bytes(original)             # back to the first content: its entry is still right
    assert "[TCP/IX]" not in cli("--catalog", path, "list", "--json").out


def _entry_for(isolation: Path, data: bytes) -> Path:
    return isolation / ".cache" / "sporder" / (cache.key(data) + ".bin")


@pytest.mark.parametrize("damage", ["flip-payload", "flip-digest", "truncate", "empty",
                                    "garbage", "directory"])
def test_a_damaged_entry_is_a_miss_not_an_error(damage, tmp_path, isolation, cli, unchecked):
    path = tmp_path / "catalog.toml"
    data = (CATALOGS / "windows-10.toml").read_bytes()
    path.write_bytes(data)
    want = cli("--catalog", path, "list", "--json").out
    entry = _entry_for(isolation, data)
    blob = bytearray(entry.read_bytes())
    if damage == "flip-payload":
        blob[-10] ^= 0x01
    elif damage == "flip-digest":
        blob[len(b"sporder-cache\x00") + 3] ^= 0x80
    elif damage == "truncate":
        blob = blob[:len(blob) // 2]
    elif damage == "empty":
        blob = bytearray()
    elif damage == "garbage":
        blob = bytearray(os.urandom(len(blob)))
    if damage == "directory":
        entry.unlink()
        entry.mkdir()
    else:
        entry.write_bytes(bytes(blob))
    r = cli("--catalog", path, "list", "--json")
    assert (r.code, r.out, r.err) == (0, want, "")
    assert path.read_bytes() == data
    if damage != "directory":
        assert cache.get(data) == catalog_toml.loads(data.decode(), "x")[0]   # rewritten


def test_a_valid_digest_over_a_foreign_payload_is_a_miss(isolation, unchecked):
    import marshal
    data = (CATALOGS / "windows-7.toml").read_bytes()
    store.decode_toml(data, "w7")
    entry = _entry_for(isolation, data)
    for payload in (marshal.dumps(("not", "a", "catalog")), marshal.dumps(None), b"\xff\x00"):
        from _blake2 import blake2b
        entry.write_bytes(b"sporder-cache\x00" + blake2b(payload, digest_size=32).digest()
                          + payload)
        assert cache.get(data) is None


def test_check_mode_catches_a_wrong_entry(isolation):
    """SPORDER_CACHE_CHECK (on in the suite) really compares: a planted wrong entry fails."""
    data10 = (CATALOGS / "windows-10.toml").read_bytes()
    data11 = (CATALOGS / "windows-11.toml").read_bytes()
    cache.put(data10, catalog_toml.loads(data11.decode(), "w11")[0])
    with pytest.raises(RuntimeError, match="stale parse cache"):
        store.decode_toml(data10, "w10")


def test_a_mutation_leaves_the_next_read_a_correct_hit(tmp_path, isolation, cli, unchecked):
    path = tmp_path / "catalog.toml"
    path.write_bytes((CATALOGS / "windows-11.toml").read_bytes())
    r = cli("--catalog", path, "install", "--name", "Cached provider", "--path",
            "%SystemRoot%\\system32\\c.dll", "--family", "AF_INET", "--type", "SOCK_STREAM",
            "--protocol", "IPPROTO_TCP")
    assert r.code == 0, r.err
    data = path.read_bytes()
    hit = cache.get(data)
    assert hit is not None                                # stored by the write itself
    assert hit == catalog_toml.loads(data.decode(), "x")[0]
    assert any(e.name == "Cached provider" for e in hit.catalog("64").protocols)


def test_files_with_warnings_are_not_cached(tmp_path, isolation, unchecked):
    data = (CATALOGS / "windows-11.toml").read_bytes().decode()
    f, _ = catalog_toml.loads(data, "w11")
    ns = f.catalog("64").namespaces[0]
    twice = f.with_catalog(f.catalog("64").with_namespaces((ns, ns)))
    text = catalog_toml.dumps(twice)
    got, warnings = store.decode_toml(text.encode(), "dup")
    assert warnings and "repeats" in warnings[0]
    assert cache.get(text.encode()) is None
    assert store.decode_toml(text.encode(), "dup")[1] == warnings       # said again every read


@pytest.mark.parametrize("how", ["off", "unwritable", "not-a-directory"])
def test_no_cache_or_an_unusable_one_changes_nothing_but_speed(how, tmp_path, isolation, cli,
                                                               monkeypatch):
    path = tmp_path / "catalog.toml"
    path.write_bytes((CATALOGS / "windows-11.toml").read_bytes())
    want = cli("--catalog", path, "list", "--json").out
    for entry in _entries(isolation):
        entry.unlink()
    where = tmp_path / "cachedir"
    if how == "off":
        monkeypatch.setenv("SPORDER_NO_CACHE", "1")
        monkeypatch.setenv("SPORDER_CACHE_DIR", str(where))
    elif how == "unwritable":
        if os.geteuid() == 0:
            pytest.skip("root writes through directory permissions")
        where.mkdir(mode=0o500)
        monkeypatch.setenv("SPORDER_CACHE_DIR", str(where))
    else:
        where.write_bytes(b"a file where the cache directory should be")
        monkeypatch.setenv("SPORDER_CACHE_DIR", str(where))
    for _ in range(2):
        r = cli("--catalog", path, "list", "--json")
        assert (r.code, r.out, r.err) == (0, want, "")
        assert cli("--catalog", path, "move", "1001", "--bottom").code == 0
        want = cli("--catalog", path, "list", "--json").out
    if how == "off":
        assert not where.exists()
    assert _entries(isolation) == []


def test_at_most_keep_entries(isolation, monkeypatch, unchecked):
    monkeypatch.setattr(cache, "KEEP", 5)
    f = catalog_toml.loads((CATALOGS / "windows-7.toml").read_text(), "w7")[0]
    for i in range(12):
        cache.put(f"distinct content {i}".encode(), f)
    assert len(_entries(isolation)) == 5
    assert cache.get(b"distinct content 11") == f          # the newest are kept


def test_pruning_never_touches_files_it_did_not_write(tmp_path, monkeypatch, unchecked):
    """SPORDER_CACHE_DIR pointed at a real folder: only entry-named files are pruned."""
    where = tmp_path / "shared-folder"
    where.mkdir(mode=0o700)
    theirs = [where / f"firmware-{i}.bin" for i in range(8)] + [where / "notes.tmp",
                                                                 where / ("ab" * 10 + ".bin.txt")]
    for p in theirs:
        p.write_bytes(b"not sporder's")
    monkeypatch.setenv("SPORDER_CACHE_DIR", str(where))
    monkeypatch.setattr(cache, "KEEP", 3)
    f = catalog_toml.loads((CATALOGS / "windows-7.toml").read_text(), "w7")[0]
    for i in range(6):
        cache.put(f"content {i}".encode(), f)
    assert all(p.read_bytes() == b"not sporder's" for p in theirs)
    assert len(list(where.glob("*.bin"))) == 8 + 3


@pytest.mark.parametrize("plant", ["fifo", "symlink", "shared-directory"])
def test_entries_are_only_read_from_a_private_directory_and_regular_file(plant, isolation,
                                                                         unchecked):
    data = (CATALOGS / "windows-11.toml").read_bytes()
    store.decode_toml(data, "w11")
    entry = _entry_for(isolation, data)
    assert cache.get(data) is not None
    if plant == "fifo":                    # would block a plain open() forever
        entry.unlink()
        os.mkfifo(entry)
    elif plant == "symlink":
        real = entry.with_name("elsewhere")
        entry.rename(real)
        entry.symlink_to(real)
    else:                                  # anyone could plant entries here: not trusted
        entry.parent.chmod(0o777)
    assert cache.get(data) is None
    assert store.decode_toml(data, "w11") == catalog_toml.loads(data.decode(), "w11")


def test_a_trailing_slash_names_the_file_as_before(tmp_path, cli):
    target = tmp_path / "new.toml"
    r = cli("--catalog", f"{target}/", "init")
    assert r.code == 0, r.err
    assert target.is_file()
    assert cli("--catalog", f"{tmp_path}//./new.toml/", "list", "--json").code == 0


def test_no_home_directory_is_one_sentence_not_a_relative_path(monkeypatch):
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setattr(os.path, "expanduser", lambda p: p)       # what no HOME/passwd gives
    with pytest.raises(store.CatalogFileError, match="cannot find your home directory"):
        store.default_path()
    monkeypatch.delenv("SPORDER_CACHE_DIR", raising=False)
    assert cache.directory() is None
