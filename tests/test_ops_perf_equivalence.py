"""The issue-7 speed-ups of the protocol operations change no result (tests for the perf work).

``lsp_map`` became linear, ``move`` builds one change instead of one per shifted entry,
``install_lsp`` orders the new entries without re-scanning the catalog in the usual case, and the
uninstall repair skips chains that name nothing being removed.  Each is checked here against the
code it replaced (copied below verbatim as the reference) on seeded random catalogs, including
shapes no valid file has (repeated ids, chains naming missing or future ids, chains of one id), on
a generated benchmark catalog, and on the shipped default.

Issue 13 changed three behaviours on purpose, and the reference copies below were updated in
exactly those places (each marked "issue 13"): uninstall removes every chain entry whose top
layer is the LSP being removed (instlsp RemoveProvider deinstalls all its LayeredGuids) instead
of keeping and renaming one that still holds other layers; uninstalling an orphaned chain entry
removes the catalog's whole orphan group (instlsp BuildLspMap); and an install into both
catalogs without a separate 32-bit path says so in the plan.
"""

from __future__ import annotations

import random
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sporder_py import winsock as ws
from sporder_py.errors import SporderError, UsageError
from sporder_py.lspmap import Lsp, lsp_map
from sporder_py.model import Catalog, CatalogFile, Change, ProtocolEntry
from sporder_py.names import display_name
from sporder_py.ops import Result
from sporder_py.ops.chain_entry import chain_flags, changed_fields
from sporder_py.ops.checks import (
    check_chain_refs,
    check_shape,
    check_text,
    id_list,
    provider_guid,
    refuse,
    selected,
)
from sporder_py.ops.install import install
from sporder_py.ops.install_lsp import Targets, install_lsp
from sporder_py.ops.order import move, reorder
from sporder_py.ops.uninstall import _remove_repairing

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"

# --- the replaced code, as it was ----------------------------------------------------------------


def ref_lsp_map(catalog: Catalog) -> list[Lsp]:
    hidden = [e for e in catalog.protocols if e.kind == "layered"]
    owned: dict[int, list[ProtocolEntry]] = {h.id: [] for h in hidden}
    orphans: list[ProtocolEntry] = []
    for e in catalog.protocols:
        if e.kind == "chain" and e.chain:
            if e.chain[0] in owned:
                owned[e.chain[0]].append(e)
            elif e.chain[0] not in catalog:
                orphans.append(e)
    mine = {h.id: {h.id, *(c.id for c in owned[h.id])} for h in hidden}
    out = [Lsp(h, tuple(owned[h.id]),
               tuple(j.id for j in hidden if j.id != h.id
                     and any(mine[h.id].intersection(c.chain) for c in owned[j.id])))
           for h in hidden]
    if orphans:
        out.append(Lsp(None, tuple(orphans)))
    return out


def ref_move(f: CatalogFile, entry_id: int, *, top: bool = False, bottom: bool = False,
             before: int | None = None, after: int | None = None, position: int | None = None,
             bitness: str) -> Result:
    if top + bottom + sum(x is not None for x in (before, after, position)) != 1:
        raise UsageError("Give exactly one of top, bottom, before, after and position.",
                         code="bad-placement")
    b = selected(f, [bitness])[0]
    cat = f.catalog(b)
    if entry_id not in cat:
        raise refuse(ws.WSAEINVAL, f"Entry {entry_id} is not in the {b}-bit catalog.")
    rest = [i for i in cat.ids if i != entry_id]
    if top or bottom:
        at = 0 if top else len(rest)
    elif position is not None:
        if not 1 <= position <= len(cat.ids):
            raise refuse(ws.WSAEINVAL, f"Position {position} is outside 1..{len(cat.ids)} of "
                         f"the {b}-bit catalog.")
        at = position - 1
    else:
        anchor = before if before is not None else after
        if anchor == entry_id or anchor not in cat:
            why = "is the entry being moved" if anchor == entry_id else "is not in the catalog"
            raise refuse(ws.WSAEINVAL, f"Entry {anchor} {why}, so entry {entry_id} cannot be "
                         f"moved {'before' if before is not None else 'after'} it in the "
                         f"{b}-bit catalog.")
        at = rest.index(anchor) + (after is not None)  # type: ignore[arg-type]
    new, changes = reorder(f, rest[:at] + [entry_id] + rest[at:], b)
    return new, [c for c in changes if c.id == entry_id]


def ref_remove_repairing(cat: Catalog, seeds: list[ProtocolEntry],
                         cascade: bool) -> tuple[Catalog, list[Change]]:
    lsps = {m.hidden.id: m for m in ref_lsp_map(cat) if m.hidden is not None}
    gone: dict[int, str] = {}
    own: dict[int, str] = {}
    bases: list[ProtocolEntry] = []
    for e in seeds:
        owner = e.id if e.kind == "layered" else (
            e.chain[0] if e.kind == "chain" and e.chain[0] in lsps else None)
        if owner is not None:
            gone[owner] = f"hidden entry of LSP '{lsps[owner].name}'"
            own.update({c.id: lsps[owner].name for c in lsps[owner].chains})
            # issue 13: every chain entry of the LSP goes (instlsp RemoveProvider)
            gone.update({c.id: f"chain entry of LSP '{lsps[owner].name}'"
                         for c in lsps[owner].chains})
        elif e.kind == "base":
            bases.append(e)
        elif e.chain[0] not in cat:     # issue 13: the orphan group goes whole (BuildLspMap)
            gone.update({c.id: "orphaned chain entry (its first id names no entry); instlsp's "
                         "LSP map makes every orphan of the catalog one group, removed together"
                         for c in cat.protocols
                         if c.kind == "chain" and c.chain and c.chain[0] not in cat})
        else:
            gone[e.id] = "chain entry owned by no LSP"
    if bases:
        base_ids = {e.id for e in bases}
        deps = [c for c in cat.protocols
                if c.kind == "chain" and base_ids.intersection(c.chain) and c.id not in gone]
        if deps and not cascade:
            raise refuse(ws.WSANO_RECOVERY, f"Base provider(s) {id_list(sorted(base_ids))} in "
                         f"the {cat.bitness}-bit catalog cannot be removed while chain entries "
                         f"{id_list(c.id for c in deps)} depend on them (remove those LSPs "
                         "first, or cascade).")
        gone.update({e.id: "base provider" for e in bases})
        gone.update({c.id: "chain over a removed base provider" for c in deps})
    strip = set(gone) | set(own)
    while True:
        short = {c.id for c in cat.protocols if c.kind == "chain" and c.id not in gone
                 and len([i for i in c.chain if i not in strip]) < 2}
        if not short:
            break
        gone.update({i: f"chain entry of LSP '{own[i]}'" if i in own
                     else "left with only its base provider" for i in short})
        strip |= short

    def lookup(i: int) -> ProtocolEntry | None:
        return None if i in gone else cat.get(i)

    updated: dict[int, ProtocolEntry] = {}
    changes = []
    for c in cat.protocols:
        if c.kind != "chain" or c.id in gone:
            continue
        chain = tuple(i for i in c.chain if i not in strip)
        if chain == c.chain:
            continue
        # issue 13: an own chain is never kept, so no chain is renamed any more
        new = replace(c, chain=chain, service_flags=chain_flags(c.service_flags, chain, lookup))
        updated[c.id] = new
        changes.append(Change("update", cat.bitness, c.id, display_name(c.name),
                              changed_fields(c, new),
                              f"removed {id_list(i for i in c.chain if i in strip)} from its "
                              "chain"))
    changes += [Change("remove", cat.bitness, e.id, display_name(e.name), detail=gone[e.id])
                for e in cat.protocols if e.id in gone]
    return cat.with_protocols([updated.get(e.id, e) for e in cat.protocols
                               if e.id not in gone]), changes


def ref_install(f: CatalogFile, entries: list[ProtocolEntry], provider_id: str,
                bitnesses: list[str], *, exist_ok: bool = False) -> Result:
    cats = selected(f, bitnesses)
    guid = provider_guid(provider_id)
    if not entries:
        raise refuse(ws.WSAEINVAL, f"No protocol entries given to install for provider "
                     f"{guid}.")
    wanted = [replace(e, provider_id=guid) for e in entries]
    for n, e in enumerate(wanted, 1):
        check_text(f"entry #{n}", e.name, e.path)
        check_shape(n, e)
    present = {b: [e for e in f.catalog(b).protocols if e.provider_id == guid] for b in cats}
    if any(present.values()):
        key = [replace(e, id=0) for e in wanted]
        if exist_ok and all([replace(e, id=0) for e in present[b]] == key for b in cats):
            return f, []
        b = next(b for b in cats if present[b])
        extra = ("; with exist_ok its entries must equal the requested ones in every field but "
                 "the id") if exist_ok else ""
        raise refuse(ws.WSANO_RECOVERY, f"Provider {guid} is already installed in the "
                     f"{b}-bit catalog (ids {id_list(e.id for e in present[b])}){extra}.")
    for b in cats:
        for n, e in enumerate(wanted, 1):
            check_chain_refs(f.catalog(b), n, e)
    first = f.next_entry_id
    new = [replace(e, id=first + k) for k, e in enumerate(wanted)]
    out, changes = f, []
    # issue 13: the plan says when the 32-bit catalog got the 64-bit path
    note = "; DLL path: the 64-bit one (no separate 32-bit path given)" \
        if "64" in cats and "32" in cats else ""
    for b in cats:
        cat = f.catalog(b)
        out = out.with_catalog(cat.with_protocols(cat.protocols + tuple(new)))
        changes += [Change("add", b, e.id, display_name(e.name),
                           detail=f"appended at position {len(cat.protocols) + k + 1}"
                           + (note if b == "32" and k == 0 else ""))
                    for k, e in enumerate(new)]
    return replace(out, next_entry_id=first + len(new)), changes


def ref_install_lsp_order(cat: Catalog, added: list[ProtocolEntry],
                          hid: int) -> tuple[list[int], list[int | None]]:
    """install_lsp's old reorder and the positions its changes reported."""
    entries = cat.protocols + tuple(added)
    order = [e for e in entries if hid in e.chain] + [e for e in entries if hid not in e.chain]
    new = cat.with_protocols(order)
    return [e.id for e in order], [new.position(e.id) for e in added]


# --- random catalogs, including shapes no valid file has -----------------------------------------


def entry(i: int, kind: str, chain: tuple[int, ...] = (), *, ifs: bool = True,
          name: str | None = None) -> ProtocolEntry:
    return ProtocolEntry(id=i, kind=kind, name=name or f"{kind} {i}",  # type: ignore[arg-type]
                         provider_id=f"{{{i:08X}-0000-4000-8000-{i:012X}}}", path="x.dll",
                         family=2, socket_type=1, protocol=6, chain=chain,
                         service_flags=ws.XP1_IFS_HANDLES if ifs else 0)


def random_catalog(rng: random.Random, *, weird: bool, bitness: str = "64") -> Catalog:
    """Bases, hidden entries and chains (instlsp forms [L, .., B] and [L, X, B], chains that
    stack on other LSPs); with ``weird``: repeated ids, chains naming missing or future ids,
    chains headed by a base or chain entry, chains of 0 or 1 ids."""
    nid = 1001
    bases: list[ProtocolEntry] = []
    hidden: list[ProtocolEntry] = []
    chains: list[ProtocolEntry] = []
    for _ in range(rng.randint(1, 5)):
        bases.append(entry(nid, "base", ifs=rng.random() < 0.8))
        nid += 1
    for _ in range(rng.randint(0, 8)):
        h = entry(nid, "layered", ifs=rng.random() < 0.5)
        hidden.append(h)
        nid += 1
        for _ in range(rng.randint(0, 3)):
            r = rng.random()
            below: list[int]
            if chains and r < 0.4:          # stack on an existing chain: [L, A.., B]
                under = rng.choice(chains)
                below = list(under.chain)
            elif chains and r < 0.5:        # instlsp's form: [L, X, B]
                under = rng.choice(chains)
                below = [under.id, under.chain[-1]]
            else:
                below = [rng.choice(bases).id]
            chain = tuple([h.id, *below][:ws.MAX_PROTOCOL_CHAIN])
            c = entry(nid, "chain", chain, ifs=rng.random() < 0.7)
            chains.append(c)
            nid += 1
    if weird:
        for _ in range(rng.randint(1, 4)):
            r = rng.random()
            pool = [e.id for e in bases + hidden + chains] + [nid + 50, 999, nid]
            if r < 0.3:
                chain = tuple(rng.sample(pool, min(len(pool), rng.randint(2, 4))))
            elif r < 0.45:
                chain = (rng.choice(pool),) if rng.random() < 0.7 else ()
            else:
                chain = (rng.choice([nid + 50, 999]), rng.choice(bases).id)
            chains.append(entry(nid, "chain", chain))
            nid += 1
        everything = bases + hidden + chains
        for _ in range(rng.randint(0, 3)):      # repeated ids
            e = rng.choice(everything)
            twin = replace(rng.choice([x for x in everything if x.kind == e.kind] or [e]),
                           id=e.id, name=f"twin of {e.id}")
            {"chain": chains, "layered": hidden, "base": bases}[twin.kind].append(twin)
    out = bases + hidden + chains
    rng.shuffle(out)
    return Catalog(bitness, tuple(out))  # type: ignore[arg-type]


def outcome(fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return ("ok", fn(*args, **kw))
    except SporderError as exc:
        return ("refused", type(exc).__name__, exc.code, exc.message)


def bench_catalog(entries: int, seed: int) -> tuple[CatalogFile, dict[str, Any]]:
    sys.path.insert(0, str(BENCH))
    try:
        import gen_catalog
    finally:
        sys.path.remove(str(BENCH))
    return gen_catalog.generate(entries, seed=seed)


# --- lsp_map -------------------------------------------------------------------------------------


@pytest.mark.parametrize("weird", [False, True])
def test_lsp_map_equals_the_quadratic_reference_on_random_catalogs(weird: bool) -> None:
    rng = random.Random(7001 + weird)
    stacked = 0
    for _ in range(400):
        cat = random_catalog(rng, weird=weird)
        got = lsp_map(cat)
        assert got == ref_lsp_map(cat)
        stacked += any(m.dependants for m in got)
    assert stacked > 50          # the generator does make LSPs that others are layered on


def test_lsp_map_equals_the_reference_on_a_generated_benchmark_catalog() -> None:
    f, _ = bench_catalog(1200, seed=5)
    cat = f.catalog("64")
    got = lsp_map(cat)
    assert got == ref_lsp_map(cat)
    assert any(len(m.dependants) > 1 for m in got)


def test_lsp_map_keeps_dependants_in_hidden_entry_order_with_repeated_ids() -> None:
    cat = Catalog("64", (
        entry(1001, "base"), entry(1003, "layered"), entry(1002, "layered"),
        entry(1002, "layered", name="twin"), entry(1004, "chain", (1002, 1001)),
        entry(1005, "chain", (1003, 1004, 1001)), entry(1006, "chain", (1002, 1003, 1001))))
    assert lsp_map(cat) == ref_lsp_map(cat)
    assert [m.dependants for m in lsp_map(cat)] == [(1002, 1002), (1003,), (1003,)]


# --- uninstall's repair ----------------------------------------------------------------------


@pytest.mark.parametrize("weird", [False, True])
def test_uninstall_repair_equals_the_reference_on_random_catalogs(weird: bool) -> None:
    rng = random.Random(7101 + weird)
    removed = 0
    for _ in range(300):
        cat = random_catalog(rng, weird=weird)
        for _ in range(3):
            pool = list(cat.protocols)
            seeds = [e for e in rng.sample(pool, rng.randint(1, min(3, len(pool))))
                     if e.kind != "chain" or e.chain]      # (an empty chain has no owner)
            if not seeds:
                continue
            cascade = rng.random() < 0.5
            got = outcome(_remove_repairing, cat, seeds, cascade)
            assert got == outcome(ref_remove_repairing, cat, seeds, cascade)
            removed += got[0] == "ok"
    assert removed > 300


def test_uninstall_equals_the_reference_on_a_generated_benchmark_catalog() -> None:
    f, meta = bench_catalog(1600, seed=9)
    cat = f.catalog("64")
    rng = random.Random(3)
    ids = [meta["uninstall_lsp"], *rng.sample(cat.ids, 25)]
    for i in ids:
        seeds = [e for e in cat.protocols if e.id == i]
        for cascade in (False, True):
            assert outcome(_remove_repairing, cat, seeds, cascade) == \
                outcome(ref_remove_repairing, cat, seeds, cascade)


# --- move ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("weird", [False, True])
def test_move_equals_the_reference_on_random_catalogs(weird: bool) -> None:
    rng = random.Random(7201 + weird)
    moved = 0
    for _ in range(300):
        cat = random_catalog(rng, weird=weird)
        f = CatalogFile(catalogs={"64": cat}, next_entry_id=2000)
        ids = cat.ids + [999]
        for _ in range(6):
            i = rng.choice(ids)
            where = rng.choice([{"top": True}, {"bottom": True},
                                {"before": rng.choice(ids)}, {"after": rng.choice(ids)},
                                {"position": rng.randint(0, len(ids) + 1)}])
            got = outcome(move, f, i, bitness="64", **where)
            want = outcome(ref_move, f, i, bitness="64", **where)
            assert got == want
            if got[0] == "ok":
                assert (got[1][0] is f) == (want[1][0] is f)
                moved += bool(got[1][1])
    assert moved > 300


# --- install_lsp's order -----------------------------------------------------------------------


@pytest.mark.parametrize("weird", [False, True])
def test_install_lsp_order_and_positions_equal_the_reference(weird: bool) -> None:
    rng = random.Random(7301 + weird)
    done = 0
    for _ in range(300):
        cat = random_catalog(rng, weird=weird)
        nxt = max(cat.ids) + 1 if rng.random() < 0.8 else max(cat.ids) - 1   # ids may collide
        if weird and rng.random() < 0.3:        # an existing chain already names the new id
            cat = cat.with_protocols(list(cat.protocols) + [entry(nxt + 40, "chain",
                                                                  (nxt, cat.ids[0]))])
        f = CatalogFile(catalogs={"64": cat, "32": Catalog("32", cat.protocols)},
                        next_entry_id=nxt)
        bases = [e.id for e in cat.protocols if e.kind == "base"]
        over = tuple(rng.sample(bases, rng.randint(1, min(3, len(bases)))))
        guids = iter(f"{{{k:08X}-1111-4000-8000-000000000000}}" for k in range(100))
        got = outcome(install_lsp, f, name="L", path="l.dll",
                      provider_id="{0E8D1F4C-5B6A-4C3D-9E2F-1A2B3C4D5E6F}",
                      targets=Targets(over=over), ifs=rng.random() < 0.5,
                      bitnesses=["64", "32"], new_guid=lambda g=guids: next(g))
        if got[0] != "ok":
            continue
        new_f, changes, hid = got[1]
        for b in ("64", "32"):
            before, after = f.catalog(b), new_f.catalog(b)
            old = {id(e) for e in before.protocols}       # entries are kept, not copied
            added = sorted((e for e in after.protocols if id(e) not in old),
                           key=lambda e: (e.kind != "layered", e.id))
            assert len(added) == 1 + len(set(over))
            order, positions = ref_install_lsp_order(before, added, hid)
            assert after.ids == order
            details = [c.detail for c in changes if c.catalog == b]
            assert [d.rsplit("; position ", 1)[1] for d in details] == [str(p) for p in positions]
        done += 1
    assert done > 150


def test_a_batch_on_the_default_catalog_is_unchanged_by_the_speedups() -> None:
    """install, install-lsp, move, categories-set and uninstall (bench/run.py's mix) on the
    shipped default, every operation compared with the reference versions."""
    from sporder_py.formats import catalog_toml
    from sporder_py.ops import batch
    sys.path.insert(0, str(BENCH))
    try:
        import run as bench_run
    finally:
        sys.path.remove(str(BENCH))
    text = (ROOT / "catalogs" / "windows-11.toml").read_text(encoding="utf-8")
    f, _ = catalog_toml.loads(text, "windows-11.toml")
    ops = bench_run.batch_ops(200, first_id=f.next_entry_id)
    counter = iter(range(10**6))
    ctx = batch.Ctx(guid=lambda: f"{{{next(counter):08X}-2222-4000-8000-000000000000}}")
    for n, spec in enumerate(ops, 1):
        before = f
        f, changes, _ = batch.run_one(f, spec, where=f"#{n}", ctx=ctx)
        for b in f.bitnesses:
            assert lsp_map(f.catalog(b)) == ref_lsp_map(f.catalog(b))
        if spec["command"] == "move":
            want = ref_move(before, spec["id"], top=spec.get("top", False),
                            bottom=spec.get("bottom", False), bitness=before.native)
            assert (f, changes) == (want[0], want[1])
        if spec["command"] == "uninstall":
            for b in before.bitnesses:
                cat = before.catalog(b)
                seeds = [e for e in cat.protocols if e.id == spec["id"]]
                new_cat, ch = ref_remove_repairing(cat, seeds, False)
                assert f.catalog(b) == new_cat
                assert [c for c in changes if c.catalog == b] == ch


# --- install -------------------------------------------------------------------------------------


def test_install_equals_the_reference_on_random_catalogs() -> None:
    rng = random.Random(7401)
    installed = noop = 0
    for _ in range(300):
        cat = random_catalog(rng, weird=rng.random() < 0.5)
        f = CatalogFile(catalogs={"64": cat, "32": Catalog("32", cat.protocols)},
                        next_entry_id=max(cat.ids) + 1)
        pool = cat.ids + [999]
        layers = [e.id for e in cat.protocols if e.kind != "base"]
        bases = [e.id for e in cat.protocols if e.kind == "base"]
        entries = []
        for k in range(rng.randint(0, 3)):
            kind = rng.choice(["base", "base", "base", "layered", "chain"])
            chain: tuple[int, ...] = ()
            if kind == "chain" and layers and rng.random() < 0.7:   # a well-formed chain
                chain = (rng.choice(layers), rng.choice(bases))
            elif kind == "chain":
                chain = tuple(rng.sample(pool, min(len(pool), rng.randint(1, 3))))
            entries.append(replace(entry(rng.randint(1, 5000), kind, chain),
                                   name="x" * 300 if rng.random() < 0.05 else f"e{k}"))
        r = rng.random()
        guid = ("{0E8D1F4C-5B6A-4C3D-9E2F-1A2B3C4D5E6F}" if r < 0.7 else "nonsense" if r < 0.75
                else rng.choice([e.provider_id for e in cat.protocols]))
        if rng.random() < 0.3:    # what an earlier install of these entries left behind
            ok = outcome(install, f, entries, guid, ["64", "32"])
            if ok[0] == "ok":
                f = ok[1][0]
        for bits in (["64", "32"], ["32"]):
            exist_ok = rng.random() < 0.5
            got = outcome(install, f, entries, guid, bits, exist_ok=exist_ok)
            assert got == outcome(ref_install, f, entries, guid, bits, exist_ok=exist_ok)
            installed += got[0] == "ok" and bool(got[1][1])
            noop += got[0] == "ok" and not got[1][1]
    assert installed > 50 and noop > 5
