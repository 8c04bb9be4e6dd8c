"""Resolution changes (issue 13, "Plans that show the effect"): ``sporder_py.effects``.

``resolve_many`` must equal ``resolver.resolve`` triple by triple (winsock-semantics §2.2) on any
catalog, including shapes no valid file has; ``resolution_changes`` lists exactly the probe
triples whose stack (top layer to base) differs, for a reorder, an install-lsp, a chain-insert
and an uninstall.
"""

from __future__ import annotations

import functools
import itertools
import random
import time
from pathlib import Path

import pytest

from sporder_py import winsock as ws
from sporder_py.effects import probe_triples, resolution_changes, resolve_many
from sporder_py.formats import catalog_toml
from sporder_py.model import Catalog, CatalogFile, ProtocolEntry
from sporder_py.ops.chain_insert import chain_insert
from sporder_py.ops.install_lsp import Targets, install_lsp
from sporder_py.ops.order import move, reorder
from sporder_py.ops.uninstall import uninstall
from sporder_py.resolver import resolve

CATALOGS = Path(__file__).resolve().parent.parent / "catalogs"
BOTH = ["64", "32"]
TCP4 = (2, 1, 6)


@functools.cache
def load(name: str) -> CatalogFile:
    return catalog_toml.loads((CATALOGS / f"{name}.toml").read_text(), name)[0]


def guids() -> object:
    n = itertools.count(1)
    return lambda: f"{{C0DEC0DE-0000-0000-0000-{next(n):012X}}}"


def lsp(f: CatalogFile, name: str, guid: str, **targets: object) -> tuple[CatalogFile, int]:
    f, _, hid = install_lsp(f, name=name, path=f"{name}.dll", provider_id=guid,
                            targets=Targets(**targets), bitnesses=BOTH,  # type: ignore[arg-type]
                            new_guid=guids())  # type: ignore[arg-type]
    return f, hid


def random_catalog(rng: random.Random) -> Catalog:
    entries = []
    for i in range(rng.randint(0, 40)):
        kind = rng.choice(["base", "base", "chain", "layered"])
        entries.append(ProtocolEntry(
            id=1001 + i, kind=kind, name=f"e{i}", provider_id="{X}", path="x.dll",  # type: ignore
            family=rng.choice([0, 2, 2, 23, 6, 32]), socket_type=rng.choice([0, 1, 1, 2, 3, 5]),
            protocol=rng.choice([0, 0, 6, 17, 1000, 3, -1]),
            protocol_max_offset=rng.choice([0, 0, 0, 255, 3, -2, 1000]),
            provider_flags=rng.choice([0, ws.PFL_MATCHES_PROTOCOL_ZERO, ws.PFL_HIDDEN | 8]),
            chain=(1001 + i, 1001) if kind == "chain" else ()))
    return Catalog("64", tuple(entries))


def test_resolve_many_equals_resolve_on_random_catalogs() -> None:
    rng = random.Random(1301)
    checked = 0
    for _ in range(400):
        cat = random_catalog(rng)
        triples = probe_triples(cat) | {
            (rng.choice([0, 2, 23, 6, 99]), rng.choice([0, 1, 2, 3, 9]),
             rng.choice([0, 1, 6, 17, 255, 1000, 1255, 5000, -1])) for _ in range(30)}
        got = resolve_many(cat, triples)
        for t in triples:
            res = resolve(cat, *t)
            want = res.entry if res.entry is not None else res.error
            assert got[t] == want, (t, cat)
            checked += 1
    assert checked > 10000


def test_probe_triples_include_protocol_zero_and_raw_ranges() -> None:
    cat = load("windows-11").catalog("64")
    triples = probe_triples(cat)
    assert TCP4 in triples and (2, 1, 0) in triples        # PFL_MATCHES_PROTOCOL_ZERO
    assert {(2, 3, p) for p in range(1, 256)} <= triples     # RAW/IP, iProtocolMaxOffset 255
    assert not [t for t in triples if t[0] == 0 and t[2] == 0]


def test_reorder_moving_the_base_above_an_lsp_lists_the_triple() -> None:
    """The issue's example: an LSP over TCP/IP, then the base TCP/IP entry moved to the top."""
    f, hid = lsp(load("windows-11"), "L", "{0D0D0D0D-1111-2222-3333-444444444444}", over=(1004,))
    out, _ = move(f, 1004, top=True, bitness="64")
    rc = resolution_changes(f, out)
    by = {(c.bitness, c.triple): c for c in rc}
    c = by[("64", TCP4)]
    assert c.before == (hid, 1004) and c.after == (1004,)
    assert ("64", (2, 1, 0)) in by                       # protocol 0 goes there too
    assert all(c.bitness == "64" for c in rc)              # the 32-bit catalog was not moved
    assert c.to_json() == {"bitness": "64", "triple": [2, 1, 6], "before": [hid, 1004],
                           "after": [1004]}
    assert c.before_names == ("L", "MSAFD Tcpip [TCP/IP]")
    # the same order again: nothing changes
    assert resolution_changes(out, reorder(out, out.catalog("64").ids, "64")[0]) == []


def test_install_lsp_lists_each_triple_it_takes_over_in_both_catalogs() -> None:
    f = load("windows-11")
    out, hid = lsp(f, "L", "{0D0D0D0D-1111-2222-3333-444444444444}", over=(1004, 1005))
    rc = resolution_changes(f, out)
    got = {(c.bitness, c.triple, c.before, c.after) for c in rc}
    for b in BOTH:
        assert (b, TCP4, (1004,), (hid, 1004)) in got
        assert (b, (2, 2, 17), (1005,), (hid, 1005)) in got
        assert (b, (2, 1, 0), (1004,), (hid, 1004)) in got
    assert not [c for c in rc if c.triple[0] == 23]          # IPv6 untouched


def test_chain_insert_lists_the_new_layer_in_the_stack() -> None:
    f, a = lsp(load("windows-11"), "A", "{0D0D0D0D-1111-2222-3333-444444444444}", over=(1004,))
    f, b = lsp(f, "B", "{0D0D0D0D-1111-2222-3333-555555555555}", over=(1001,))
    out, _ = chain_insert(f, b, chains=(a + 1,), position=2, bitnesses=["64"])
    rc = resolution_changes(f, out)
    assert {(c.bitness, c.triple) for c in rc} == {("64", TCP4), ("64", (2, 1, 0))}
    c = next(c for c in rc if c.triple == TCP4)
    assert (c.before, c.after) == ((a, 1004), (a, b, 1004))


def test_uninstall_of_the_last_provider_of_a_triple_reports_the_error() -> None:
    f = load("windows-11")
    out, _ = uninstall(f, entry_id=1012, bitnesses=BOTH)          # AF_UNIX
    rc = [c for c in resolution_changes(f, out) if c.triple == (1, 1, 0)]
    assert [(c.bitness, c.before, c.after, c.error) for c in rc] == [
        ("64", (1012,), None, ws.WSAEAFNOSUPPORT), ("32", (1012,), None, ws.WSAEAFNOSUPPORT)]
    assert rc[0].to_json()["winsock_error"] == ws.WSAEAFNOSUPPORT


def test_uninstall_of_an_lsp_gives_the_calls_back_to_the_base() -> None:
    f, hid = lsp(load("windows-11"), "L", "{0D0D0D0D-1111-2222-3333-444444444444}",
                 over=(1004,))
    out, _ = uninstall(f, entry_id=hid, bitnesses=BOTH)
    got = {(c.bitness, c.triple, c.before, c.after) for c in resolution_changes(f, out)}
    assert ("64", TCP4, (hid, 1004), (1004,)) in got and ("32", TCP4, (hid, 1004), (1004,)) in got


def test_resolution_changes_stay_linear_on_a_generated_catalog() -> None:
    """An install-lsp --over-all on a large generated catalog: the effects of the plan cost
    about as much as a few walks of the catalog, not one walk per triple."""
    import sys
    bench = Path(__file__).resolve().parent.parent / "bench"
    sys.path.insert(0, str(bench))
    try:
        import gen_catalog
    finally:
        sys.path.remove(str(bench))
    f, _ = gen_catalog.generate(4000, seed=3)
    out, hid = lsp(f, "Over All", "{0D0D0D0D-1111-2222-3333-888888888888}", over_all=True)
    t0 = time.perf_counter()
    rc = resolution_changes(f, out)
    took = time.perf_counter() - t0
    assert rc and all(c.after is not None and c.after[0] == hid for c in rc)
    assert took < 2.0, took


@pytest.mark.parametrize("name", ["windows-11", "windows-10", "windows-7", "windows-11-clean"])
def test_no_change_means_no_resolution_change(name: str) -> None:
    f = load(name)
    assert resolution_changes(f, f) == []
